"""The worker writes its MIME bytes itself (app.outbox.mailer.message_bytes): parsed
back with the stdlib, they say what the stdlib's own EmailMessage would have said."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from app.outbox import mailer

SENDER = "Portail des droits <ne-pas-repondre@portal.example.org>"
SUBJECTS = [
    "Confirm your email address",
    "Vérifiez votre identité",
    "Votre demande DSR-2026-000042\u00a0: enregistrée",  # a no-break space stays one
    "Votre demande DSR-2026-000042 : vérifiez votre identité, à réception, "
    "en ligne ; à défaut d’une pièce d’identité, écrivez-nous",
    "Your request DSR-2026-000042: we need information from you before we can go on "
    "with it, please answer on your status page",
    "日本語の件名とémoji 🙂 mixed with a long tail of plain words to fold somewhere",
]
TEXT = "Bonjour Élodie,\n\nVotre demande est reçue : à bientôt.\n— Le portail\n"
LONG_TEXT = "Lien : https://portal.example.org/s/" + "x" * 120 + "\n" + "é" * 90 + "\n"
HTML = "<p>Bonjour <strong>Élodie</strong>, votre demande est reçue.</p>\n"


def parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def stdlib(subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = subject
    message["From"] = SENDER
    message["To"] = "elodie@example.fr"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return parsed(message.as_bytes())


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_headers_read_back_as_written_and_fold_at_78(subject, linesep):
    data = mailer.message_bytes(
        SENDER,
        "elodie@example.fr",
        mailer.Rendered(subject, TEXT, HTML),
        "<job-1@p.org>",
        linesep=linesep,
    )
    head = data.split((linesep * 2).encode(), 1)[0].decode("ascii")  # headers are ASCII
    assert all(len(line) <= 78 for line in head.split(linesep)), head
    message = parsed(data)
    assert message["Subject"] == subject
    assert message["From"] == SENDER
    assert message["To"] == "elodie@example.fr"
    assert message["Message-ID"] == "<job-1@p.org>"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    if linesep == "\r\n":
        assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only, on the wire
    if not subject.isascii():
        assert "=?utf-8?b?" in head


@pytest.mark.parametrize("text", [TEXT, LONG_TEXT, "plain ascii", "é"])
@pytest.mark.parametrize("linesep", ["\r\n", "\n"])
def test_bodies_read_back_as_the_stdlib_writes_them(text, linesep):
    """Short lines go 8bit (or 7bit), long ones quoted-printable; the content is the same."""
    subject = SUBJECTS[2]
    data = mailer.message_bytes(
        SENDER,
        "elodie@example.fr",
        mailer.Rendered(subject, text, HTML),
        "<m@p.org>",
        linesep=linesep,
    )
    ours, theirs = parsed(data), stdlib(subject, text, HTML)
    for kind in ("plain", "html"):
        mine, reference = ours.get_body((kind,)), theirs.get_body((kind,))
        assert mine is not None and reference is not None
        assert mine.get_content().splitlines() == reference.get_content().splitlines()
        assert mine.get_content_charset() == "utf-8"
    body = ours.get_body(("plain",))
    assert body is not None and body.get_content().splitlines() == text.splitlines()
    if text is LONG_TEXT:
        assert body["Content-Transfer-Encoding"] == "quoted-printable"
        assert all(len(line) <= 78 for line in data.split(linesep.encode()))


def test_a_non_ascii_sender_name_is_encoded_and_read_back():
    sender = "Portail santé – droits <dpo@portal.example.org>"
    data = mailer.message_bytes(
        sender, "a@example.fr", mailer.Rendered("S", "t", "<p>t</p>"), "<m@p>"
    )
    assert parsed(data)["From"] == sender
    assert data.split(b"\r\n\r\n", 1)[0].isascii()


def test_a_line_break_in_a_subject_adds_no_header():
    data = mailer.message_bytes(
        SENDER, "a@example.fr", mailer.Rendered("Hello\r\nBcc: x@evil.example", "t", "t"), "<m@p>"
    )
    message = parsed(data)
    assert message["Bcc"] is None and message["Subject"] == "Hello Bcc: x@evil.example"
    with pytest.raises(ValueError):
        mailer.message_bytes(
            SENDER, "a@example.fr\r\nBcc: x@evil.example", mailer.Rendered("S", "t", "t"), "<m@p>"
        )

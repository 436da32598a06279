"""The email registry: every email the code names is declared, and renders whole in both languages.

``app.outbox.registry`` is the one list of emails. These tests hold the rest
of the code to it: the names written in ``app/`` and in ``lifecycle``, the
three files of each email, and a render of each in French and in English that
fails on a missing part, an empty subject or English left in a French email.
"""

from __future__ import annotations

import ast
import re

import pytest

from app import lifecycle, tokens
from app.models import KINDS, StaffUser
from app.outbox import emails, mailer, registry
from app.outbox.registry import EMAILS, PARTS, Audience
from app.services import services_of
from tests.conftest import ROOT
from tests.outbox.samples import NOW, SAMPLES, job_for, no_identity

TEMPLATES = ROOT / "templates"
# Where a call names its email: the argument's position (queue_email(session, request, name)).
NAMING_CALLS = {"queue_email": 2, "email_values": 1}
# The places that compute an email's name instead of writing it, each checked below.
COMPUTED = {
    # change_status: the caller's choice, else lifecycle.email_for (every move tested).
    "app/lifecycle.py",
    # complete: f"completed_{request.kind}" (every kind tested).
    "app/fulfilment/__init__.py",
    # queue_email and email_values pass their caller's name on (checked at its call).
    "app/outbox/emails.py",
    # route_job: "in_review" when a request is acted on but its plan is not shown, else
    # lifecycle's choice (tests/identity/test_assurance.py, the objection at email level).
    "app/rules/plans.py",
}
# Words that give away English left in a French email (none is a French word).
ENGLISH = re.compile(
    r"\b(the|your|you|we|our|is|are|has|have|been|and|of|to|with|this|for|will|not|"
    r"hello|request|data|link)\b",
    re.IGNORECASE,
)


def _names_in_code() -> tuple[set[str], set[str]]:
    """The email names written in app/, and the files that compute one instead.

    A name is the template argument of ``queue_email`` / ``email_values``, a
    ``template=`` keyword (``change_status``) or the ``"template"`` of a job's
    payload, written as a literal or as a module constant (``reminders.TEMPLATE``).
    """
    names: set[str] = set()
    computed: set[str] = set()
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in NAMING_CALLS and len(node.args) > NAMING_CALLS[called]:
                    values.append(node.args[NAMING_CALLS[called]])
                if called != "render_template":
                    values += [kw.value for kw in node.keywords if kw.arg == "template"]
            elif isinstance(node, ast.Dict):
                values += [
                    value
                    for key, value in zip(node.keys, node.values, strict=True)
                    if isinstance(key, ast.Constant) and key.value == "template"
                ]
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    names.add(value.value)
                elif isinstance(value, ast.Name) and value.id in constants:
                    names.add(constants[value.id])
                else:
                    computed.add(path.relative_to(ROOT).as_posix())
    return names, computed


def _lifecycle_names() -> set[str]:
    """Every email a status change can send when its caller names none."""
    moves = {
        lifecycle.email_for(current, target)
        for current, targets in lifecycle.TRANSITIONS.items()
        for target in targets
    }
    moves.discard(None)  # a quiet move sends nothing (lifecycle.QUIET_MOVES)
    return moves | set(lifecycle.EMAIL_FOR.values()) | set(lifecycle.EMAIL_FOR_MOVE.values())


def test_every_email_the_code_names_is_registered():
    """Each name written in app/ is a registered email; only known places compute one."""
    names, computed = _names_in_code()
    # The scan sees the three ways of naming an email.
    assert {"verify", "package_ready", "recipient_notice", "staff_reminder"} <= names
    assert names - set(EMAILS) == set(), "emails named in app/ but not in the registry"
    assert computed == COMPUTED, (
        "a new place computes an email's name: check its names in this test, like the others"
    )


def test_lifecycle_and_fulfilment_send_registered_requester_emails():
    """Every status change and every completion sends a registered email to the requester."""
    completions = {f"completed_{kind}" for kind in KINDS}
    for name in _lifecycle_names() | completions:
        assert name in EMAILS, f"{name!r} is sent but not registered"
        assert EMAILS[name].audience is Audience.REQUESTER


def test_every_registered_email_is_sent_somewhere():
    """The registry holds no email that nothing sends."""
    names, _ = _names_in_code()
    sent = names | _lifecycle_names() | {f"completed_{kind}" for kind in KINDS}
    assert set(EMAILS) - sent == set()


def test_every_registered_email_has_its_three_files():
    """templates/email/<name>/ holds subject.txt, body.txt and body.html, and no stray folder."""
    missing = [
        email.template(part)
        for email in EMAILS.values()
        for part in PARTS
        if not (TEMPLATES / email.template(part)).is_file()
    ]
    assert not missing, f"missing email parts: {missing}"
    folder = TEMPLATES / "email"
    assert {p.name for p in folder.iterdir() if p.is_dir()} == set(EMAILS)
    assert {p.name for p in folder.iterdir() if p.is_file()} == {"base.html"}


def test_emails_to_requesters_carry_a_link_the_mailer_can_build():
    """A requester's email, and the notice to the person on file, carry a link of a known
    purpose; the others carry none."""
    for email in EMAILS.values():
        if email.audience in (Audience.REQUESTER, Audience.ON_FILE):
            assert email.link in tokens.SINGLE_USE and email.link in mailer.LINK_ENDPOINTS
        else:
            assert email.link is None


def test_queue_email_takes_registered_emails_to_the_requester_only(app):
    """Queueing an unknown email, a staff reminder or an Art. 19 notice is refused."""
    settings = services_of(app).mail
    for name in ("no_such_email", "staff_reminder", "recipient_notice"):
        with pytest.raises(ValueError, match=name):
            emails.email_values(1, name, NOW, settings)


def test_an_email_has_three_parts_only():
    """A registered email names its files under email/<name>/ and nothing else."""
    email = registry.get("verify")
    assert email.template("subject.txt") == "email/verify/subject.txt"
    with pytest.raises(ValueError):
        email.template("body.md")
    with pytest.raises(ValueError):
        registry.get("verify.txt")


def _english_in(text: str) -> list[str]:
    """English words left in a text, once tags, links and addresses are set aside."""
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"https?://\S+|\S+@\S+", " ", text)
    return sorted({word.lower() for word in ENGLISH.findall(text)})


def test_the_english_detector_sees_english():
    """The check below would catch an untranslated sentence (and not the French ones)."""
    assert _english_in("<p>Votre demande : nous avons effacé vos données</p>") == []
    assert _english_in('Bonjour, <a href="https://x.example/the">Your request</a>') == [
        "request",
        "your",
    ]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", sorted(EMAILS))
def test_every_registered_email_renders_whole_in_both_languages(app, session, name, lang):
    """Rendered for a request in ``lang``: a one-line subject, both bodies, no English in French.

    The requester's emails follow the request's language; staff and recipient
    emails are French whatever it is.
    """
    assert name in SAMPLES, f"add a sample of {name!r} to tests/outbox/samples.py"
    email = registry.get(name)
    outgoing = mailer.compose(app, session, job_for(app, session, SAMPLES[name], lang))
    assert outgoing is not None and "@" in outgoing.address
    rendered = outgoing.rendered
    assert rendered.subject.strip() and "\n" not in rendered.subject
    assert rendered.text.strip() and rendered.html.strip()
    in_french = lang == "fr" or email.audience is not Audience.REQUESTER
    written = "fr" if in_french else "en"
    assert f'<html lang="{written}">' in rendered.html
    assert f"<title>{rendered.subject}</title>" in rendered.html.replace("&#39;", "'")
    for text in (rendered.subject, rendered.text, rendered.html):
        no_identity(text)
        if in_french:
            assert _english_in(text) == [], f"English left in the French {name}: {text}"


def test_a_disabled_member_of_staff_gets_no_email(app, session):
    """The registry's audience leads to the staff account, which the mailer checks first."""
    job = job_for(app, session, SAMPLES["staff_reminder"], "fr")
    session.get(StaffUser, job.payload["staff_id"]).is_active = False
    assert mailer.compose(app, session, job) is None
    assert job.last_error == "not sent: the staff account is disabled"

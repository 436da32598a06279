"""The citizen's whole journey over a real SMTP conversation."""

from __future__ import annotations

import re

import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Request
from tests.conftest import (
    VALID_FILING,
    csrf_from,
    file_form,
    link_in,
    post_form,
    run_jobs,
    text_of,
)


def test_file_verify_follow_and_withdraw_over_smtp(smtp_app, smtp):
    """Filing sends a link over SMTP; confirming it receives the request; withdrawing emails."""
    client = smtp_app.test_client()
    address = VALID_FILING["email"]
    # Friday 30 January 2026, 10:00 in Paris: one month later is 28 February, a
    # Saturday, so the answer is due on Monday 2 March.
    with time_machine.travel("2026-01-30 09:00:00+00:00", tick=True):
        filed = file_form(client, VALID_FILING)
        assert filed.status_code == 303
        assert filed.headers["Location"].endswith("/request/sent")
        assert run_jobs(smtp_app) == 1

        [verification] = smtp.received.to(address)
        assert verification["Message-ID"]
        path = link_in(verification)
        assert path.startswith("/verify/")

        confirm_page = client.get(path)
        assert confirm_page.status_code == 200
        assert confirm_page.headers["Referrer-Policy"] == "no-referrer"
        confirmed = client.post(path, data={"csrf_token": csrf_from(confirm_page.data)})
        assert confirmed.status_code == 303
        assert confirmed.headers["Location"] == "/status"

        status = client.get("/status")
        page = status.get_data(as_text=True)
        reference = re.search(r"DSR-2026-[0-9A-HJKMNP-TV-Z]{6}", page)
        assert reference is not None
        assert "2 mars 2026" in page  # due date, in French by default
        assert "30 janvier 2026" in page  # received date

        # The acknowledgement, the routing, then the email saying what was found.
        assert run_jobs(smtp_app) == 3
        acknowledgement = smtp.received.to(address)[1]
        assert reference.group(0) in acknowledgement["Subject"]
        assert "2 mars 2026" in text_of(acknowledgement)
        status_path = link_in(acknowledgement)
        assert status_path.startswith("/s/")

        # Nobody on file has this address: before anything is said, proof of identity.
        found = smtp.received.to(address)[2]
        assert (
            found["Subject"] == f"Votre demande {reference.group(0)}\u00a0: prouvez votre identité"
        )

        withdrawal = post_form(client, "/status/withdraw", {"confirm": "y"})
        assert withdrawal.status_code == 303
        assert run_jobs(smtp_app) == 1
        withdrawn = smtp.received.to(address)[-1]
        assert reference.group(0) in withdrawn["Subject"]
        assert len(smtp.received.messages) == 4

    with smtp_app.app_context():
        request = db.session.scalar(select(Request))
        assert request is not None
        assert request.status == "withdrawn"
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == [
            "request.filed",
            "status.received",
            "plan.computed",
            "status.awaiting_identity",
            "clock.paused",
            "status.withdrawn",
        ]


def test_emails_carry_no_health_data_nor_free_text(smtp_app, smtp):
    """The free text, the social-security number and the birth date never appear in an email."""
    client = smtp_app.test_client()
    file_form(client, VALID_FILING)
    run_jobs(smtp_app)
    path = link_in(smtp.received.messages[0])
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_from(page.data)})
    run_jobs(smtp_app)
    assert len(smtp.received.messages) == 3  # verification, acknowledgement, what we found
    # The decoded parts and the subject: random headers (Message-ID, boundaries)
    # and signed links may hold any digits, so the birth date is looked for whole.
    secrets = ("Lyon", "255081416802538", "1980-07-14", "14/07/1980", "14 juillet 1980")
    for message in smtp.received.messages:
        texts = [str(message["Subject"])] + [
            str(part.get_content())
            for part in message.walk()
            if part.get_content_maintype() == "text"
        ]
        for secret in (*secrets, "Martin-Dupont", "Élodie"):
            assert all(secret not in text for text in texts), secret


def test_emails_follow_the_language_of_the_form(smtp_app, smtp):
    """A request filed in English gets its emails in English, one in French in French."""
    english = smtp_app.test_client()
    english.get("/?lang=en")
    file_form(english, {**VALID_FILING, "email": "jane@example.org"})
    file_form(smtp_app.test_client(), {**VALID_FILING, "email": "jeanne@example.fr"})
    run_jobs(smtp_app)
    [to_jane] = smtp.received.to("jane@example.org")
    [to_jeanne] = smtp.received.to("jeanne@example.fr")
    assert to_jane["Subject"] == "Confirm your email address to send your request"
    assert to_jeanne["Subject"] == "Confirmez votre adresse e-mail pour envoyer votre demande"
    assert '<html lang="en">' in to_jane.get_body(preferencelist=("html",)).get_content()


def test_same_answer_for_known_and_unknown_addresses(smtp_app, smtp):
    """Filing for an address seen before or never seen gives the same page, status and email."""
    seen = {**VALID_FILING, "email": "seen@example.fr"}
    file_form(smtp_app.test_client(), seen)
    answers = []
    for filing in (seen, {**VALID_FILING, "email": "never@example.fr"}):
        client = smtp_app.test_client()
        response = file_form(client, filing)
        page = client.get(response.headers["Location"])
        # The page repeats the address this browser typed, and nothing else about it.
        shown = page.data.replace(filing["email"].encode(), b"ADDRESS")
        answers.append((response.status_code, response.headers["Location"], shown))
    assert answers[0] == answers[1]
    run_jobs(smtp_app)
    latest_seen = smtp.received.to("seen@example.fr")[-1]
    [first_never] = smtp.received.to("never@example.fr")
    assert latest_seen["Subject"] == first_never["Subject"]

    def without_link(message):
        return re.sub(r"https://\S+", "LINK", text_of(message))

    assert without_link(latest_seen) == without_link(first_never)
    with smtp_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Request)) == 3

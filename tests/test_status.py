"""The requester's status page, withdrawal and the demo mailbox."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.extensions import db
from app.models import Request, utcnow
from tests.conftest import VALID_FILING, csrf_from, file_form, link_in, post_form, run_jobs


def _received(app, smtp, client):
    """File, confirm and let the worker route: the request ends in triage, 3 emails sent."""
    file_form(client, VALID_FILING)
    run_jobs(app)
    path = link_in(smtp.received.messages[-1])
    client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    run_jobs(app)


def test_the_status_page_shows_reference_right_dates_and_timeline(smtp_app, smtp):
    """Reference, right, status, received and due dates, and the timeline are shown."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    _received(smtp_app, smtp, client)
    page = client.get("/status").get_data(as_text=True)
    with smtp_app.app_context():
        request = db.session.scalar(select(Request))
    assert request.reference in page
    assert "Erasure of my data" in page
    assert "Request sent" in page and "Received" in page
    assert f"{request.due_on.day} {request.due_on:%B} {request.due_on.year}" in page


def test_withdrawing_needs_a_confirmation(smtp_app, smtp):
    """Without ticking the box the request stays open; with it, it is withdrawn once."""
    client = smtp_app.test_client()
    _received(smtp_app, smtp, client)
    unconfirmed = post_form(client, "/status/withdraw", {})
    assert unconfirmed.status_code == 422
    with smtp_app.app_context():
        assert db.session.scalar(select(Request.status)) == "awaiting_identity"
    done = post_form(client, "/status/withdraw", {"confirm": "y"})
    assert done.status_code == 303
    page = client.get("/status").get_data(as_text=True)
    assert "Retirée" in page
    assert client.get("/status/withdraw").status_code == 303  # nothing left to withdraw
    run_jobs(smtp_app)
    assert len(smtp.received.messages) == 4


def test_the_withdrawal_error_sits_above_the_box_not_in_its_column(smtp_app, smtp):
    """The message spans the form's width: it is outside the box's two-column grid."""
    client = smtp_app.test_client()
    _received(smtp_app, smtp, client)
    page = BeautifulSoup(post_form(client, "/status/withdraw", {}).data, "html.parser")
    error = page.select_one("#confirm-error")
    assert error is not None and error.find_parent(class_="choice") is None
    box = page.select_one("#confirm")
    assert box is not None and box.find_parent(class_="choice") is not None
    assert box["aria-describedby"] == "confirm-error"
    summary = page.select_one(".error-summary")
    assert summary is not None and summary.has_attr("autofocus")
    assert summary.select_one("a")["href"] == "#confirm"


def test_a_lost_status_link_can_be_asked_for_again(smtp_app, smtp):
    """Asking by address sends a fresh status link; the answer is the same for any address."""
    client = smtp_app.test_client()
    _received(smtp_app, smtp, client)
    with time_machine.travel(utcnow() + timedelta(minutes=6)):
        known = post_form(smtp_app.test_client(), "/status/link", {"email": VALID_FILING["email"]})
        unknown = post_form(smtp_app.test_client(), "/status/link", {"email": "nobody@example.fr"})
        assert known.status_code == unknown.status_code == 303
        assert known.headers["Location"] == unknown.headers["Location"]
        run_jobs(smtp_app)
        assert smtp.received.to("nobody@example.fr") == []
        latest = smtp.received.to(VALID_FILING["email"])[-1]
        assert "/s/" in link_in(latest) and len(smtp.received.messages) == 4
        fresh = smtp_app.test_client()
        assert fresh.get(link_in(latest)).status_code == 303
        assert fresh.get("/status").status_code == 200


def test_asking_again_and_again_sends_one_link_per_interval(smtp_app, smtp):
    """Many asks for one address within five minutes send a single status link."""
    _received(smtp_app, smtp, smtp_app.test_client())
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        for _ in range(4):
            answer = post_form(
                smtp_app.test_client(), "/status/link", {"email": VALID_FILING["email"]}
            )
            assert answer.status_code == 303
        run_jobs(smtp_app)
    # verify, acknowledgement, what we found, 1 link
    assert len(smtp.received.to(VALID_FILING["email"])) == 4


def test_a_link_asked_for_just_after_filing_is_sent(smtp_app, smtp):
    """The acknowledgement's own link does not stop an asked-for one for the newest request."""
    _received(smtp_app, smtp, smtp_app.test_client())
    before = len(smtp.received.to(VALID_FILING["email"]))
    asked = post_form(smtp_app.test_client(), "/status/link", {"email": VALID_FILING["email"]})
    assert asked.status_code == 303
    run_jobs(smtp_app)
    sent = smtp.received.to(VALID_FILING["email"])
    assert len(sent) == before + 1 and "/s/" in link_in(sent[-1])
    # Asked again at once: not sent twice, and the page says so.
    again = post_form(smtp_app.test_client(), "/status/link", {"email": VALID_FILING["email"]})
    run_jobs(smtp_app)
    assert len(smtp.received.to(VALID_FILING["email"])) == before + 1
    assert again.headers["Location"] == asked.headers["Location"]


def test_the_page_after_asking_for_a_link_says_what_happens(smtp_app):
    """Not the filing page's text: nothing to confirm, one link per 5 minutes, valid 400 days."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    answer = post_form(client, "/status/link", {"email": "nobody@example.fr"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/status/link/sent")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "press the button to confirm" not in page
    assert "24 hours" not in page
    assert "there is nothing more to confirm" in page
    assert "less than 5 minutes ago" in page
    assert "valid for 400 days" in page


def test_the_demo_mailbox_lists_and_shows_emails(make_app):
    """In demo mode the mailbox lists written emails and opens one; unknown names are 404."""
    app = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False)
    client = app.test_client()
    file_form(client, VALID_FILING)
    run_jobs(app)
    listing = client.get("/demo/mailbox")
    assert listing.status_code == 200
    names = [
        line
        for line in listing.get_data(as_text=True).split('"')
        if line.startswith("/demo/mailbox/")
    ]
    assert len(names) == 1
    message = client.get(names[0]).get_data(as_text=True)
    assert "/verify/" in message
    assert client.get("/demo/mailbox/..%2F..%2Fconfig").status_code == 404
    assert client.get("/demo/mailbox/nothing").status_code == 404


def test_the_demo_mailbox_dates_emails_in_the_pages_language_and_paris_time(make_app):
    """A Date header (RFC 2822, UTC) reads '1er décembre 2026 à 0 h 30' on a French page."""
    from email.message import EmailMessage
    from pathlib import Path

    app = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False)
    message = EmailMessage()
    message["Date"] = "Mon, 30 Nov 2026 23:30:00 +0000"
    message["To"] = "someone@example.org"
    message["Subject"] = "Un message"
    message.set_content("Bonjour")
    folder = Path(app.config["MAIL_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "one.eml").write_bytes(bytes(message))
    client = app.test_client()
    french = client.get("/demo/mailbox").get_data(as_text=True)
    assert "1er décembre 2026 à 0\u00a0h\u00a030" in french
    english = client.get("/demo/mailbox/one?lang=en").get_data(as_text=True)
    assert "1 December 2026 at 00:30" in english


def _status_link(smtp) -> str:
    """The status link of the latest email that carries one."""
    return next(
        link_in(m) for m in reversed(smtp.received.messages) if link_in(m).startswith("/s/")
    )


def test_the_status_page_is_asked_for_again_after_thirty_idle_minutes(smtp_app, smtp):
    """The 400-day link opens a short session: each use restarts its 30 minutes, then it ends."""
    client = smtp_app.test_client()
    start = utcnow()
    with time_machine.travel(start, tick=False):
        _received(smtp_app, smtp, client)
        with smtp_app.app_context():
            reference = db.session.scalar(select(Request.reference))
        assert client.get("/status").status_code == 200
    # Used every 29 minutes, the page stays open for longer than 30 minutes in all.
    for minutes in (29, 58):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.get("/status").status_code == 200
    with time_machine.travel(start + timedelta(minutes=58 + 31), tick=False):
        closed = client.get("/status")
        page = closed.get_data(as_text=True)
        assert closed.status_code == 403
        assert reference not in page and "Ce que nous avons trouvé" not in page
        assert "Pour votre sécurité, la page de votre demande se ferme après 30 minutes" in page
        # And it stays closed: the session is gone, not only refused once.
        assert client.get("/status").status_code == 403
        # The emailed link, still valid, opens a new session.
        assert client.get(_status_link(smtp)).status_code == 303
        assert client.get("/status").status_code == 200


def test_a_status_session_ends_after_twelve_hours_however_active(smtp_app, smtp):
    """Even used every 25 minutes, the page asks for the link again 12 hours after it opened."""
    client = smtp_app.test_client()
    start = utcnow()
    with time_machine.travel(start, tick=False):
        _received(smtp_app, smtp, client)
    answers = []
    for step in range(1, 31):
        with time_machine.travel(start + timedelta(minutes=25 * step), tick=False):
            answers.append(client.get("/status").status_code)
    # 25 x 28 = 700 minutes (11 h 40) still open; 25 x 29 = 725 minutes past 12 hours.
    assert answers[:28] == [200] * 28
    assert answers[28:] == [403, 403]


def test_a_timed_out_status_session_cannot_withdraw_or_answer(smtp_app, smtp):
    """After the idle time, the forms of the page change nothing: the link is asked for first."""
    client = smtp_app.test_client()
    start = utcnow()
    with time_machine.travel(start, tick=False):
        _received(smtp_app, smtp, client)
        token = csrf_from(client.get("/status/withdraw").data)
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        answer = client.post("/status/withdraw", data={"csrf_token": token, "confirm": "y"})
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/status"
    with smtp_app.app_context():
        assert db.session.scalar(select(Request.status)) == "awaiting_identity"

"""Verification and status links: single use, age limit, one purpose, GET consumes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.models import LinkToken, Request, utcnow
from tests.conftest import VALID_FILING, csrf_from, file_form, link_in, run_jobs


def _file_and_get_link(app, smtp, client=None):
    client = client or app.test_client()
    file_form(client, VALID_FILING)
    run_jobs(app)
    return link_in(smtp.received.messages[-1])


def _status(app):
    with app.app_context():
        return db.session.scalar(select(Request.status))


def test_opening_a_link_consumes_nothing(smtp_app, smtp):
    """A GET (as a mail scanner does) shows a button and leaves the link usable."""
    path = _file_and_get_link(smtp_app, smtp)
    client = smtp_app.test_client()
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200
        assert b'<form method="post"' in page.data
    assert _status(smtp_app) == "unverified"
    with smtp_app.app_context():
        assert db.session.scalar(select(LinkToken.used_at)) is None
    confirmed = client.post(path, data={"csrf_token": csrf_from(page.data)})
    assert confirmed.status_code == 303
    assert _status(smtp_app) == "received"


def test_a_used_link_is_refused_with_a_way_forward(smtp_app, smtp):
    """A second confirmation says the link was used and offers a new status link."""
    path = _file_and_get_link(smtp_app, smtp)
    client = smtp_app.test_client()
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_from(page.data)})
    again = client.get(path)
    assert again.status_code == 409
    assert b'action="/status/link"' in again.data
    second = client.post(path, data={"csrf_token": csrf_from(again.data)})
    assert second.status_code == 409
    run_jobs(smtp_app)
    subjects = [m["Subject"] for m in smtp.received.messages]
    # Verification, one acknowledgement, then what routing found: nothing twice.
    assert len(subjects) == 3
    assert len([s for s in subjects if s.endswith("a bien été reçue")]) == 1


def test_an_expired_link_offers_a_new_one(smtp_app, smtp):
    """After 24 hours the link is refused (410) and its page sends a fresh link."""
    path = _file_and_get_link(smtp_app, smtp)
    client = smtp_app.test_client()
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        expired = client.get(path)
        assert expired.status_code == 410
        assert b'action="/verify/resend"' in expired.data
        token = path.removeprefix("/verify/")
        resent = client.post(
            "/verify/resend", data={"csrf_token": csrf_from(expired.data), "token": token}
        )
        assert resent.status_code == 303
        again = client.post(
            "/verify/resend", data={"csrf_token": csrf_from(expired.data), "token": token}
        )
        assert again.status_code == 303
        run_jobs(smtp_app)
        assert len(smtp.received.messages) == 2  # one new link, however often asked
        fresh = link_in(smtp.received.messages[-1])
        assert fresh != path
        page = client.get(fresh)
        assert page.status_code == 200
        assert client.post(fresh, data={"csrf_token": csrf_from(page.data)}).status_code == 303
    assert _status(smtp_app) == "received"


def test_an_altered_link_is_invalid(smtp_app, smtp):
    """Changing one character of the link makes it invalid and changes nothing."""
    path = _file_and_get_link(smtp_app, smtp)
    altered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    client = smtp_app.test_client()
    response = client.get(altered)
    assert response.status_code == 400
    assert _status(smtp_app) == "unverified"
    assert client.get("/verify/not-even-a-token").status_code == 400


def test_a_link_of_another_purpose_opens_nothing(smtp_app, smtp):
    """A verification link does not open the status page, nor a status link verify."""
    path = _file_and_get_link(smtp_app, smtp)
    token = path.removeprefix("/verify/")
    client = smtp_app.test_client()
    assert client.get(f"/s/{token}").status_code == 400
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_from(page.data)})
    run_jobs(smtp_app)
    status_path = link_in(smtp.received.messages[-1])
    status_token = status_path.removeprefix("/s/")
    fresh = smtp_app.test_client()
    assert fresh.get(f"/verify/{status_token}").status_code == 400


def test_a_status_link_opens_the_page_without_leaving_the_token_in_the_url(smtp_app, smtp):
    """The status link redirects (303) to /status, which then works from the session."""
    path = _file_and_get_link(smtp_app, smtp)
    client = smtp_app.test_client()
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_from(page.data)})
    run_jobs(smtp_app)
    status_path = link_in(smtp.received.messages[-1])
    reader = smtp_app.test_client()
    assert reader.get("/status").status_code == 403
    opened = reader.get(status_path)
    assert opened.status_code == 303
    assert opened.headers["Location"] == "/status"
    assert reader.get("/status").status_code == 200
    # A status link can be opened again: it is not single-use.
    assert smtp_app.test_client().get(status_path).status_code == 303


def test_two_confirmations_at_once_give_one_success(smtp_app, smtp):
    """Two simultaneous POSTs of the same link: exactly one receives the request."""
    path = _file_and_get_link(smtp_app, smtp)
    clients = [smtp_app.test_client() for _ in range(2)]
    tokens = [csrf_from(c.get(path).data) for c in clients]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def confirm(client, token):
        barrier.wait()
        codes.append(client.post(path, data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [303, 409]
    run_jobs(smtp_app)
    acknowledgements = [m for m in smtp.received.messages if "reçue" in m["Subject"]]
    assert len(acknowledgements) == 1
    with smtp_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Request)) == 1

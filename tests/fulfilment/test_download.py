"""Downloading an access package: the emailed link, the date-of-birth check, the files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import time_machine
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import tokens
from app.extensions import db
from app.fulfilment import package_download
from app.models import AccessPackage, AuditEvent, LinkToken, Request, utcnow
from app.services import services_of
from tests.conftest import birth_parts, csrf_from, link_in, run_jobs
from tests.fulfilment.test_packages import CAMILLE, approve, fulfilled, mails, package_of
from tests.rules.test_routing import file_and_route, filing_for, persona

CAMILLE_BORN = "1978-05-14"


def download_link(smtp: Any, address: str = CAMILLE) -> str:
    ready = mails(smtp, address, "prêtes à être téléchargées")
    assert ready, [m["Subject"] for m in smtp.received.to(address)]
    return link_in(ready[-1])


def check(client: FlaskClient, link: str, born: str) -> Any:
    page = client.get(link)
    assert page.status_code == 200, page.status_code
    return client.post(link, data={"csrf_token": csrf_from(page.data), **birth_parts(born)})


def audit_actions(app: Flask, request_id: int) -> list[str]:
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.request_id == request_id)
        ).all()
        db.session.remove()
        return list(actions)


def test_opening_the_link_asks_the_birth_date_and_uses_nothing(smtp_app, smtp):
    """GET shows a CSRF-protected form, private headers; the link stays unused (mail scanners)."""
    fulfilled(smtp_app, smtp)
    link = download_link(smtp)
    client = smtp_app.test_client()
    for _ in range(2):
        page = client.get(link)
        assert page.status_code == 200
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"
        html = page.get_data(as_text=True)
        assert 'name="birth_date-day"' in html and csrf_from(html)
    with smtp_app.app_context():
        token = db.session.scalar(select(LinkToken).where(LinkToken.purpose == tokens.DOWNLOAD))
        assert token is not None and token.used_at is None
        db.session.remove()


def test_the_right_birth_date_gives_both_files_as_attachments(smtp_app, smtp):
    """303 to a URL without the token, then the HTML and JSON files with fixed headers."""
    request_id, _ = fulfilled(smtp_app, smtp)
    link = download_link(smtp)
    client = smtp_app.test_client()
    answer = check(client, link, CAMILLE_BORN)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/download"
    offer = client.get("/download")
    assert offer.status_code == 200
    assert "/download/file/html" in offer.get_data(as_text=True)
    reference = package_reference(smtp_app, request_id)

    html = client.get("/download/file/html")
    assert html.status_code == 200
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert html.headers["Content-Disposition"] == (
        f'attachment; filename="dossier-{reference}.html"'
    )
    assert html.headers["Cache-Control"] == "no-store"
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "&lt;script&gt;" in html.get_data(as_text=True)

    data = client.get("/download/file/json")
    assert data.status_code == 200
    assert data.headers["Content-Type"] == "application/json"
    assert data.headers["Content-Disposition"] == (
        f'attachment; filename="dossier-{reference}.json"'
    )
    assert data.headers["Cache-Control"] == "no-store"
    document = json.loads(data.data)
    assert document["reference"] == reference
    assert {e["fields"].get("person_id", 1) for e in document["records"]} == {1}

    package = package_of(smtp_app, request_id)
    assert package.downloaded_at is not None and package.failed_checks == 0
    actions = audit_actions(smtp_app, request_id)
    assert "package.unlocked" in actions and actions.count("package.downloaded") == 2
    with smtp_app.app_context():
        details = db.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "package.downloaded")
        ).all()
        assert {d["file"] for d in details} == {"html", "json"}
        db.session.remove()

    # The link works once: another browser is refused, this one goes back to its files.
    assert smtp_app.test_client().get(link).status_code == 409
    again = client.get(link)
    assert again.status_code == 303 and again.headers["Location"] == "/download"


def package_reference(app: Flask, request_id: int) -> str:
    with app.app_context():
        reference = db.session.get(Request, request_id).reference
        db.session.remove()
        return str(reference)


def test_wrong_birth_dates_block_the_link_after_the_allowed_attempts(make_app, smtp):
    """Each wrong date counts; at the limit the link is dead, even for the right date."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, DOWNLOAD_CHECK_ATTEMPTS=3)
    request_id, requester = fulfilled(app, smtp)
    link = download_link(smtp)
    client = app.test_client()
    for left in (2, 1):
        wrong = check(client, link, "1978-05-15")
        assert wrong.status_code == 422
        assert str(left) in wrong.get_data(as_text=True)
    blocked = check_blocked(client, link, "1978-05-15")
    assert blocked.status_code == 403
    assert app.config["CONTACT_EMAIL"] in blocked.get_data(as_text=True)
    # Right date, too late.
    assert client.get(link).status_code == 403
    assert package_of(app, request_id).failed_checks == 3
    assert client.get("/download/file/json").status_code == 403
    assert audit_actions(app, request_id).count("package.check_failed") == 3
    page = requester.get("/status").get_data(as_text=True)
    assert "package-title" in page and app.config["CONTACT_EMAIL"] in page


def check_blocked(client: FlaskClient, link: str, born: str) -> Any:
    page = client.get(link)
    return client.post(link, data={"csrf_token": csrf_from(page.data), **birth_parts(born)})


def test_a_badly_formed_date_is_not_counted(smtp_app, smtp):
    """An impossible date (31/02) is a form error naming the day and month, not a failed check."""
    request_id, _ = fulfilled(smtp_app, smtp)
    answer = check(smtp_app.test_client(), download_link(smtp), "1978-02-31")
    assert answer.status_code == 422
    assert "31/02/1978 n’existe pas" in answer.get_data(as_text=True)
    assert package_of(smtp_app, request_id).failed_checks == 0


def test_an_expired_link_is_refused_with_a_clear_page(smtp_app, smtp):
    """After 72 hours the link gives a 410 page that says what to do, never a trace."""
    fulfilled(smtp_app, smtp)
    link = download_link(smtp)
    with time_machine.travel(utcnow() + timedelta(hours=72, minutes=1)):
        page = smtp_app.test_client().get(link)
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert "Traceback" not in text and smtp_app.config["CONTACT_EMAIL"] in text


def test_a_deleted_package_is_gone_even_with_a_valid_link(smtp_app, smtp):
    """Once expire_packages has deleted the content, the page says the files are gone."""
    fulfilled(smtp_app, smtp)
    link = download_link(smtp)
    with smtp_app.app_context():
        db.session.execute(
            AccessPackage.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert package_download.expire_packages(db.session(), utcnow()) == 1
        db.session.commit()
        db.session.remove()
    assert smtp_app.test_client().get(link).status_code == 410


def test_a_status_link_does_not_open_a_download(smtp_app, smtp):
    """A token of another purpose (the status page's) is refused on /download."""
    fulfilled(smtp_app, smtp)
    status = [link_in(m) for m in smtp.received.to(CAMILLE) if "/s/" in link_in(m)]
    token = status[-1].removeprefix("/s/")
    page = smtp_app.test_client().get(f"/download/{token}")
    assert page.status_code == 400
    assert "Traceback" not in page.get_data(as_text=True)
    assert smtp_app.test_client().get("/download/not-a-token").status_code == 400


def test_a_link_opens_only_its_own_requests_package(smtp_app, smtp):
    """Camille's unlock never serves Marie's files; Marie's link wants Marie's birth date."""
    fulfilled(smtp_app, smtp)
    marie = persona("Marie")
    client_marie = smtp_app.test_client()
    marie_id = file_and_route(smtp_app, smtp, client_marie, filing_for(marie, "access"))
    approve(smtp_app, marie_id)
    run_jobs(smtp_app)
    browser = smtp_app.test_client()
    assert check(browser, download_link(smtp), CAMILLE_BORN).status_code == 303
    marie_link = download_link(smtp, marie.email)
    assert check(browser, marie_link, CAMILLE_BORN).status_code == 422
    assert package_of(smtp_app, marie_id).failed_checks == 1
    document = json.loads(browser.get("/download/file/json").data)
    assert {e["fields"].get("person_id", 1) for e in document["records"]} == {1}
    # A download link of a request that has no package opens nothing.
    with smtp_app.app_context():
        request_without = Request(
            kind="access",
            status="triage",
            first_name="A",
            last_name="B",
            birth_date=date(1990, 1, 1),
            email="nobody@example.org",
            email_normalized="nobody@example.org",
        )
        db.session.add(request_without)
        db.session.flush()
        _, value = tokens.create_link(
            db.session(), request_without.id, tokens.DOWNLOAD, utcnow(), 3600
        )
        db.session.commit()
        signed = services_of(smtp_app).signer.sign(value, tokens.DOWNLOAD)
        db.session.remove()
    assert smtp_app.test_client().get(f"/download/{signed}").status_code == 410


def test_files_need_an_unlocked_browser(smtp_app, smtp):
    """Without the date-of-birth check in this browser, no file; unknown file kinds are 404."""
    fulfilled(smtp_app, smtp)
    client = smtp_app.test_client()
    assert client.get("/download").status_code == 403
    assert client.get("/download/file/json").status_code == 403
    assert client.get("/download/file/exe").status_code == 404


def test_a_package_under_the_previous_key_still_downloads_after_rotation(make_app, smtp):
    """Encrypted with the old key, read with [new, old]: rotation loses nothing."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, DATA_ENCRYPTION_KEYS=[old])
    fulfilled(before, smtp)
    after = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, DATA_ENCRYPTION_KEYS=[new, old])
    client = after.test_client()
    assert check(client, download_link(smtp), CAMILLE_BORN).status_code == 303
    answer = client.get("/download/file/json")
    assert answer.status_code == 200
    assert json.loads(answer.data)["format"] == "access"


def test_for_someone_else_the_check_asks_the_requesters_own_birth_date(smtp_app, smtp):
    """'Your date of birth as you gave it': a guardian types theirs, not the person's."""
    request_id, _ = fulfilled(smtp_app, smtp)
    with smtp_app.app_context():
        request = db.session.get_one(Request, request_id)
        request.acts_as, request.relationship_proof = "guardian", "accepted"
        request.requester_encrypted = services_of(smtp_app).vault.encrypt(
            json.dumps({"first_name": "Paul", "last_name": "Lefèvre", "birth_date": "1950-09-02"})
        )
        db.session.commit()
        db.session.remove()
    link = download_link(smtp)
    client = smtp_app.test_client()
    refused = check(client, link, CAMILLE_BORN)
    assert refused.status_code == 422
    # The pages speak of the person's data, and of the requester's own date of birth.
    page = refused.get_data(as_text=True)
    assert "Pour protéger les données de santé de la personne que vous représentez" in page
    assert "vos données" not in page
    assert check(client, link, "1950-09-02").status_code == 303
    files = client.get("/download").get_data(as_text=True)
    assert "Les données sont prêtes" in files and "vos données" not in files

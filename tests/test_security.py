"""Headers, hosts and error pages that every response honours."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import VALID_FILING, file_form


def test_every_page_sends_the_security_headers(client):
    """CSP without third parties, nosniff, no framing, no referrer, no caching of pages."""
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    for part in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert part in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # test shape is not production


def test_pages_load_nothing_from_elsewhere(client):
    """The page references no script, font or style outside the portal."""
    html = client.get("/").get_data(as_text=True)
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html


def test_unknown_hosts_are_refused(make_app):
    """With TRUSTED_HOSTS set, a request for another Host header gets 400."""
    app = make_app(TRUSTED_HOSTS=["droits.example.fr"])
    client = app.test_client()
    assert client.get("/", headers={"Host": "droits.example.fr"}).status_code == 200
    assert client.get("/", headers={"Host": "evil.example.com"}).status_code == 400


def test_emailed_links_ignore_the_host_header(app):
    """A forged Host header on the form does not change the link that is emailed."""
    from email import message_from_bytes, policy
    from pathlib import Path

    from tests.conftest import run_jobs

    client = app.test_client()
    page = client.get("/", headers={"Host": "evil.example.com"})
    from tests.conftest import csrf_from, send_data

    checked = client.post(
        "/",
        data={**VALID_FILING, "csrf_token": csrf_from(page.data)},
        headers={"Host": "evil.example.com"},
    )
    client.post(
        "/request/send", data=send_data(checked.data), headers={"Host": "evil.example.com"}
    )
    run_jobs(app)
    [eml] = Path(app.config["MAIL_DIR"]).glob("*.eml")
    text = message_from_bytes(eml.read_bytes(), policy=policy.default).as_string()
    assert "evil.example.com" not in text
    assert "https://portal.example.org/verify/" in text


def test_an_unknown_page_is_a_clear_404(client):
    """A missing page says so in the visitor's language, without technical detail."""
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert "Cette page n’existe pas." in response.get_data(as_text=True)


def test_errors_answer_json_to_json_clients(client):
    """A client asking for JSON gets the error as JSON."""
    response = client.get("/nowhere", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == 404


def test_an_unexpected_error_shows_no_trace_and_saves_nothing(make_app, caplog):
    """A crash in a view gives a plain 500 page, rolls back, and logs no personal data."""
    app: Flask = make_app()

    @app.get("/boom")
    def boom():
        number = "".join(["2550814", "16802538"])  # kept out of the source line on purpose
        raise RuntimeError(f"Élodie Martin {number}")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "255081416802538" not in body
    assert "255081416802538" not in caplog.text
    assert "RuntimeError" in caplog.text


@pytest.mark.parametrize("path", ["/status", "/status/withdraw"])
def test_status_pages_need_a_link(client, path):
    """Without having opened a status link, the status pages reveal nothing."""
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 403
    assert b"DSR-" not in response.data


def test_the_demo_mailbox_does_not_exist_outside_the_demo(client):
    """The demo mailbox shows every email: it is registered in demo mode only."""
    assert client.get("/demo/mailbox").status_code == 404


def test_a_post_without_a_form_does_nothing(client):
    """Posting to the confirmation of a link without a CSRF token is refused."""
    file_form(client, VALID_FILING)
    assert client.post("/verify/whatever").status_code == 400

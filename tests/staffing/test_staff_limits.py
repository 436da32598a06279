"""Staff sign-in limits: per IP address and per account (docs/security.md, 10 per minute)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_from
from tests.staffkit import PASSWORD, add_staff


def attempt(client: FlaskClient, email: str, ip: str) -> Any:
    """One sign-in with a wrong code, sent from ``ip`` with a fresh CSRF token."""
    env = {"REMOTE_ADDR": ip}
    page = client.get("/staff/login", environ_base=env)
    data = {
        "email": email,
        "password": PASSWORD,
        "code": "000000",
        "csrf_token": csrf_from(page.data),
    }
    return client.post("/staff/login", data=data, environ_base=env)


def test_one_account_is_limited_across_addresses(app: Flask, client: FlaskClient) -> None:
    """Ten tries a minute on one account, however many IP addresses send them."""
    add_staff(app, "target@example.org", "agent")
    client.get("/?lang=en")
    for n in range(10):
        assert attempt(client, "target@example.org", f"198.51.100.{n + 1}").status_code == 401
    over = attempt(client, " Target@Example.org ", "198.51.100.99")
    assert over.status_code == 429
    assert "Too many attempts" in over.get_data(as_text=True)
    assert attempt(client, "other@example.org", "203.0.113.7").status_code == 401


def test_unknown_account_gets_the_same_answer(app: Flask, client: FlaskClient) -> None:
    """Over the limit, an unknown address gets the page a known one gets (no enumeration)."""
    add_staff(app, "known@example.org", "agent")
    answers = {}
    for email in ("known@example.org", "nobody@example.org"):
        for n in range(10):
            attempt(client, email, f"192.0.2.{n + 1}")
        answers[email] = attempt(client, email, "192.0.2.200")
    known, unknown = answers["known@example.org"], answers["nobody@example.org"]
    assert known.status_code == unknown.status_code == 429
    # Each page quotes its own request's id, random and the same for both kinds of address.
    known_page, unknown_page = (
        re.sub(r'<code class="request-id">\w+</code>', "", page.get_data(as_text=True))
        for page in (known, unknown)
    )
    assert known_page == unknown_page


def test_one_address_is_still_limited(app: Flask, client: FlaskClient) -> None:
    """Ten tries a minute from one IP address, whatever accounts they aim at."""
    for n in range(10):
        assert attempt(client, f"guess{n}@example.org", "198.51.100.1").status_code == 401
    assert attempt(client, "guess10@example.org", "198.51.100.1").status_code == 429
    assert attempt(client, "guess11@example.org", "198.51.100.2").status_code == 401

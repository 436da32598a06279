"""Every failed staff sign-in is one audit event, whatever the reason, without the address.

The event names the account when the typed address is one, and otherwise a
keyed digest of the address: failures against one address can be counted,
but the audit never holds what was typed.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, utcnow
from app.staffing import accounts
from tests.conftest import csrf_from
from tests.staffkit import PASSWORD, add_staff

EMAIL = "dpo@example.org"


def attempt(app: Flask, data: dict[str, str], ip: str = "192.0.2.1") -> Any:
    client = app.test_client()
    env = {"REMOTE_ADDR": ip}
    token = csrf_from(client.get("/staff/login", environ_base=env).data)
    return client.post("/staff/login", data={"csrf_token": token, **data}, environ_base=env)


def failures(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "staff.login_failed")
            .order_by(AuditEvent.id)
        ).all()
        found = [{"actor": row.actor, **row.details} for row in rows]
        db.session.remove()
    return found


def code_of(secret: str) -> str:
    return pyotp.TOTP(secret).now()


# (what is sent, the answer, the reason, whether the account is named)
CASES = {
    "unknown address": ({"email": "nobody@example.org"}, 401, "unknown_user", False),
    "wrong password": ({"password": "not the password at all"}, 401, "wrong_password", True),
    "wrong code": ({"code": "000000"}, 401, "wrong_code", True),
    "disabled": ({}, 401, "disabled", True),
    "empty password": ({"password": ""}, 422, "bad_input", True),
    "no address": ({"email": ""}, 422, "bad_input", False),
    "NUL in the address": ({"email": "dpo@exam\x00ple.org"}, 400, "bad_input", False),
    "NUL in the password": ({"password": "correct\x00horse"}, 400, "bad_input", True),
    "ESC in the code": ({"code": "12\x1b34"}, 400, "bad_input", True),
}


@pytest.mark.parametrize("case", CASES)
def test_a_failed_sign_in_is_always_audited(app: Flask, case: str) -> None:
    changes, status, reason, named = CASES[case]
    account = add_staff(app, EMAIL, "dpo")
    if case == "disabled":
        with app.app_context():
            accounts.disable(db.session(), EMAIL, utcnow())
            db.session.commit()
            db.session.remove()
    data = {"email": EMAIL, "password": PASSWORD, "code": code_of(account.secret), **changes}
    assert attempt(app, data).status_code == status
    [event] = failures(app)
    assert event["reason"] == reason
    if named:
        assert event["staff_id"] == account.id and "address" not in event
    elif data["email"]:
        assert "staff_id" not in event and len(event["address"]) == 32
    else:
        assert "staff_id" not in event and "address" not in event
    assert "example" not in str(event) and "nobody" not in str(event)


def test_the_digest_stands_for_one_address_and_needs_the_key(make_app: Any) -> None:
    """The same address gives the same digest, however typed; not a plain hash of it."""
    app = make_app()
    for typed in ("nobody@example.org", " Nobody@Example.ORG "):
        attempt(app, {"email": typed, "password": PASSWORD, "code": "123456"})
    attempt(app, {"email": "somebody@example.org", "password": PASSWORD, "code": "123456"})
    first, again, other = (event["address"] for event in failures(app))
    assert first == again != other
    plain = hashlib.sha256(b"nobody@example.org").hexdigest()
    assert first not in plain
    assert accounts.address_digest("nobody@example.org", b"another key") != first


def test_sign_ins_refused_for_their_input_still_count_against_the_limit(app: Flask) -> None:
    """Audited refusals are rate-limited like any sign-in, so they cannot flood the audit."""
    data = {"email": "dpo@exa\x00mple.org", "password": PASSWORD, "code": "123456"}
    for _ in range(10):
        assert attempt(app, data, ip="198.51.100.9").status_code == 400
    assert attempt(app, data, ip="198.51.100.9").status_code == 429
    assert len(failures(app)) == 10


def test_a_good_sign_in_after_failures_still_works(app: Flask) -> None:
    account = add_staff(app, EMAIL, "dpo")
    attempt(app, {"email": EMAIL, "password": "", "code": ""})
    previous = pyotp.TOTP(account.secret).at(utcnow() - timedelta(seconds=30))
    assert previous  # the account was enrolled with the previous step's code
    answer = attempt(app, {"email": EMAIL, "password": PASSWORD, "code": code_of(account.secret)})
    assert answer.status_code == 303

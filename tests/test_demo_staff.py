"""The demo's staff accounts and requests: `flask staff demo`, `staff code`, `demo-requests`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import func, select

from app.cli.staff import DEMO_STAFF
from app.deadlines import receipt_date
from app.extensions import db
from app.lifecycle import CLOSED
from app.models import Job, Request, StaffUser, utcnow
from app.staffing import accounts
from tests.conftest import post_form

ROW = re.compile(r"^\s+(agent|dpo|admin)\s+(\S+@demo\.example)\s+(\S+)\s+((?:[A-Z2-7]{4} ?)+)$")


def run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def table(output: str) -> dict[str, tuple[str, str, str]]:
    """The printed table: role -> (email, password, secret without spaces)."""
    rows = {}
    for line in output.splitlines():
        if match := ROW.match(line):
            role, email, password, secret = match.groups()
            rows[role] = (email, password, secret.replace(" ", ""))
    return rows


def staff_rows(app: Flask) -> list[StaffUser]:
    with app.app_context():
        rows = list(db.session.scalars(select(StaffUser).order_by(StaffUser.email)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_demo_creates_one_enrolled_account_per_role(app: Flask) -> None:
    """Three active, enrolled accounts, one per role, printed with password and secret."""
    code, output = run(app, "staff", "demo")
    assert code == 0, output
    users = staff_rows(app)
    assert sorted(u.role for u in users) == ["admin", "agent", "dpo"]
    assert all(u.is_active and u.password_hash and u.enrolment_token_hash is None for u in users)
    printed = table(output)
    assert {role: row[0] for role, row in printed.items()} == {r: e for r, e, _ in DEMO_STAFF}
    assert all(len(row[1]) >= accounts.MIN_PASSWORD for row in printed.values())
    assert "otpauth://totp/" in output
    assert "/staff/login" in output
    assert "staff code --email" in output


def test_demo_is_idempotent(app: Flask) -> None:
    """A second run creates nothing and prints the same secrets."""
    first = run(app, "staff", "demo")[1]
    ids = [u.id for u in staff_rows(app)]
    code, second = run(app, "staff", "demo")
    assert code == 0, second
    assert [u.id for u in staff_rows(app)] == ids
    assert table(second) == table(first)
    assert "created" not in second


def test_demo_refuses_in_production(app: Flask) -> None:
    """Accounts with published secrets never exist in production."""
    app.config["PORTAL_ENV"] = "production"
    for args in (("staff", "demo"), ("staff", "code", "--email", "agent@demo.example")):
        code, output = run(app, *args)
        assert code == 1
        assert "demo only" in output
    assert staff_rows(app) == []


def test_printed_password_and_secret_sign_in(app: Flask) -> None:
    """What the table prints is enough to sign in through the real login page."""
    printed = table(run(app, "staff", "demo")[1])
    email, password, secret = printed["agent"]
    client = app.test_client()
    answer = post_form(
        client,
        "/staff/login",
        {"email": email, "password": password, "code": pyotp.TOTP(secret).now()},
    )
    assert answer.status_code == 303, answer.data[:300]
    assert client.get("/staff/").status_code == 200


def test_code_command_prints_the_current_code(app: Flask) -> None:
    """`flask staff code` gives the code an authenticator app would show now."""
    secret = table(run(app, "staff", "demo")[1])["dpo"][2]
    code, output = run(app, "staff", "code", "--email", "DPO@demo.example")
    assert code == 0, output
    now = pyotp.TOTP(secret)
    assert output.splitlines()[0] in {now.now(), now.at(utcnow() - timedelta(seconds=30))}
    assert run(app, "staff", "code", "--email", "nobody@demo.example")[0] == 1


def test_demo_resets_a_secret_the_key_no_longer_opens(make_app: Any, app: Flask) -> None:
    """After the data key changed, the account gets a new secret that signs in, and says so."""
    old = table(run(app, "staff", "demo")[1])["admin"][2]
    rekeyed = make_app(DATA_ENCRYPTION_KEYS=[Fernet.generate_key().decode()])
    code, output = run(rekeyed, "staff", "demo")
    assert code == 0, output
    assert "TOTP secret reset" in output
    email, password, secret = table(output)["admin"]
    assert secret != old
    client = rekeyed.test_client()
    answer = post_form(
        client,
        "/staff/login",
        {"email": email, "password": password, "code": pyotp.TOTP(secret).now()},
    )
    assert answer.status_code == 303, answer.data[:300]


def requests_of(app: Flask) -> list[Request]:
    with app.app_context():
        rows = list(db.session.scalars(select(Request).order_by(Request.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_demo_requests_fill_the_queue(app: Flask) -> None:
    """About twenty verified, routed, open requests of every right, due on varied dates."""
    code, output = run(app, "demo-requests")
    assert code == 0, output
    rows = requests_of(app)
    assert 18 <= len(rows) <= 25
    assert all(r.reference and r.status not in CLOSED for r in rows)
    assert {r.status for r in rows} <= {"triage", "identity_review", "awaiting_identity"}
    assert "identity_review" in {r.status for r in rows}
    # Filed from the addresses on file, most reach contact_match; those without one wait.
    assert "contact_match" in {r.assurance for r in rows}
    assert all(
        r.status != "triage" or r.assurance != "email" for r in rows if r.kind != "objection"
    )
    assert {r.kind for r in rows} == {
        "access",
        "portability",
        "erasure",
        "objection",
        "rectification",
    }
    today = receipt_date(utcnow())
    dues = [r.due_on for r in rows if r.due_on is not None]
    assert len(dues) == len(rows)
    assert any(due < today for due in dues), "some overdue"
    assert any(today <= due <= today + timedelta(days=7) for due in dues), "some due soon"
    assert any(due > today + timedelta(days=20) for due in dues), "some fresh"
    with app.app_context():
        pending = db.session.scalar(
            select(func.count()).select_from(Job).where(Job.state != "done")
        )
        db.session.remove()
    assert pending == 0, "no email of a demo request is left to send"


def test_demo_requests_run_once(app: Flask) -> None:
    """A second run says so and files nothing."""
    run(app, "demo-requests")
    before = len(requests_of(app))
    code, output = run(app, "demo-requests")
    assert code == 0
    assert "already" in output
    assert len(requests_of(app)) == before


def test_demo_requests_refuse_in_production(app: Flask) -> None:
    """No fake request is ever filed in production."""
    app.config["PORTAL_ENV"] = "production"
    code, output = run(app, "demo-requests")
    assert code == 1
    assert "demo only" in output
    assert requests_of(app) == []

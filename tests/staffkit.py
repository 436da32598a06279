"""Staff accounts for tests that are about something else than signing in.

``add_staff`` creates and enrols an account through ``app.staffing.accounts`` (no
enrolment page); ``sign_in`` signs a test client in through the real login
page. Tests of sign-in itself live in test_staff_accounts.py.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from app.extensions import db
from app.models import Request, StaffUser, utcnow
from app.services import services_of
from app.staffing import accounts
from tests.conftest import post_form

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    secret: str

    @property
    def actor(self) -> str:
        return f"staff:{self.id}"


def add_staff(app: Flask, email: str, role: str) -> Account:
    """An enrolled, active account with ``PASSWORD`` and a known TOTP secret."""
    vault = services_of(app).vault
    with app.app_context():
        session = db.session()
        now = utcnow()
        user, token = accounts.create_staff(session, email, role, vault, now)
        secret = accounts.totp_secret(user, vault)
        # A code of the previous time step, so that signing in now is not a reuse.
        code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
        accounts.enrol(session, token, PASSWORD, code, vault, now)
        session.commit()
        account = Account(user.id, user.email, role, secret)
        db.session.remove()
    return account


def sign_in(app: Flask, client: FlaskClient, account: Account) -> None:
    """Sign ``client`` in as ``account`` through /staff/login; asserts it worked."""
    with app.app_context():
        # Each test sign-in may fall in the time step of the previous one.
        db.session.execute(
            update(StaffUser).where(StaffUser.id == account.id).values(totp_last_step=None)
        )
        db.session.commit()
        db.session.remove()
    answer = post_form(
        client,
        "/staff/login",
        {"email": account.email, "password": PASSWORD, "code": pyotp.TOTP(account.secret).now()},
    )
    assert answer.status_code == 303, answer.data[:500]


def staff_client(app: Flask, email: str, role: str) -> tuple[FlaskClient, Account]:
    """A new account and a test client signed in as it."""
    account = add_staff(app, email, role)
    client = app.test_client()
    sign_in(app, client, account)
    return client, account


def case_held_by(app: Flask, holder: Account, kind: str = "rectification") -> str:
    """A verified request in review, held by ``holder``; its reference."""
    now = utcnow()
    with app.app_context():
        case = Request(
            reference=f"DSR-2026-{secrets.token_hex(3).upper()}",
            kind=kind,
            status="in_review",
            locale="fr",
            first_name="Jeanne",
            last_name="Essai",
            birth_date=date(1970, 1, 2),
            email="jeanne.essai@example.org",
            email_normalized="jeanne.essai@example.org",
            created_at=now,
            verified_at=now,
            received_on=now.date(),
            due_on=now.date() + timedelta(days=30),
            assignee_id=holder.id,
            version=1,
        )
        db.session.add(case)
        db.session.commit()
        reference = str(case.reference)
        db.session.remove()
    return reference

"""Staff sign-in and enrolment limits, hit by 16 people at once.

A TOTP code is accepted once, an enrolment link sets one password, and every
session-ending bump of an account's session version counts. The first two go
through gunicorn with three workers; the third is a domain function, run from
16 threads with a connection each. Claims ("of many people claiming a case at
once, exactly one wins") are tested in tests/casework/test_cases.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, StaffUser, utcnow
from app.services import services_of
from app.staffing import accounts
from tests.concurrency.conftest import CROWD, Server, Visitor, at_once
from tests.staffkit import PASSWORD, add_staff

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def actions(app: Flask, action: str) -> list[Any]:
    with app.app_context():
        details = list(
            db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == action))
        )
        db.session.remove()
        return details


def test_one_code_at_sixteen_sign_ins_at_once_opens_one_session(
    scene: Flask, server: Server
) -> None:
    """A TOTP code is accepted once: 16 sign-ins with it at once, one session, 15 refusals."""
    account = add_staff(scene, "agent@example.org", "agent")
    code = pyotp.TOTP(account.secret).now()
    answers = at_once(
        CROWD,
        lambda i: (v := Visitor(server), v.csrf("/staff/login")),
        lambda i, ready: ready[0].post(
            "/staff/login",
            {"csrf_token": ready[1], "email": account.email, "password": PASSWORD, "code": code},
        ),
    )
    assert Counter(a.status for a in answers) == {303: 1, 401: CROWD - 1}, server.tail()
    assert len(actions(scene, "staff.login")) == 1
    refused = actions(scene, "staff.login_failed")
    assert [d["reason"] for d in refused] == ["code_reused"] * (CROWD - 1)


def test_sixteen_enrolments_with_one_link_at_once_set_one_password(
    scene: Flask, server: Server
) -> None:
    """An enrolment link is single use: one password set, the 15 others refused."""
    vault = services_of(scene).vault
    with scene.app_context():
        user, token = accounts.create_staff(
            db.session(), "new@example.org", "agent", vault, utcnow()
        )
        secret = accounts.totp_secret(user, vault)
        db.session.commit()
        user_id = user.id
        db.session.remove()
    path = f"/staff/enrol/{token}"
    code = pyotp.TOTP(secret).now()

    def enrol(i: int, ready: tuple[Visitor, str]) -> Any:
        password = f"the password of person {i:02d}"
        fields = {"password": password, "confirm": password, "code": code}
        return ready[0].post(path, {"csrf_token": ready[1], **fields})

    answers = at_once(CROWD, lambda i: (v := Visitor(server), v.csrf(path)), enrol)
    assert Counter(a.status for a in answers) == {303: 1, 404: CROWD - 1}, server.tail()
    winner = next(i for i, a in enumerate(answers) if a.status == 303)
    with scene.app_context():
        stored = db.session.get_one(StaffUser, user_id)
        assert stored.enrolment_token_hash is None and stored.password_hash is not None
        assert accounts.HASHER.verify(stored.password_hash, f"the password of person {winner:02d}")
        db.session.remove()
    assert len(actions(scene, "staff.enrolled")) == 1


def test_sixteen_sign_outs_at_once_end_sessions_sixteen_times(scene: Flask) -> None:
    """Each bump of the session version counts: none is lost to a simultaneous one."""
    account = add_staff(scene, "agent@example.org", "agent")
    engine = create_engine(scene.config["SQLALCHEMY_DATABASE_URI"], pool_size=CROWD)
    barrier = threading.Barrier(CROWD, timeout=60)
    errors: list[BaseException] = []

    def sign_out() -> None:
        try:
            with Session(engine) as session:
                user = session.get_one(StaffUser, account.id)
                barrier.wait()
                accounts.sign_out(session, user, utcnow())
                session.commit()
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=sign_out) for _ in range(CROWD)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert not errors, errors
    with scene.app_context():
        version = db.session.scalar(
            select(StaffUser.session_version).where(StaffUser.id == account.id)
        )
        logouts = db.session.scalar(
            select(func.count()).where(AuditEvent.action == "staff.logout")
        )
        db.session.remove()
    assert logouts == CROWD
    assert version == 1 + CROWD

"""Staff decisions taken once, by 16 people (or 16 tabs) at the same instant.

An approval starts one fulfilment, an extension is granted once. Both rest on
the version column (``lifecycle.change_status`` and ``touch`` are conditional
UPDATEs), and were atomic before issue 13; these tests keep them so. Each
thread has its own connection, as 16 web workers would; claims are tested the
same way in tests/casework/test_cases.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app import fulfilment
from app.casework import clock, decisions
from app.extensions import db
from app.models import AuditEvent, Job, Request, StaffUser, utcnow
from app.outbox import jobs
from app.services import services_of
from tests.casework.test_cases import act, case_of
from tests.concurrency.conftest import CROWD, at_once
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import add_staff, staff_client

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def in_review(app: Flask, smtp: Any) -> tuple[int, str, Any, Any]:
    """Camille's erasure claimed by an agent: request id, reference, agent's client, account."""
    request_id = file_and_route(app, smtp, app.test_client(), filing_for(persona("Camille")))
    reference = case_of(app, request_id).reference
    assert reference
    agent, account = staff_client(app, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    return request_id, reference, agent, account


def race(
    app: Flask, request_id: int, staff_ids: list[int], decide: Callable[..., Any]
) -> Counter[str]:
    """``decide(session, request, staff, version)`` by each of ``staff_ids`` at once."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=len(staff_ids))

    def prepare(i: int) -> tuple[Session, Request, StaffUser]:
        session = Session(engine)
        request = session.get_one(Request, request_id)
        return session, request, session.get_one(StaffUser, staff_ids[i])

    def run(i: int, ready: tuple[Session, Request, StaffUser]) -> str:
        session, request, staff = ready
        with session:
            try:
                decide(session, request, staff, request.version)
                session.commit()
                return "won"
            except Exception as error:  # StaleRequest expected for all but one
                session.rollback()
                return type(error).__name__

    try:
        return Counter(at_once(len(staff_ids), prepare, run))
    finally:
        engine.dispose()


def count(app: Flask, statement: Any) -> Any:
    with app.app_context():
        value = db.session.scalar(statement)
        db.session.remove()
        return value


def test_sixteen_dpos_approving_at_once_start_one_erasure(smtp_app: Flask, smtp: Any) -> None:
    """A prepared erasure approved by 16 DPOs at once: one approval, one fulfilment job."""
    request_id, reference, agent, _ = in_review(smtp_app, smtp)
    assert act(agent, reference, "prepare-approval").status_code == 303
    dpos = [add_staff(smtp_app, f"dpo{i}@example.org", "dpo").id for i in range(CROWD)]
    mail = services_of(smtp_app).mail
    outcomes = race(
        smtp_app,
        request_id,
        dpos,
        lambda session, request, staff, version: decisions.approve(
            session,
            request,
            staff,
            version=version,
            now=utcnow(),
            mail=mail,
            assurance=services_of(smtp_app).assurance,
            catalogue=services_of(smtp_app).catalogue,
        ),
    )
    assert outcomes == {"won": 1, "StaleRequest": CROWD - 1}
    assert count(smtp_app, select(func.count()).where(AuditEvent.action == "status.approved")) == 1
    assert count(smtp_app, select(func.count()).where(Job.kind == fulfilment.ERASE)) == 1


def test_sixteen_extensions_at_once_are_granted_once(smtp_app: Flask, smtp: Any) -> None:
    """The holder presses "extend" in 16 tabs at once: one extension, one email."""
    request_id, _, _, agent = in_review(smtp_app, smtp)
    mail = services_of(smtp_app).mail
    outcomes = race(
        smtp_app,
        request_id,
        [agent.id] * CROWD,
        lambda session, request, staff, version: clock.extend(
            session, request, staff, "complexity", version=version, now=utcnow(), mail=mail
        ),
    )
    assert outcomes == {"won": 1, "StaleRequest": CROWD - 1}
    assert count(smtp_app, select(func.count()).where(AuditEvent.action == "case.extended")) == 1
    with smtp_app.app_context():
        payloads = db.session.scalars(select(Job.payload).where(Job.kind == jobs.SEND_EMAIL))
        told = [p for p in payloads if p["template"] == "extended"]
        db.session.remove()
    assert len(told) == 1

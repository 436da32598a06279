"""The requester's limits, hit by 16 people at once through gunicorn with three workers.

Each test names one "at most once" or "at most N" rule of docs/security.md and
sends the requests that would break it at the same instant. The first two
broke on PostgreSQL before issue 13 (a count read, then a write); the others
were already atomic and are here so that they stay so.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app import tokens
from app.extensions import db
from app.models import AccessPackage, AuditEvent, CaseNote, Job, LinkToken, Request, utcnow
from tests.casework.test_cases import act
from tests.concurrency.conftest import CROWD, Server, Visitor, at_once, slow_writes
from tests.conftest import VALID_FILING, birth_parts, file_form, link_in, run_jobs, send_data
from tests.fulfilment.test_download import CAMILLE_BORN, download_link
from tests.fulfilment.test_packages import CAMILLE, fulfilled
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def scalar(app: Flask, statement: Any) -> Any:
    with app.app_context():
        value = db.session.scalar(statement)
        db.session.remove()
        return value


def age_links(app: Flask, minutes: int = 10) -> None:
    """Every link was sent ``minutes`` ago: past the resend interval."""
    with app.app_context():
        db.session.execute(
            update(LinkToken).values(created_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()
        db.session.remove()


def statuses(answers: list[Any]) -> Counter[int]:
    return Counter(answer.status for answer in answers)


def checked(visitor: Visitor) -> dict[str, str]:
    """Fill in the form and reach its check page: what its "Send" button sends."""
    page = visitor.post("/", {**VALID_FILING, "csrf_token": visitor.csrf("/")})
    assert page.status == 200, page.status
    return send_data(page.body)


def test_sixteen_filings_for_one_address_at_once_store_and_mail_at_most_five(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """FILINGS_PER_ADDRESS_PER_HOUR=5: of 16 simultaneous filings, 5 are stored and mailed."""
    address = VALID_FILING["email"]
    with slow_writes(scene, "requests", "INSERT"):
        answers = at_once(
            CROWD,
            lambda i: (visitor := Visitor(server), checked(visitor)),
            lambda i, ready: ready[0].post("/request/send", ready[1]),
        )
    assert statuses(answers) == {303: CROWD}, server.tail()  # the same answer for all
    filed = select(func.count()).select_from(Request).where(Request.email_normalized == address)
    assert scalar(scene, filed) == 5
    assert scalar(scene, select(func.count()).select_from(Job)) == 5
    run_jobs(scene)
    assert len(smtp.received.to(address)) == 5


def test_sixteen_wrong_birth_dates_at_once_are_compared_at_most_five_times(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """DOWNLOAD_CHECK_ATTEMPTS=5: 16 wrong dates at once, 5 compared, then the link is dead."""
    request_id, _ = fulfilled(scene, smtp)
    link = download_link(smtp)

    def guess(i: int, ready: tuple[Visitor, str]) -> Any:
        visitor, csrf = ready
        return visitor.post(link, {"csrf_token": csrf, **birth_parts(f"1990-01-{i + 1:02d}")})

    with slow_writes(scene, "access_packages", "UPDATE"):
        answers = at_once(CROWD, lambda i: (v := Visitor(server), v.csrf(link)), guess)
    # Four "try again", then the fifth wrong date locks the link for it and everyone after.
    assert statuses(answers) == {422: 4, 403: CROWD - 4}, server.tail()
    failed = select(AccessPackage.failed_checks).where(AccessPackage.request_id == request_id)
    assert scalar(scene, failed) == 5
    compared = select(func.count()).where(AuditEvent.action == "package.check_failed")
    assert scalar(scene, compared) == 5
    late = Visitor(server)
    assert late.get(link).status == 403
    assert scalar(scene, select(func.count()).where(AuditEvent.action == "package.unlocked")) == 0


def test_sixteen_right_birth_dates_at_once_unlock_the_package_once(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """A download link is single use: 16 right dates at once, one unlock, 15 "used"."""
    fulfilled(scene, smtp)
    link = download_link(smtp)
    answers = at_once(
        CROWD,
        lambda i: (v := Visitor(server), v.csrf(link)),
        lambda i, ready: ready[0].post(
            link, {"csrf_token": ready[1], **birth_parts(CAMILLE_BORN)}
        ),
    )
    assert statuses(answers) == {303: 1, 409: CROWD - 1}, server.tail()
    unlocked = select(func.count()).where(AuditEvent.action == "package.unlocked")
    assert scalar(scene, unlocked) == 1


def test_sixteen_confirmations_of_one_link_at_once_give_one_receipt(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """A verification link is single use: one request received, one acknowledgement."""
    file_form(scene.test_client(), VALID_FILING)
    run_jobs(scene)
    path = link_in(smtp.received.to(VALID_FILING["email"])[-1])
    answers = at_once(
        CROWD,
        lambda i: (v := Visitor(server), v.csrf(path)),
        lambda i, ready: ready[0].post(path, {"csrf_token": ready[1]}),
    )
    assert statuses(answers) == {303: 1, 409: CROWD - 1}, server.tail()
    received = select(func.count()).where(AuditEvent.action == "status.received")
    assert scalar(scene, received) == 1
    assert scalar(scene, select(func.count(Request.reference))) == 1


def test_sixteen_resends_at_once_send_one_new_verification_link(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """RESEND_INTERVAL: one new verification link per request every 5 minutes, whoever asks."""
    file_form(scene.test_client(), VALID_FILING)
    run_jobs(scene)
    token = link_in(smtp.received.to(VALID_FILING["email"])[-1]).removeprefix("/verify/")
    age_links(scene)
    answers = at_once(
        CROWD,
        lambda i: (v := Visitor(server), v.csrf("/")),
        lambda i, ready: ready[0].post("/verify/resend", {"csrf_token": ready[1], "token": token}),
    )
    assert statuses(answers) == {303: CROWD}, server.tail()
    links = select(func.count()).where(LinkToken.purpose == tokens.VERIFY_EMAIL)
    assert scalar(scene, links) == 2  # the first one, and one fresh


def test_sixteen_status_link_requests_at_once_send_one_link(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """RESEND_INTERVAL: one status link per request every 5 minutes, whoever asks."""
    file_and_route(scene, smtp, scene.test_client(), filing_for(persona("Camille")))
    age_links(scene)
    answers = at_once(
        CROWD,
        lambda i: (v := Visitor(server), v.csrf("/status/link")),
        lambda i, ready: ready[0].post("/status/link", {"csrf_token": ready[1], "email": CAMILLE}),
    )
    assert statuses(answers) == {303: CROWD}, server.tail()
    recent = select(func.count()).where(
        LinkToken.purpose == tokens.STATUS_PAGE,
        LinkToken.created_at > utcnow() - timedelta(minutes=5),
    )
    assert scalar(scene, recent) == 1


def test_sixteen_answers_at_once_give_one_answer(scene: Flask, smtp: Any, server: Server) -> None:
    """An answer sends the case back once: one note, one move, one confirmation."""
    request_id = file_and_route(scene, smtp, scene.test_client(), filing_for(persona("Camille")))
    reference = scalar(scene, select(Request.reference).where(Request.id == request_id))
    agent, _ = staff_client(scene, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    asked = act(agent, reference, "ask", kind="identity", question="Votre second prénom ?")
    assert asked.status_code == 303
    run_jobs(scene)
    status_path = link_in(smtp.received.to(CAMILLE)[-1])

    def open_status(i: int) -> tuple[Visitor, str]:
        visitor = Visitor(server)
        assert visitor.get(status_path).status == 303
        return visitor, visitor.csrf("/status")

    answers = at_once(
        CROWD,
        open_status,
        lambda i, ready: ready[0].post(
            "/status/answer", {"csrf_token": ready[1], "answer": f"Réponse {i}"}
        ),
    )
    assert statuses(answers) == {303: CROWD}, server.tail()
    notes = select(func.count()).where(CaseNote.kind == "answer")
    assert scalar(scene, notes) == 1
    back = select(func.count()).where(AuditEvent.action == "status.in_review")
    assert scalar(scene, back) == 2  # the claim, and one answer


def test_sixteen_presses_of_a_not_me_link_at_once_freeze_the_request_once(
    scene: Flask, smtp: Any, server: Server
) -> None:
    """The person on file's "not me" link is single use: one dispute, one status change."""
    filing = {**filing_for(persona("Camille"), "access"), "email": "someone.else@example.org"}
    file_and_route(scene, smtp, scene.test_client(), filing)
    [notice] = smtp.received.to("camille.lefevre@example.org")
    path = link_in(notice)
    answers = at_once(
        CROWD,
        lambda i: (v := Visitor(server), v.csrf(path)),
        lambda i, ready: ready[0].post(path, {"csrf_token": ready[1]}),
    )
    assert statuses(answers) == {200: 1, 409: CROWD - 1}, server.tail()
    disputed = select(func.count()).where(AuditEvent.action == "identity.disputed")
    assert scalar(scene, disputed) == 1
    moved = select(func.count()).where(AuditEvent.action == "status.identity_review")
    assert scalar(scene, moved) == 1

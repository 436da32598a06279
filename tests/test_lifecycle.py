"""The lifecycle: one function moves a request, with its event, audit event and email."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import intake, lifecycle
from app.models import STATUSES, AuditEvent, Job, Request, StatusEvent, utcnow
from app.services import services_of

ARCHITECTURE_MOVES = {
    ("unverified", "received"),
    ("received", "triage"),
    ("triage", "in_review"),
    ("in_review", "approved"),
    ("approved", "fulfilling"),
    ("fulfilling", "completed"),
    ("in_review", "denied"),
    ("in_review", "awaiting_requester"),
    ("awaiting_requester", "in_review"),
    ("unverified", "expired"),
}


def _request(session, app, status="unverified") -> Request:
    portal = services_of(app)
    request_id = intake.file_request(
        session,
        intake.Filing(
            kind="erasure",
            first_name="Anne",
            last_name="Lévy",
            birth_date=date(1990, 1, 2),
            email="anne@example.fr",
            locale="fr",
        ),
        now=utcnow(),
        vault=portal.vault,
        names=portal.names,
        mail=portal.mail,
        per_address_per_hour=5,
    )
    assert request_id is not None
    session.commit()
    request = session.get(Request, request_id)
    assert request is not None
    return request


def test_every_move_of_the_architecture_is_allowed():
    """The transition table holds every move that docs/architecture.md draws."""
    for current, target in ARCHITECTURE_MOVES:
        assert lifecycle.can_move(current, target), (current, target)


def test_closed_requests_never_move_again():
    """Completed, denied, expired and withdrawn are final."""
    for closed in lifecycle.CLOSED:
        for target in STATUSES:
            assert not lifecycle.can_move(closed, target)


def test_every_open_state_but_running_fulfilment_can_be_withdrawn():
    """The requester may withdraw any open request, except while fulfilment runs."""
    for status in STATUSES:
        expected = lifecycle.is_open(status) and status not in {"unverified", "fulfilling"}
        assert lifecycle.can_move(status, "withdrawn") is expected, status


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_the_table_only_names_known_statuses(current, target):
    """No move leads to or from a status the schema does not know."""
    if lifecycle.can_move(current, target):
        assert current in STATUSES and target in STATUSES


def test_a_move_writes_status_event_audit_and_email_together(session, app):
    """One change_status writes the status, the timeline event, the audit event and the email."""
    request = _request(session, app)
    request.reference, request.received_on, request.due_on = (
        "DSR-2026-ABCDEF",
        date.today(),
        date.today(),
    )
    lifecycle.change_status(
        session,
        request,
        "received",
        actor="requester",
        now=utcnow(),
        mail=services_of(app).mail,
    )
    session.commit()
    assert session.scalar(select(Request.status)) == "received"
    assert session.scalar(select(Request.version)) == 2
    assert session.scalars(select(StatusEvent.to_status).order_by(StatusEvent.id)).all() == [
        "received"
    ]
    assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all() == [
        "request.filed",
        "status.received",
    ]
    templates = [job.payload["template"] for job in session.scalars(select(Job).order_by(Job.id))]
    assert templates == ["verify", "acknowledgement"]


def test_a_refused_move_changes_nothing(session, app):
    """An illegal move raises and leaves no event, audit entry or email behind."""
    request = _request(session, app)
    before = [
        session.scalar(select(func.count()).select_from(t)) for t in (StatusEvent, AuditEvent, Job)
    ]
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.change_status(
            session,
            request,
            "completed",
            actor="requester",
            now=utcnow(),
            mail=services_of(app).mail,
        )
    session.rollback()
    after = [
        session.scalar(select(func.count()).select_from(t)) for t in (StatusEvent, AuditEvent, Job)
    ]
    assert before == after
    assert session.scalar(select(Request.status)) == "unverified"


def test_a_stale_copy_cannot_overwrite_a_newer_change(session, app):
    """A change based on an old read of the request fails with StaleRequest."""
    from sqlalchemy.orm import Session

    from app.extensions import db

    stale = _request(session, app)
    mail = services_of(app).mail
    session.refresh(stale)
    session.expunge(stale)  # what a reader holds in a form, version 1
    session.commit()
    with Session(db.engine) as other:
        current = other.get(Request, stale.id)
        lifecycle.change_status(other, current, "expired", actor="system", now=utcnow(), mail=mail)
        other.commit()
    session.add(stale)
    with pytest.raises(lifecycle.StaleRequest):
        lifecycle.change_status(
            session, stale, "received", actor="requester", now=utcnow(), mail=mail
        )
    session.rollback()
    assert session.scalar(select(Request.status)) == "expired"


def test_references_look_like_the_vocabulary_says(session):
    """References read DSR-YYYY-XXXXXX in Crockford base32 and do not repeat."""
    import re

    references = {intake.new_reference(session, 2026) for _ in range(500)}
    assert len(references) == 500
    assert all(re.fullmatch(r"DSR-2026-[0-9A-HJKMNP-TV-Z]{6}", r) for r in references)


def test_a_move_is_one_statement_on_postgresql_and_a_lost_race_writes_nothing(session, app):
    """The UPDATE and the four inserts (event, audit, link, job) are one round trip on
    PostgreSQL, five on SQLite; when the UPDATE matches no row (a stale version), no
    insert happens either, even before the caller rolls back."""
    from sqlalchemy import event, update

    from app.extensions import db
    from app.models import LinkToken

    request = _request(session, app)
    request.reference, request.received_on, request.due_on = (
        "DSR-2026-ABCDEG",
        date.today(),
        date.today(),
    )
    session.flush()
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    tables = (StatusEvent, AuditEvent, Job, LinkToken)
    before = [session.scalar(select(func.count()).select_from(t)) for t in tables]
    mail = services_of(app).mail
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        lifecycle.change_status(
            session, request, "received", actor="requester", now=utcnow(), mail=mail
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    postgres = session.get_bind().dialect.name == "postgresql"
    assert len(seen) == (1 if postgres else 5), seen
    after = [session.scalar(select(func.count()).select_from(t)) for t in tables]
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1, 1]
    assert (request.status, request.version) == ("received", 2)
    # Another writer moves it on; this copy's next move loses and writes nothing.
    session.execute(
        update(Request)
        .where(Request.id == request.id)
        .values(version=7)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(lifecycle.StaleRequest):
        lifecycle.change_status(
            session, request, "triage", actor="system", now=utcnow(), mail=mail
        )
    assert [session.scalar(select(func.count()).select_from(t)) for t in tables] == after
    session.rollback()

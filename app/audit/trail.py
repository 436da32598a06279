"""Reading the audit trail: filters and pages of events, newest first.

Pages are cut by id (keyset): each page asks for ids below the last one
shown, so a page costs the same at the end of a long trail as at its start,
and events appended meanwhile never shift a page nor repeat an event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.casework.export import csv_safe
from app.deadlines import PARIS
from app.models import AuditEvent, Request, StaffUser

PAGE_SIZE = 100


@dataclass(frozen=True)
class Filters:
    """What to show; every field optional. Dates are Paris calendar days, both included."""

    request_id: int | None = None
    actor: str | None = None
    action_prefix: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    # The cursor of the next (older) page, None on the last page.
    next_before: int | None
    references: dict[int, str]
    staff_emails: dict[int, str]


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS)


def request_id_of(session: Session, reference: str) -> int | None:
    return session.scalar(select(Request.id).where(Request.reference == reference))


def staff_actor_of(session: Session, email: str) -> str | None:
    """``staff:<id>`` for a staff email address, as events name their actor."""
    staff_id = session.scalar(select(StaffUser.id).where(StaffUser.email == email.lower()))
    return None if staff_id is None else f"staff:{staff_id}"


def staff_id_of(actor: str) -> int | None:
    kind, _, value = actor.partition(":")
    return int(value) if kind == "staff" and value.isdigit() else None


def _matching(filters: Filters, before: int | None, limit: int) -> Any:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if filters.request_id is not None:
        query = query.where(AuditEvent.request_id == filters.request_id)
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.action_prefix:
        query = query.where(AuditEvent.action.startswith(filters.action_prefix, autoescape=True))
    if filters.date_from is not None:
        query = query.where(AuditEvent.occurred_at >= _paris_midnight(filters.date_from))
    if filters.date_to is not None:
        end = _paris_midnight(filters.date_to + timedelta(days=1))
        query = query.where(AuditEvent.occurred_at < end)
    return query


def page(
    session: Session, filters: Filters, *, before: int | None = None, size: int = PAGE_SIZE
) -> Page:
    """One page of events matching ``filters``, with ids below ``before``."""
    rows = list(session.scalars(_matching(filters, before, size + 1)))
    events, more = rows[:size], len(rows) > size
    request_ids = {e.request_id for e in events if e.request_id is not None}
    staff_ids = {i for e in events if (i := staff_id_of(e.actor)) is not None}
    references: dict[int, str] = {}
    if request_ids:
        for request_id, reference in session.execute(
            select(Request.id, Request.reference).where(Request.id.in_(request_ids))
        ):
            if reference:
                references[request_id] = reference
    emails: dict[int, str] = {}
    if staff_ids:
        emails = {
            staff_id: email
            for staff_id, email in session.execute(
                select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(staff_ids))
            )
        }
    return Page(events, events[-1].id if more else None, references, emails)


EXPORT_BATCH = 1000
CSV_HEADER = ("seq", "occurred_at", "actor", "actor_email", "action", "request", "details")


def export_batches(
    session: Session, filters: Filters, *, size: int = EXPORT_BATCH
) -> Iterator[list[list[str]]]:
    """The events matching ``filters`` as CSV cells, header first, newest first, by batches.

    Keyset on id, like the pages; each cell goes through ``csv_safe`` (no formula
    runs in a spreadsheet). Details hold identifiers and codes only, as events do.
    """
    yield [list(CSV_HEADER)]
    before: int | None = None
    while True:
        shown = page(session, filters, before=before, size=size)
        yield [
            [
                csv_safe(value)
                for value in (
                    "" if event.seq is None else str(event.seq),
                    event.occurred_at.isoformat(),
                    event.actor,
                    shown.staff_emails.get(staff_id_of(event.actor) or 0, ""),
                    event.action,
                    shown.references.get(event.request_id or 0, ""),
                    json.dumps(event.details, ensure_ascii=False, sort_keys=True),
                )
            ]
            for event in shown.events
        ]
        if shown.next_before is None:
            return
        before = shown.next_before


def details_text(details: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's details as ``(key, value)`` pairs, sorted; nested values as compact JSON."""
    pairs = []
    for key in sorted(details):
        value = details[key]
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        pairs.append((str(key), shown))
    return pairs

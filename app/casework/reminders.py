"""The daily reminder to staff: the cases each assignee must answer soon, or already late.

The worker queues one ``reminders`` job per Paris calendar day (``queue_daily``);
running it queues one email per member of staff (``send_reminders``). Both
writes carry a ``dedupe_key``, so several workers, a restart or a job run
twice never send a second reminder for the same day.

The email lists references, rights and due dates only: names, birth dates,
numbers and free text stay in the portal, behind the staff sign-in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.deadlines import PARIS, receipt_date
from app.lifecycle import CLOSED
from app.models import Job, Request, StaffUser
from app.outbox import jobs
from app.services import Services

TEMPLATE = "staff_reminder"
# Not yet a case (address unconfirmed) or no longer one.
NOT_OPEN = frozenset({"unverified", *CLOSED})


def daily_key(day: date) -> str:
    return f"reminders:{day.isoformat()}"


def staff_key(day: date, staff_id: int) -> str:
    return f"reminder:{day.isoformat()}:{staff_id}"


def _insert_once(session: Session, key: str, **job: Any) -> Job | None:
    """Enqueue a job unless one with ``key`` exists; None when it already did.

    The look-up spares the database a failed insert in the usual case; the
    unique key, caught in a savepoint, settles a race with another worker
    without undoing the rest of the caller's transaction.
    """
    if session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return None
    try:
        with session.begin_nested():
            return jobs.enqueue(session, dedupe_key=key, **job)
    except IntegrityError:
        return None


def queue_daily(session: Session, *, now: datetime, hour: int, days: int) -> Job | None:
    """Queue today's ``reminders`` job, once per Paris day, not before ``hour``.

    A day with nothing due queues nothing (it is checked again at each pass,
    so a case assigned later in the day is still reminded).
    """
    local = now.astimezone(PARIS)
    if local.hour < hour:
        return None
    day = local.date()
    key = daily_key(day)
    if session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return None
    if session.scalar(_due(day, days).with_only_columns(Request.id).limit(1)) is None:
        return None
    return _insert_once(
        session, key, kind=jobs.REMINDERS, now=now, payload={"day": day.isoformat()}
    )


def _due(today: date, days: int) -> Select[int | None, str | None, str, date | None]:
    """Open cases of active staff, overdue or due within ``days`` days of ``today``."""
    return (
        select(Request.assignee_id, Request.reference, Request.kind, Request.due_on)
        .join(StaffUser, StaffUser.id == Request.assignee_id)
        .where(
            StaffUser.is_active.is_(True),
            Request.status.not_in(sorted(NOT_OPEN)),
            Request.due_on.is_not(None),
            Request.due_on <= today + timedelta(days=days),
        )
    )


def due_cases(session: Session, *, today: date, days: int) -> dict[int, list[dict[str, str]]]:
    """Open cases overdue or due within ``days`` days, per active assignee, soonest first."""
    rows = session.execute(
        _due(today, days).order_by(Request.assignee_id, Request.due_on, Request.id)
    ).all()
    cases: dict[int, list[dict[str, str]]] = defaultdict(list)
    for assignee_id, reference, kind, due_on in rows:
        if assignee_id is None or due_on is None:  # excluded above; narrows the types
            continue
        # References, rights and dates only: see the module docstring.
        cases[assignee_id].append(
            {"reference": reference or "", "kind": kind, "due_on": due_on.isoformat()}
        )
    return dict(cases)


def reminders_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``reminders`` jobs: one email job per assignee."""
    send_reminders(
        session, now=now, days=services.limits.reminder_days, domain=services.mail.domain
    )


def send_reminders(session: Session, *, now: datetime, days: int, domain: str) -> int:
    """Queue one reminder email per member of staff with cases due; returns how many."""
    today = receipt_date(now)
    queued = 0
    for staff_id, cases in due_cases(session, today=today, days=days).items():
        job = _insert_once(
            session,
            staff_key(today, staff_id),
            kind=jobs.SEND_EMAIL,
            now=now,
            payload={"template": TEMPLATE, "staff_id": staff_id, "cases": cases},
            message_id=jobs.new_message_id(domain),
        )
        queued += job is not None
    return queued

"""The case's clock: questions to the requester, their answers, the extension.

A request for proof of identity stops the clock until the answer; the
extension (two more months, told with its reason) is allowed once, until the
due date in force. Every date comes from ``app.deadlines``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, deadlines, lifecycle
from app.casework.cases import (
    EXTENSION_GROUNDS,
    QUESTION_KINDS,
    WORKABLE,
    CaseError,
    actor,
    check_fresh,
    check_holding,
    clean_text,
    require,
    write_note,
)
from app.crypto import Vault
from app.models import CaseNote, Request, StaffUser
from app.outbox import emails
from app.staffing import roles


def ask(
    session: Session,
    request: Request,
    staff: StaffUser,
    question: str,
    kind: str,
    *,
    vault: Vault,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """Ask the requester something; a request for proof of identity stops the clock."""
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
    check_holding(request, staff)
    if kind not in QUESTION_KINDS:
        raise CaseError("unknown_question")
    if request.status not in ("in_review", "identity_review"):
        raise CaseError("wrong_status")
    if request.pending_decision:
        raise CaseError("decision_pending")
    text = clean_text(question, 2000)
    who = actor(staff)
    write_note(session, request, "question", who, text, vault, now)
    lifecycle.change_status(
        session,
        request,
        "awaiting_requester",
        actor=who,
        now=now,
        mail=mail,
        details={"question": kind},
    )
    if kind == "identity":
        pause(session, request, actor=who, now=now)


def pause(session: Session, request: Request, *, actor: str, now: datetime) -> None:
    """Stop the clock while proof of identity is awaited (docs/legal.md, "Deadlines")."""
    if request.paused_at is not None:
        return
    lifecycle.touch(session, request, actor=actor, now=now, paused_at=now)
    audit.record(session, actor=actor, action="clock.paused", now=now, request_id=request.id)


def paused_days(request: Request, now: datetime) -> int | None:
    """The Paris calendar days of the pause in course, None if the clock runs."""
    if request.paused_at is None:
        return None
    return (deadlines.receipt_date(now) - deadlines.receipt_date(request.paused_at)).days


def resume(session: Session, request: Request, *, actor: str, now: datetime) -> None:
    """Start the clock again: the days of the pause move the due date (``clock.resumed``)."""
    days = paused_days(request, now)
    if days is None:
        return
    due = request.due_on
    if due is not None and request.received_on is not None:
        # From the receipt, never from the stored date: the paused days belong
        # to the period, whose end alone moves to a working day (Reg. 1182/71).
        due = deadlines.due_date(
            request.received_on,
            track_of(request),
            extended=request.extended_on is not None,
            suspensions=(request.paused_days + days,),
        )
    lifecycle.touch(
        session,
        request,
        actor=actor,
        now=now,
        paused_at=None,
        paused_days=request.paused_days + days,
        due_on=due,
    )
    audit.record(
        session,
        actor=actor,
        action="clock.resumed",
        now=now,
        request_id=request.id,
        details={"paused_days": days, "due_on": due.isoformat() if due else None},
    )


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


def open_question(session: Session, request: _Identified, vault: Vault) -> str | None:
    """The latest question put to the requester, for their status page."""
    note = session.scalar(
        select(CaseNote)
        .where(CaseNote.request_id == request.id, CaseNote.kind == "question")
        .order_by(CaseNote.id.desc())
        .limit(1)
    )
    return vault.decrypt(note.body_encrypted) if note else None


def answer(
    session: Session,
    request: Request,
    text: str,
    *,
    vault: Vault,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """The requester's answer, from their status page: back to whoever asked."""
    if request.status != "awaiting_requester":
        raise CaseError("wrong_status")
    body = clean_text(text)
    write_note(session, request, "answer", "requester", body, vault, now)
    plan = request.plan
    target = "identity_review" if plan and plan.outcome == "identity_review" else "in_review"
    days = paused_days(request, now)
    details: dict[str, Any] = {} if days is None else {"paused_days": days}
    lifecycle.change_status(
        session, request, target, actor="requester", now=now, mail=mail, details=details
    )
    resume(session, request, actor="requester", now=now)


def track_of(request: Request) -> deadlines.Track:
    """The track the request's due date was computed on, from what the request keeps."""
    if request.medical_deadline:
        return deadlines.Track.medical_record(request.medical_newest_on)
    return deadlines.GDPR


def extend(
    session: Session,
    request: Request,
    staff: StaffUser,
    ground: str,
    *,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """Extend the deadline by two months, told to the requester with the reason.

    Only until the due date in force (docs/legal.md, "Deadlines"), once, and never on the
    Public Health Code's track, which has no extension.
    """
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
    check_holding(request, staff)
    if ground not in EXTENSION_GROUNDS:
        raise CaseError("unknown_ground")
    if request.status not in WORKABLE or request.received_on is None or request.due_on is None:
        raise CaseError("not_open")
    if request.extended_on is not None:
        raise CaseError("already_extended")
    if request.medical_deadline:
        raise CaseError("medical_deadline")
    today = deadlines.receipt_date(now)
    if today > request.due_on:
        raise CaseError("extension_too_late")
    # The request keeps only the total of its pauses, counted here as one.
    due = deadlines.due_date(
        request.received_on, extended=True, suspensions=(request.paused_days,)
    )
    who = actor(staff)
    before = request.due_on
    lifecycle.touch(
        session,
        request,
        actor=who,
        now=now,
        due_on=due,
        extended_on=today,
        extension_ground=ground,
    )
    audit.record(
        session,
        actor=who,
        action="case.extended",
        now=now,
        request_id=request.id,
        details={"ground": ground, "from": before.isoformat(), "to": due.isoformat()},
    )
    emails.queue_email(
        session,
        request,
        "extended",
        now,
        mail,
        extra={"ground": ground, "due_on": due.isoformat()},
    )

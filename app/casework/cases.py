"""Staff decisions on a case: claim, release, assign, prepare, approve, refuse, ask, extend.

Each function checks the role and the case's state, then writes through
``lifecycle`` (status changes) or ``lifecycle.touch`` (other fields), so every
decision is refused on a stale read and committed with its audit event and
its email to the requester by the caller, in one transaction.

Four eyes (SECURITY.md): an erasure or a refusal is *prepared* by one person
and *approved* by a data protection officer who is not that person. Other
rights are approved by whoever holds the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, deadlines, fulfilment, lifecycle
from app.crypto import Vault
from app.models import CaseNote, Request, StaffUser
from app.outbox import emails
from app.rules import routing
from app.services import Services
from app.staffing import roles

REFUSAL_GROUNDS = (
    "identity_not_established",
    "legal_obligation",
    "public_health",
    "research",
    "legal_claims",
    "third_party_rights",
    "data_accurate",
)
# Art. 12(5): a data protection officer's decision, with a written justification.
UNFOUNDED_GROUNDS = ("manifestly_unfounded", "excessive")
EXTENSION_GROUNDS = ("complexity", "number_of_requests")
QUESTION_KINDS = ("information", "identity")
NOTE_MAX = 5000
EXTENSION_MONTHS = 3  # the month of Art. 12(3) plus two further months
# Where a case can be worked on, and held by one person.
WORKABLE = frozenset({"identity_review", "triage", "in_review", "awaiting_requester"})


class CaseError(Exception):
    """A decision refused by the rules; ``reason`` is a code the views explain."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(CaseError):
    """The person's role, or their relation to the case, does not allow it."""


def actor(staff: StaffUser) -> str:
    return f"staff:{staff.id}"


def _require(staff: StaffUser, permission: str) -> None:
    if not staff.is_active or not roles.allowed(staff.role, permission):
        raise Forbidden("role")


def _fresh(session: Session, request: Request, version: int) -> None:
    """Refuse a decision taken on a page older than the case."""
    if request.version != version:
        raise lifecycle.stale(session, request.id)


def _holding(request: Request, staff: StaffUser) -> None:
    if request.assignee_id != staff.id:
        raise Forbidden("not_holder")


def _text(text: str | None, limit: int = NOTE_MAX) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise CaseError("empty_text")
    if len(cleaned) > limit:
        raise CaseError("text_too_long")
    return cleaned


def _note(
    session: Session,
    request: Request,
    kind: str,
    author: str,
    text: str,
    vault: Vault,
    now: datetime,
) -> CaseNote:
    note = CaseNote(
        request_id=request.id,
        kind=kind,
        author=author,
        body_encrypted=vault.encrypt(text),
        created_at=now,
    )
    session.add(note)
    return note


def needs_four_eyes(request: Request) -> bool:
    return request.kind == "erasure"


def record_view(session: Session, request: Request, staff: StaffUser, now: datetime) -> None:
    """Every staff view of a case is an audit event (SECURITY.md)."""
    _require(staff, roles.VIEW_CASES)
    audit.record(session, actor=actor(staff), action="case.viewed", now=now, request_id=request.id)


def claim(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """Take an unheld case; from triage it moves to in_review.

    The version check in ``lifecycle`` is the lock: of any number of people
    claiming at once, one wins and the others get ``StaleRequest``.
    """
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    if request.status not in WORKABLE:
        raise CaseError("not_open")
    if request.assignee_id not in (None, staff.id):
        raise CaseError("already_held")
    if request.assignee_id == staff.id and request.status != "triage":
        raise CaseError("already_yours")
    who = actor(staff)
    if request.status == "triage":
        lifecycle.change_status(session, request, "in_review", actor=who, now=now, mail=mail)
    lifecycle.touch(session, request, actor=who, now=now, assignee_id=staff.id)
    audit.record(session, actor=who, action="case.claimed", now=now, request_id=request.id)


def release(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """Give a held case back to the queue (a DPO may release anyone's)."""
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    if request.assignee_id is None:
        raise CaseError("not_held")
    if request.assignee_id != staff.id and not roles.allowed(staff.role, roles.ASSIGN):
        raise Forbidden("not_holder")
    if request.pending_decision:
        raise CaseError("decision_pending")
    who = actor(staff)
    if request.status == "in_review":
        lifecycle.change_status(session, request, "triage", actor=who, now=now, mail=mail)
    lifecycle.touch(session, request, actor=who, now=now, assignee_id=None)
    audit.record(session, actor=who, action="case.released", now=now, request_id=request.id)


def assign(
    session: Session,
    request: Request,
    staff: StaffUser,
    assignee: StaffUser,
    *,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """A DPO hands a case to a colleague who can work it."""
    _require(staff, roles.ASSIGN)
    _fresh(session, request, version)
    if request.status not in WORKABLE:
        raise CaseError("not_open")
    if not assignee.is_active or not roles.allowed(assignee.role, roles.WORK_CASES):
        raise CaseError("cannot_hold")
    if request.assignee_id == assignee.id:
        raise CaseError("already_yours")
    who = actor(staff)
    if request.status == "triage":
        lifecycle.change_status(session, request, "in_review", actor=who, now=now, mail=mail)
    lifecycle.touch(session, request, actor=who, now=now, assignee_id=assignee.id)
    audit.record(
        session,
        actor=who,
        action="case.assigned",
        now=now,
        request_id=request.id,
        details={"assignee": assignee.id},
    )


def add_note(
    session: Session, request: Request, staff: StaffUser, text: str, *, vault: Vault, now: datetime
) -> CaseNote:
    """An internal note: staff only, never shown to the requester."""
    _require(staff, roles.WORK_CASES)
    note = _note(session, request, "note", actor(staff), _text(text), vault, now)
    audit.record(
        session, actor=actor(staff), action="case.note_added", now=now, request_id=request.id
    )
    return note


def prepare(
    session: Session,
    request: Request,
    staff: StaffUser,
    decision: str,
    *,
    ground: str | None = None,
    version: int,
    now: datetime,
) -> None:
    """Put a decision before a data protection officer: an erasure plan, or a refusal."""
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    _holding(request, staff)
    if request.pending_decision:
        raise CaseError("decision_pending")
    if decision == "approve":
        if request.status != "in_review" or not needs_four_eyes(request):
            raise CaseError("wrong_status")
        _plan_settled(request)
        ground = None
    elif decision == "refuse":
        if request.status not in ("in_review", "identity_review"):
            raise CaseError("wrong_status")
        if ground not in REFUSAL_GROUNDS:
            raise CaseError("unknown_ground")
    else:
        raise CaseError("unknown_decision")
    who = actor(staff)
    lifecycle.touch(
        session,
        request,
        actor=who,
        now=now,
        pending_decision=decision,
        pending_ground=ground,
        prepared_by_id=staff.id,
        prepared_at=now,
    )
    audit.record(
        session,
        actor=who,
        action="case.prepared",
        now=now,
        request_id=request.id,
        details={"decision": decision} | ({"ground": ground} if ground else {}),
    )


def _plan_settled(request: Request) -> None:
    plan = request.plan
    if plan is None or plan.outcome == "identity_review":
        raise CaseError("identity_in_doubt")


def send_back(
    session: Session, request: Request, staff: StaffUser, *, version: int, now: datetime
) -> None:
    """Withdraw a prepared decision: by its preparer, or by a DPO who disagrees."""
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    if not request.pending_decision:
        raise CaseError("nothing_prepared")
    if request.prepared_by_id != staff.id and not roles.allowed(
        staff.role, roles.APPROVE_SENSITIVE
    ):
        raise Forbidden("not_preparer")
    who = actor(staff)
    decision = request.pending_decision
    lifecycle.touch(
        session,
        request,
        actor=who,
        now=now,
        pending_decision=None,
        pending_ground=None,
        prepared_by_id=None,
        prepared_at=None,
    )
    audit.record(
        session,
        actor=who,
        action="case.sent_back",
        now=now,
        request_id=request.id,
        details={"decision": decision},
    )


def approve(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> str:
    """Carry out the decision: the prepared one (four eyes), or the plan itself.

    Returns the status reached (``approved`` or ``denied``).
    """
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    who = actor(staff)
    if request.pending_decision:
        if not roles.allowed(staff.role, roles.APPROVE_SENSITIVE):
            raise Forbidden("dpo_required")
        if request.prepared_by_id == staff.id:
            raise Forbidden("four_eyes")
        decision, ground = request.pending_decision, request.pending_ground
        prepared_by = request.prepared_by_id
        target = "approved" if decision == "approve" else "denied"
        lifecycle.change_status(
            session,
            request,
            target,
            actor=who,
            now=now,
            mail=mail,
            details={"prepared_by": prepared_by} | ({"ground": ground} if ground else {}),
            email={"ground": ground} if ground else None,
        )
        lifecycle.touch(
            session,
            request,
            actor=who,
            now=now,
            pending_decision=None,
            pending_ground=None,
            refusal_ground=ground,
        )
        if target == "approved":
            fulfilment.start(session, request, now)
        return target
    if needs_four_eyes(request):
        raise CaseError("needs_preparation")
    _holding(request, staff)
    if request.status != "in_review":
        raise CaseError("wrong_status")
    _plan_settled(request)
    lifecycle.change_status(session, request, "approved", actor=who, now=now, mail=mail)
    fulfilment.start(session, request, now)
    return "approved"


def mark_unfounded(
    session: Session,
    request: Request,
    staff: StaffUser,
    ground: str,
    justification: str,
    *,
    vault: Vault,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """Refuse a manifestly unfounded or excessive request: a DPO's decision, justified."""
    _require(staff, roles.MARK_UNFOUNDED)
    _fresh(session, request, version)
    if ground not in UNFOUNDED_GROUNDS:
        raise CaseError("unknown_ground")
    text = _text(justification)
    if request.status not in WORKABLE:
        raise CaseError("not_open")
    who = actor(staff)
    _note(session, request, "justification", who, text, vault, now)
    lifecycle.change_status(
        session,
        request,
        "denied",
        actor=who,
        now=now,
        mail=mail,
        details={"ground": ground},
        email={"ground": ground},
    )
    lifecycle.touch(
        session,
        request,
        actor=who,
        now=now,
        refusal_ground=ground,
        pending_decision=None,
        pending_ground=None,
    )


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
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    _holding(request, staff)
    if kind not in QUESTION_KINDS:
        raise CaseError("unknown_question")
    if request.status not in ("in_review", "identity_review"):
        raise CaseError("wrong_status")
    if request.pending_decision:
        raise CaseError("decision_pending")
    text = _text(question, 2000)
    who = actor(staff)
    _note(session, request, "question", who, text, vault, now)
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
        lifecycle.touch(session, request, actor=who, now=now, paused_at=now)
        audit.record(session, actor=who, action="clock.paused", now=now, request_id=request.id)


def open_question(session: Session, request: Request, vault: Vault) -> str | None:
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
    body = _text(text)
    _note(session, request, "answer", "requester", body, vault, now)
    plan = request.plan
    target = "identity_review" if plan and plan.outcome == "identity_review" else "in_review"
    details: dict[str, Any] = {}
    if request.paused_at is not None:
        days = (deadlines.receipt_date(now) - deadlines.receipt_date(request.paused_at)).days
        details["paused_days"] = days
    lifecycle.change_status(
        session, request, target, actor="requester", now=now, mail=mail, details=details
    )
    if request.paused_at is not None:
        days = details["paused_days"]
        due = request.due_on
        if due is not None and days:
            due = deadlines.next_working_day(due + timedelta(days=days))
        lifecycle.touch(
            session,
            request,
            actor="requester",
            now=now,
            paused_at=None,
            paused_days=request.paused_days + days,
            due_on=due,
        )
        audit.record(
            session,
            actor="requester",
            action="clock.resumed",
            now=now,
            request_id=request.id,
            details={"paused_days": days, "due_on": due.isoformat() if due else None},
        )


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

    Only before the first month ends (LEGAL.md), once, and never on the
    Public Health Code's track, which has no extension.
    """
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    _holding(request, staff)
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
    due = deadlines.due_date(request.received_on, months=EXTENSION_MONTHS)
    if request.paused_days:
        due = deadlines.next_working_day(due + timedelta(days=request.paused_days))
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


@dataclass(frozen=True)
class Confirmation:
    outcome: str
    plan_number: int | None


def confirm_identity(
    session: Session,
    request: Request,
    staff: StaffUser,
    services: Services,
    *,
    version: int,
    now: datetime,
) -> Confirmation:
    """Staff have checked who the requester is: plan again without the doubt.

    Doubts about one single person are lifted; if a source still has several
    people who fit, nothing is stored and the case stays in review.
    """
    _require(staff, roles.WORK_CASES)
    _fresh(session, request, version)
    _holding(request, staff)
    if request.status != "identity_review":
        raise CaseError("wrong_status")
    if request.pending_decision:
        raise CaseError("decision_pending")
    today = deadlines.receipt_date(now)
    draft = routing.draft_for(request, services, today, confirmed=True)
    if draft.outcome == "identity_review":
        raise CaseError("still_ambiguous")
    who = actor(staff)
    plan = routing.store(
        session,
        request,
        draft,
        catalogue=services.catalogue,
        policy=services.policy,
        today=today,
        now=now,
        actor=who,
    )
    details = {"plan": plan.number, "outcome": draft.outcome, "identity": "confirmed"}
    if routing.apply_medical_deadline(request, draft, services.catalogue):
        details["deadline"] = "medical_record"
    lifecycle.change_status(
        session, request, "triage", actor=who, now=now, mail=services.mail, details=details
    )
    audit.record(session, actor=who, action="identity.confirmed", now=now, request_id=request.id)
    return Confirmation(draft.outcome, plan.number)

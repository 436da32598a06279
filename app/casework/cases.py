"""Holding a case: claim, release, assign, notes; the rules every staff decision shares.

Each function checks the role and the case's state, then writes through
``lifecycle`` (status changes) or ``lifecycle.touch`` (other fields), so every
decision is refused on a stale read and committed with its audit event and
its email to the requester by the caller, in one transaction.

The decisions themselves are in ``app.casework.decisions`` (prepare, approve,
refuse: four eyes), ``app.casework.clock`` (questions that pause the clock,
answers, the extension) and ``app.casework.identity`` (staff confirm who the
requester is).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import audit, lifecycle
from app.crypto import Vault
from app.models import CaseNote, Request, StaffUser
from app.outbox import emails
from app.staffing import roles

REFUSAL_GROUNDS = (
    "identity_not_established",
    "legal_obligation",
    "public_health",
    "research",
    "legal_claims",
    "third_party_rights",
    "data_accurate",
    # A request made for someone else (app.rules.routing, catalogue/representation.toml).
    "representative_not_entitled",
    "refused_during_life",
)
# Art. 12(5): a data protection officer's decision, with a written justification.
UNFOUNDED_GROUNDS = ("manifestly_unfounded", "excessive")
EXTENSION_GROUNDS = ("complexity", "number_of_requests")
QUESTION_KINDS = ("information", "identity")
NOTE_MAX = 5000
# Where a case can be worked on, and held by one person.
WORKABLE = frozenset(
    {"awaiting_identity", "identity_review", "triage", "in_review", "awaiting_requester"}
)


class CaseError(Exception):
    """A decision refused by the rules; ``reason`` is a code the views explain."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(CaseError):
    """The person's role, or their relation to the case, does not allow it."""


def actor(staff: StaffUser) -> str:
    return f"staff:{staff.id}"


def require(staff: StaffUser, permission: str) -> None:
    if not staff.is_active or not roles.allowed(staff.role, permission):
        raise Forbidden("role")


def check_fresh(session: Session, request: Request, version: int) -> None:
    """Refuse a decision taken on a page older than the case."""
    if request.version != version:
        raise lifecycle.stale(session, request.id)


def check_holding(request: Request, staff: StaffUser) -> None:
    if request.assignee_id != staff.id:
        raise Forbidden("not_holder")


def clean_text(text: str | None, limit: int = NOTE_MAX) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise CaseError("empty_text")
    if len(cleaned) > limit:
        raise CaseError("text_too_long")
    return cleaned


def write_note(
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
    """Every staff view of a case is an audit event (docs/security.md, "Roles and decisions")."""
    require(staff, roles.VIEW_CASES)
    audit.record(session, actor=actor(staff), action="case.viewed", now=now, request_id=request.id)


def may_read_records(request: Request, staff: StaffUser) -> bool:
    """Record values are health data: the case's holder reads them, and DPOs; others see counts.

    Need to know: an agent who does not hold the case has no task that needs
    the values (docs/security.md, "Roles and decisions").
    """
    if not staff.is_active or not roles.allowed(staff.role, roles.VIEW_CASES):
        return False
    if request.assignee_id == staff.id and roles.allowed(staff.role, roles.WORK_CASES):
        return True
    return roles.allowed(staff.role, roles.READ_ANY_RECORDS)


def record_source_read(
    session: Session,
    request: Request,
    staff: StaffUser,
    now: datetime,
    *,
    screen: str,
    **counts: int,
) -> None:
    """Every read of the sources for a case by staff is an audit event (``case.source_read``).

    ``screen`` names what read them (``correction``, ``recompute``,
    ``confirm_identity``); ``counts`` may say how many records: never a value.
    """
    require(staff, roles.VIEW_CASES)
    audit.record(
        session,
        actor=actor(staff),
        action="case.source_read",
        now=now,
        request_id=request.id,
        details={"screen": screen, **counts},
    )


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
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
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
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
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
    require(staff, roles.ASSIGN)
    check_fresh(session, request, version)
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
    """An internal note: staff only, never shown to the requester.

    Any case worker may add one, holder or not: notes are how a colleague
    helps (docs/security.md, "Roles and decisions"). The audit says which.
    """
    require(staff, roles.WORK_CASES)
    note = write_note(session, request, "note", actor(staff), clean_text(text), vault, now)
    audit.record(
        session,
        actor=actor(staff),
        action="case.note_added",
        now=now,
        request_id=request.id,
        details={"by_holder": request.assignee_id == staff.id},
    )
    return note

"""The staff approval: decisions put before a data protection officer, and taken.

Four eyes (docs/security.md, "Roles and decisions"): an erasure or a refusal
is *prepared* by one person and *approved* by a data protection officer who is
not that person. Other rights are approved by whoever holds the case. A
manifestly unfounded or excessive request is refused by a DPO alone, with a
written justification (Art. 12(5)).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import audit, fulfilment, lifecycle
from app.casework import refusal_window
from app.casework.cases import (
    REFUSAL_GROUNDS,
    UNFOUNDED_GROUNDS,
    WORKABLE,
    CaseError,
    Forbidden,
    actor,
    check_fresh,
    check_holding,
    clean_text,
    needs_four_eyes,
    require,
    write_note,
)
from app.crypto import Vault
from app.identity import assurance as assurance_levels
from app.identity.policy import AssurancePolicy
from app.models import Request, StaffUser
from app.outbox import emails
from app.staffing import roles

# A refusal's message to the requester, shown on their status page.
REFUSAL_MESSAGE_MAX = 2000


def prepare(
    session: Session,
    request: Request,
    staff: StaffUser,
    decision: str,
    *,
    ground: str | None = None,
    message: str | None = None,
    vault: Vault | None = None,
    version: int,
    now: datetime,
    assurance: AssurancePolicy,
) -> None:
    """Put a decision before a data protection officer: an erasure plan, or a refusal.

    A refusal needs its ground, and may carry ``message``: a few words to the
    requester, shown on their status page once approved (never in an email).
    """
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
    check_holding(request, staff)
    if request.pending_decision:
        raise CaseError("decision_pending")
    if decision == "approve":
        if request.status != "in_review" or not needs_four_eyes(request):
            raise CaseError("wrong_status")
        plan_settled(request, assurance)
        ground = None
    elif decision == "refuse":
        # A refusal needs no proven identity: "identity not established" is one (Art. 12(6)).
        if request.status not in ("in_review", "identity_review", "awaiting_identity"):
            raise CaseError("wrong_status")
        if ground not in REFUSAL_GROUNDS:
            raise CaseError("unknown_ground")
        message = (message or "").strip() or None
        if message and len(message) > REFUSAL_MESSAGE_MAX:
            raise CaseError("text_too_long")
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
        refusal_message_encrypted=(
            vault.encrypt(message) if decision == "refuse" and message and vault else None
        ),
    )
    audit.record(
        session,
        actor=who,
        action="case.prepared",
        now=now,
        request_id=request.id,
        details={"decision": decision}
        | ({"ground": ground} if ground else {})
        | ({"message": True} if decision == "refuse" and message else {}),
    )


def plan_settled(request: Request, policy: AssurancePolicy) -> None:
    """The plan may be carried out: nobody in doubt, and identity proven to the right's level."""
    plan = request.plan
    if plan is None or plan.outcome == "identity_review":
        raise CaseError("identity_in_doubt")
    if plan.outcome == "refused":
        # A right the relationship may not exercise, or a deceased person's refusal.
        raise CaseError("plan_refuses")
    if not assurance_levels.may_act(policy, request):
        raise CaseError("identity_not_proven")


def send_back(
    session: Session, request: Request, staff: StaffUser, *, version: int, now: datetime
) -> None:
    """Withdraw a prepared decision: by its preparer, or by a DPO who disagrees."""
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
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
        refusal_message_encrypted=None,
    )
    audit.record(
        session,
        actor=who,
        action="case.sent_back",
        now=now,
        request_id=request.id,
        details={"decision": decision},
    )


def approval_checks(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    version: int,
    assurance: AssurancePolicy,
) -> str:
    """Every check ``approve`` makes before it writes; what it would carry out.

    Returns ``"approve"`` or ``"refuse"`` for a prepared decision (four eyes),
    ``"plan"`` for a plan its holder approves alone. The confirmation step
    calls it to refuse early, before showing what the approval will do; the
    approval itself calls it again, on the case as it is then.
    """
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
    if request.pending_decision:
        if request.status != "in_review":
            # Closing a case drops its prepared decision (lifecycle); any other move
            # away from review leaves nothing a DPO may approve.
            raise CaseError("wrong_status")
        if not roles.allowed(staff.role, roles.APPROVE_SENSITIVE):
            raise Forbidden("dpo_required")
        if request.prepared_by_id == staff.id:
            raise Forbidden("four_eyes")
        if request.pending_decision == "approve":
            # Checked again: the level is read now, not when the decision was prepared.
            plan_settled(request, assurance)
        return request.pending_decision
    if needs_four_eyes(request):
        raise CaseError("needs_preparation")
    check_holding(request, staff)
    if request.status != "in_review":
        raise CaseError("wrong_status")
    plan_settled(request, assurance)
    return "plan"


def approve(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
    assurance: AssurancePolicy,
    vault: Vault | None = None,
    late_justification: str | None = None,
) -> str:
    """Carry out the decision: the prepared one (four eyes), or the plan itself.

    Returns the status reached (``approved`` or ``denied``). A refusal past
    one month from receipt needs ``late_justification`` (``refusal_window``).
    """
    decision = approval_checks(session, request, staff, version=version, assurance=assurance)
    who = actor(staff)
    if decision == "plan":
        lifecycle.change_status(session, request, "approved", actor=who, now=now, mail=mail)
        fulfilment.start(session, request, now)
        return "approved"
    ground = request.pending_ground
    prepared_by = request.prepared_by_id
    target = "approved" if decision == "approve" else "denied"
    if target == "denied":
        refusal_window.check(session, request, staff, late_justification, vault=vault, now=now)
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
    require(staff, roles.MARK_UNFOUNDED)
    check_fresh(session, request, version)
    if ground not in UNFOUNDED_GROUNDS:
        raise CaseError("unknown_ground")
    text = clean_text(justification)
    if request.status not in WORKABLE:
        raise CaseError("not_open")
    who = actor(staff)
    write_note(session, request, "justification", who, text, vault, now)
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
        refusal_message_encrypted=None,
    )

"""Staff confirm who the requester is, and the request is planned again without the doubt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app import audit, deadlines, lifecycle
from app.casework import clock
from app.casework.cases import (
    CaseError,
    actor,
    check_fresh,
    check_holding,
    record_source_read,
    require,
)
from app.identity import assurance, contact
from app.models import Request, StaffUser
from app.rules import plans, routing
from app.services import Services
from app.staffing import roles


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
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
    check_holding(request, staff)
    if request.status != "identity_review":
        raise CaseError("wrong_status")
    if request.pending_decision:
        raise CaseError("decision_pending")
    if request.disputed_at is not None:
        raise CaseError("disputed")
    today = deadlines.receipt_date(now)
    # A refusal after this read rolls it back: the view keeps its audit (case_views).
    record_source_read(session, request, staff, now, screen="confirm_identity")
    draft = routing.draft_for(request, services, today, confirmed=True)
    if draft.outcome == "identity_review":
        raise CaseError("still_ambiguous")
    who = actor(staff)
    stored = plans.plan_and_store(session, request, services, now=now, actor=who, draft=draft)
    plan = stored.plan
    details = {"plan": plan.number, "outcome": draft.outcome, "identity": "confirmed"}
    if stored.medical_deadline:
        details["deadline"] = "medical_record"
    if draft.outcome == "matched":
        contact.compare(session, request, draft.contacts, actor=who, now=now, mail=services.mail)
    # Who the person is, settled; that it is the requester, still to be proven (app.identity).
    target = "triage" if assurance.may_act(services.assurance, request) else "awaiting_identity"
    lifecycle.change_status(
        session, request, target, actor=who, now=now, mail=services.mail, details=details
    )
    if target == "awaiting_identity":
        clock.pause(session, request, actor=who, now=now)
    audit.record(session, actor=who, action="identity.confirmed", now=now, request_id=request.id)
    return Confirmation(draft.outcome, plan.number)

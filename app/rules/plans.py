"""Plans stored with their request, and the ``route`` job that moves the request on.

``route_request`` is the job the worker runs right after verification: it
computes the draft (``app.rules.routing``), stores the plan as a snapshot and
moves the request to triage (or to identity review) in one transaction.
``plan_and_store`` is the plan -> snapshot -> deadline sequence it shares
with staff confirming an identity and with ``flask plan recompute --save``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached

from app import audit, deadlines, lifecycle
from app.casework import clock
from app.fulfilment import package_release
from app.identity import assurance, contact
from app.models import Job, Plan, PlanLine, Request
from app.rules.catalogue import Catalogue
from app.rules.policy import Policy
from app.rules.routing import ACTOR, Draft, Line, draft_for
from app.services import Services


def store(
    session: Session,
    request: Request,
    draft: Draft,
    *,
    catalogue: Catalogue,
    policy: Policy,
    today: date,
    now: datetime,
    actor: str,
) -> Plan:
    """Keep a draft as the request's next plan, texts copied in (a snapshot).

    Written with Core inserts, not the unit of work: the plan in one statement
    (its number computed in it, the unique (request_id, number) index refusing
    a concurrent twin), its lines in one executemany. The request's loaded
    ``plans`` are expired, so a later read sees the new plan.

    The inserts run on the session's connection, without the autoflush a
    ``Session.execute`` makes: they need nothing the unit of work holds, and
    what it holds (the contact check's fields and event) is written by the
    status change that follows in routing (``lifecycle.change_status``), or
    flushed at the commit. ``has_retained`` and the ``plan.computed`` event
    are left to the unit of work in the same way.
    """
    plans_table = cast(Table, Plan.__table__)
    lines_table = cast(Table, PlanLine.__table__)
    next_number = (
        select(func.coalesce(func.max(plans_table.c.number), 0) + 1)
        .where(plans_table.c.request_id == request.id)
        .scalar_subquery()
    )
    values = {
        "request_id": request.id,
        "outcome": draft.outcome,
        "review_reasons": list(draft.review_reasons),
        "subjects": dict(draft.subjects),
        "catalogue_digest": catalogue.digest,
        "policy_digest": policy.digest,
        "computed_on": today,
        "created_at": now,
        "created_by": actor,
    }
    connection = session.connection()
    plan_id, number = connection.execute(
        insert(plans_table)
        .values(number=next_number, **values)
        .returning(plans_table.c.id, plans_table.c.number)
    ).one()
    if draft.lines:
        connection.execute(
            insert(lines_table),
            [
                {
                    "plan_id": plan_id,
                    "position": position,
                    "source": line.source,
                    "category": line.category,
                    "action": line.action,
                    "record_count": line.record_count,
                    "label_fr": line.label.fr,
                    "label_en": line.label.en,
                    "basis_fr": line.basis.fr,
                    "basis_en": line.basis.en,
                    "explanation_fr": line.explanation.fr,
                    "explanation_en": line.explanation.en,
                    "kept_until": line.kept_until,
                    "record_keys": dict(line.record_keys),
                }
                for position, line in enumerate(draft.lines)
            ],
        )
    session.expire(request, ["plans"])
    request.has_retained = any(line.action == "retain" for line in draft.lines)
    plan = Plan(id=plan_id, number=number, **values)
    make_transient_to_detached(plan)
    plan = session.merge(plan, load=False)
    audit.record(
        session,
        actor=actor,
        action="plan.computed",
        now=now,
        request_id=request.id,
        details={"plan": number, "outcome": draft.outcome, "lines": len(draft.lines)},
    )
    return plan


@dataclass(frozen=True)
class Change:
    """One difference between two plans, for staff deciding whether to adopt it."""

    source: str
    category: str
    action: str
    before: int
    after: int
    kept_until_before: date | None
    kept_until_after: date | None


def diff(old: Plan | None, new: Draft) -> list[Change]:
    """What a recomputed plan would change: counts and dates per line."""
    before = {(li.source, li.category, li.action): li for li in (old.lines if old else [])}
    after = {line.key(): line for line in new.lines}
    changes = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        counts = (was.record_count if was else 0, now.record_count if now else 0)
        dates = (was.kept_until if was else None, now.kept_until if now else None)
        if counts[0] != counts[1] or dates[0] != dates[1]:
            changes.append(Change(*key, *counts, *dates))
    return changes


def route_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``route`` jobs."""
    if job.request_id is not None:
        route_request(session, job.request_id, services, now=now)


def route_request(
    session: Session, request_id: int, services: Services, *, now: datetime
) -> Plan | None:
    """The ``route`` job: plan the request and move it on, in the caller's transaction.

    Run twice, the second run finds the request already moved and does
    nothing: the plan, the status change and the email are written together.
    """
    request = session.get(Request, request_id)
    if request is None or request.status != "received":
        return None
    draft = draft_for(request, services, deadlines.receipt_date(now))
    if draft.outcome == "matched" or draft.contacts:
        contact.compare(
            session,
            request,
            draft.contacts,
            actor=ACTOR,
            now=now,
            mail=services.mail,
            settled=draft.outcome == "matched",
        )
    # The Public Health Code's 8 days would tell an unproven requester that a medical
    # record exists; they run once identity is justified (CSP R.1111-1), at the next routing.
    stored = plan_and_store(
        session,
        request,
        services,
        now=now,
        actor=ACTOR,
        draft=draft,
        medical=assurance.may_act(services.assurance, request),
    )
    plan = stored.plan
    details = {"plan": plan.number, "outcome": plan.outcome}
    if stored.medical_deadline:
        details["deadline"] = "medical_record"
    # A plan that refuses (a request made for someone else the law does not allow) goes to
    # staff at any level of identity: a refusal needs no proven identity (Art. 12(6)).
    target = (
        "triage"
        if plan.outcome == "refused"
        else assurance.routed_status(services.assurance, request, plan.outcome)
    )
    template = None
    if target == "triage" and not assurance.shows_plan(services.assurance, request):
        # Acted on at this level (an objection) but its plan is not shown: say the step only.
        template = "in_review"
    lifecycle.change_status(
        session,
        request,
        target,
        actor=ACTOR,
        now=now,
        mail=services.mail,
        details=details,
        template=template,
    )
    if target == "awaiting_identity":
        clock.pause(session, request, actor=ACTOR, now=now)
    return plan


@dataclass(frozen=True)
class Stored:
    """A plan kept as the request's plan in force, and what it did to the due date."""

    plan: Plan
    # The due date moved to the Public Health Code's (medical record) track.
    medical_deadline: bool


def plan_and_store(
    session: Session,
    request: Request,
    services: Services,
    *,
    now: datetime,
    actor: str,
    draft: Draft | None = None,
    medical: bool = True,
) -> Stored:
    """Plan a request, keep the plan and apply its deadline, in the caller's transaction.

    The one sequence behind routing, an identity confirmed by staff and
    ``flask plan recompute --save``. ``draft``: the plan the caller already
    computed (to check or to show it), stored as it is; computed here when
    absent. The status is the caller's to move.
    """
    today = deadlines.receipt_date(now)
    if draft is None:
        draft = draft_for(request, services, today)
    plan = store(
        session,
        request,
        draft,
        catalogue=services.catalogue,
        policy=services.policy,
        today=today,
        now=now,
        actor=actor,
    )
    has_medical = communicates_medical_record(draft, services.catalogue)
    request.release_not_before = package_release.not_before(request, has_medical)
    moved = medical and apply_medical_deadline(request, draft, services.catalogue)
    return Stored(plan, moved)


def apply_medical_deadline(request: Request, draft: Draft, catalogue: Catalogue) -> bool:
    """Move the due date to the Public Health Code's when it is stricter; True if moved."""
    due = medical_due_date(request, draft, catalogue)
    if due is None or request.due_on is None or due >= request.due_on:
        return False
    request.due_on, request.medical_deadline = due, True
    request.medical_newest_on = newest_medical_record(draft, catalogue)
    return True


def medical_due_date(request: Request, draft: Draft, catalogue: Catalogue) -> date | None:
    """The Public Health Code's deadline of a request that communicates a medical record.

    docs/legal.md, "Deadlines": the track follows what is sent, not the right's
    name (CSP L.1111-7): an access or a portability whose plan discloses a
    category the catalogue marks ``medical_record`` takes it. None if none applies.
    """
    if request.received_on is None:
        return None
    if not communicates_medical_record(draft, catalogue):
        return None
    newest = newest_medical_record(draft, catalogue)
    # From the receipt with the pauses so far (an identity question before the
    # track is chosen): the period with its suspensions, as the resume computes it.
    return deadlines.due_date(
        request.received_on,
        deadlines.Track.medical_record(newest),
        suspensions=(request.paused_days,),
    )


def _medical_lines(draft: Draft, catalogue: Catalogue) -> list[Line]:
    return [
        line
        for line in draft.lines
        if line.action == "disclose" and catalogue.info(line.source, line.category).medical_record
    ]


def communicates_medical_record(draft: Draft, catalogue: Catalogue) -> bool:
    """True when the plan sends the requester a category the catalogue marks as medical record."""
    return bool(_medical_lines(draft, catalogue))


def newest_medical_record(draft: Draft, catalogue: Catalogue) -> date | None:
    """The newest dated record of the medical record communicated (None: none is dated)."""
    dated = [line.newest for line in _medical_lines(draft, catalogue) if line.newest is not None]
    return max(dated) if dated else None

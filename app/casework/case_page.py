"""The case page's read model: everything the staff case page shows, read in one place.

Plain queries below the view (the view builds the forms, calls ``case_page``
and renders): who holds and who prepared the case, the notes decrypted, the
audit trail without the page views (counted instead), the emails to the
requester, readable names for every actor, and the decrypted identifiers the
page shows (the social-security number masked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import deadlines
from app.crypto import Vault
from app.models import AuditEvent, CaseNote, Job, Request, StaffUser
from app.nir import mask_nir
from app.outbox import registry
from app.outbox.registry import Audience

VIEWED = "case.viewed"


@dataclass(frozen=True)
class CasePage:
    """What the case page shows about one case, besides the case itself."""

    case: Request
    holder: StaffUser | None
    preparer: StaffUser | None
    # The social-security number, masked; None when not given.
    nir: str | None
    details: str | None
    refusal_message: str | None
    notes: tuple[tuple[CaseNote, str | None], ...]
    audit_events: tuple[AuditEvent, ...]
    views: int
    emails: tuple[Job, ...]
    people: Mapping[str, str]
    days_left: int | None


def find_case(session: Session, reference: str) -> Request | None:
    """The case with this reference, or None; an unverified request is not a case yet.

    Staff never act on an unproven address, so an unverified request is as
    good as absent.
    """
    found = session.scalar(select(Request).where(Request.reference == reference))
    if found is None or found.status == "unverified":
        return None
    return found


def workers(session: Session) -> list[StaffUser]:
    """Active staff who may hold a case, by email: the choices of the assign form."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.is_active, StaffUser.role.in_(("agent", "dpo")))
            .order_by(StaffUser.email)
        )
    )


def people(session: Session, actors: Iterable[str], named: Mapping[str, str]) -> dict[str, str]:
    """Readable names for audit actors: the staff email for "staff:<id>", else ``named``.

    ``named`` holds the names of the fixed actors ("requester", ...) in the
    reader's language; an actor neither staff nor named is shown as it is.
    """
    wanted = set(actors)
    ids = {int(a.split(":", 1)[1]) for a in wanted if a.startswith("staff:") and a[6:].isdigit()}
    emails = {
        f"staff:{user_id}": email
        for user_id, email in session.execute(
            select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(ids))
        )
    }
    return {a: emails.get(a) or str(named.get(a, a)) for a in wanted}


def case_page(
    session: Session,
    case: Request,
    vault: Vault,
    *,
    now: datetime,
    named: Mapping[str, str],
) -> CasePage:
    """Read what the case page shows of ``case`` (``named``: see ``people``)."""
    notes = list(
        session.scalars(
            select(CaseNote).where(CaseNote.request_id == case.id).order_by(CaseNote.id)
        )
    )
    audit_events = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.request_id == case.id, AuditEvent.action != VIEWED)
            .order_by(AuditEvent.id)
        )
    )
    views = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.request_id == case.id, AuditEvent.action == VIEWED)
    )
    # Art. 19 notices to organisations belong to the case, not to the requester's mail.
    emails = [
        job
        for job in session.scalars(
            select(Job).where(Job.request_id == case.id, Job.kind == "send_email").order_by(Job.id)
        )
        if registry.get(job.payload["template"]).audience is Audience.REQUESTER
    ]
    actors = {e.actor for e in audit_events} | {n.author for n in notes}
    # The page also names who raised the identity assurance and who computed the plan.
    actors |= {a for a in (case.assurance_by, case.plan.created_by if case.plan else None) if a}
    today = deadlines.receipt_date(now)
    nir = vault.decrypt(case.nir_encrypted) if case.nir_encrypted else None
    return CasePage(
        case=case,
        holder=session.get(StaffUser, case.assignee_id) if case.assignee_id else None,
        preparer=session.get(StaffUser, case.prepared_by_id) if case.prepared_by_id else None,
        nir=mask_nir(nir) if nir else None,
        details=vault.decrypt(case.details_encrypted) if case.details_encrypted else None,
        refusal_message=vault.decrypt(case.refusal_message_encrypted),
        notes=tuple((n, vault.decrypt(n.body_encrypted)) for n in notes),
        audit_events=tuple(audit_events),
        views=views or 0,
        emails=tuple(emails),
        people=people(session, actors, named),
        days_left=(case.due_on - today).days if case.due_on else None,
    )

"""The staff decision on a file a requester sent as proof: the part every kind shares.

An identity document (``documents``) and a proof of relationship
(``relationship``) are decided alike: accepted, or another asked for with a
reason from the kind's fixed list, on a fresh read of the request. The file is
deleted by one conditional ``DELETE`` (of two decisions made at once, one finds
it and the other is refused) and the audit keeps who decided what, as codes.
What follows is each kind's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app import audit
from app.casework.cases import CaseError, actor, check_fresh, require
from app.identity import assurance
from app.identity.proof_files import Kind
from app.models import Request, StaffUser
from app.staffing import roles


@dataclass(frozen=True)
class Decided:
    """A decision written: by whom, and whether a refusal is to be emailed."""

    who: str
    # False for a frozen or closed request: it takes no other proof, nobody is asked for one.
    provable: bool


def take(
    session: Session,
    request: Request,
    staff: StaffUser,
    kind: Kind,
    document_id: int,
    accepted: bool,
    reason: str | None,
    version: int,
    now: datetime,
) -> Decided:
    """Check the decision, delete the file, audit it; ``CaseError`` when it cannot be.

    A frozen or closed request can still have its file refused, which deletes
    it, but not accepted.
    """
    require(staff, roles.WORK_CASES)
    check_fresh(session, request, version)
    provable = assurance.can_prove(request)
    if accepted and request.disputed_at is not None:
        raise CaseError("disputed")
    if accepted and not provable:
        raise CaseError("not_open")
    if not accepted and reason not in kind.reasons:
        raise CaseError("unknown_document_reason")
    table = kind.table
    kept = session.execute(
        delete(table)
        .where(table.id == document_id, table.request_id == request.id)
        .returning(kind.kept)
    ).scalar_one_or_none()
    if kept is None:
        raise CaseError(kind.missing)
    who = actor(staff)
    audit.record(
        session,
        actor=who,
        action=kind.accepted if accepted else kind.refused,
        now=now,
        request_id=request.id,
        details={kind.kept.key: kept, **({} if accepted else {"reason": reason})},
    )
    return Decided(who, provable)

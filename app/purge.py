"""Purge: personal data kept no longer than the law allows (docs/legal.md, "Retention").

Proof of a handled request is kept 5 years after closure (configurable:
``PURGE_CLOSED_AFTER_DAYS``), then its personal data goes: names, address,
number, free text, notes, links, package contents, and the keys that point at
the person in the sources. What stays is anonymous: the right exercised, the
status, the dates received, due and closed (so whether it was answered in
time), the plan's counts, and the audit trail, which never held personal data.

The date of birth column may not be empty, so a purged request holds the
sentinel ``PURGED_BIRTH_DATE`` instead; ``purged_at`` says it is not real.

Requests whose address was never confirmed are deleted outright after a week,
with everything hanging from them except their audit events.

Every function only flushes: the caller commits after each batch, so a long
purge never holds one huge transaction, and a purge interrupted halfway is
finished by the next run (each step finds only what is left to do).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from app import audit
from app.fulfilment import package_download
from app.models import (
    AccessPackage,
    Base,
    CaseNote,
    IdentityDocument,
    Job,
    LinkToken,
    Plan,
    PlanLine,
    RelationshipProof,
    Request,
    Restriction,
)

PURGED_BIRTH_DATE = date(1900, 1, 1)
UNVERIFIED_AFTER_DAYS = 7
# Closed statuses whose requests are kept as statistics; never-verified
# requests (unverified, expired) are deleted instead.
KEPT = ("completed", "denied", "withdrawn")
NEVER_VERIFIED = ("unverified", "expired")
ACTOR = "system:purge"
BATCH = 200


@dataclass
class Counts:
    """What a purge removes, per kind; never who."""

    requests: int = 0
    case_notes: int = 0
    link_tokens: int = 0
    packages: int = 0
    expired_packages: int = 0
    unverified: int = 0

    def add(self, other: Counts) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def total(self) -> int:
        return sum(getattr(self, item.name) for item in fields(self))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Cutoffs:
    now: datetime
    closed_before: datetime
    created_before: datetime


def cutoffs(now: datetime, closed_after_days: int) -> Cutoffs:
    return Cutoffs(
        now=now,
        closed_before=now - timedelta(days=closed_after_days),
        created_before=now - timedelta(days=UNVERIFIED_AFTER_DAYS),
    )


def _closed(c: Cutoffs) -> Any:
    return (
        Request.status.in_(KEPT)
        & Request.purged_at.is_(None)
        & Request.closed_at.is_not(None)
        & (Request.closed_at < c.closed_before)
    )


def _never_verified(c: Cutoffs) -> Any:
    return Request.status.in_(NEVER_VERIFIED) & (Request.created_at < c.created_before)


def _expired_package(c: Cutoffs) -> Any:
    return (
        AccessPackage.expires_at.is_not(None)
        & (AccessPackage.expires_at <= c.now)
        & AccessPackage.deleted_at.is_(None)
    )


def _count(session: Session, model: Any, *conditions: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def survey(session: Session, c: Cutoffs) -> Counts:
    """What a purge would remove now (``--dry-run``): counts only, nothing changed."""
    closed = select(Request.id).where(_closed(c))
    return Counts(
        requests=_count(session, Request, _closed(c)),
        case_notes=_count(session, CaseNote, CaseNote.request_id.in_(closed)),
        link_tokens=_count(session, LinkToken, LinkToken.request_id.in_(closed)),
        packages=_count(
            session,
            AccessPackage,
            AccessPackage.request_id.in_(closed),
            AccessPackage.deleted_at.is_(None),
        ),
        expired_packages=_count(
            session,
            AccessPackage,
            _expired_package(c),
            AccessPackage.request_id.not_in(closed),
        ),
        unverified=_count(session, Request, _never_verified(c)),
    )


def run(session: Session, c: Cutoffs, batch: int = BATCH) -> Iterator[Counts]:
    """Purge in batches, yielding each batch's counts; the caller commits between them."""
    while ids := list(session.scalars(select(Request.id).where(_never_verified(c)).limit(batch))):
        yield Counts(unverified=delete_requests(session, ids))
    while ids := list(
        session.scalars(select(Request.id).where(_closed(c)).order_by(Request.id).limit(batch))
    ):
        yield blank_requests(session, ids, c.now)
    # The download module owns the expiry of packages (and audits each one).
    expired = package_download.expire_packages(session, c.now)
    if expired:
        yield Counts(expired_packages=expired)


def blank_requests(session: Session, ids: list[int], now: datetime) -> Counts:
    """Remove the personal data of these closed requests; the rows stay as statistics."""
    notes = _deleted(session, delete(CaseNote).where(CaseNote.request_id.in_(ids)))
    tokens = _deleted(session, delete(LinkToken).where(LinkToken.request_id.in_(ids)))
    # A document still waiting when its request closed (withdrawn, refused) goes too.
    _run(session, delete(IdentityDocument).where(IdentityDocument.request_id.in_(ids)))
    _run(session, delete(RelationshipProof).where(RelationshipProof.request_id.in_(ids)))
    packages = session.scalars(
        select(AccessPackage.id).where(
            AccessPackage.request_id.in_(ids), AccessPackage.deleted_at.is_(None)
        )
    ).all()
    empty_packages(session, list(packages), now)
    # Keys of the person in the sources: pseudonymous, so personal too.
    plans = select(Plan.id).where(Plan.request_id.in_(ids))
    _run(session, update(Plan).where(Plan.request_id.in_(ids)).values(subjects={}))
    _run(session, update(PlanLine).where(PlanLine.plan_id.in_(plans)).values(record_keys={}))
    _run(
        session,
        delete(Restriction).where(
            Restriction.request_id.in_(ids), Restriction.lifted_at.is_not(None)
        ),
    )
    for job in session.scalars(select(Job).where(Job.request_id.in_(ids))):
        # A parked email job may still carry its link's secret value.
        if any(key.startswith("secret_") for key in job.payload):
            job.payload = {k: v for k, v in job.payload.items() if not k.startswith("secret_")}
    _run(
        session,
        update(Request)
        .where(Request.id.in_(ids))
        .values(
            first_name="",
            last_name="",
            last_name_digest=None,
            full_name_digest=None,
            email="",
            email_normalized="",
            birth_date=PURGED_BIRTH_DATE,
            nir_encrypted=None,
            details_encrypted=None,
            refusal_message_encrypted=None,
            # A request made for someone else: the requester's own identity goes too.
            requester_encrypted=None,
            medical_newest_on=None,
            purged_at=now,
        ),
    )
    session.flush()
    return Counts(requests=len(ids), case_notes=notes, link_tokens=tokens, packages=len(packages))


def empty_packages(session: Session, ids: list[int], now: datetime) -> int:
    """Delete the content of these access packages; the row stays as proof it existed."""
    if not ids:
        return 0
    _run(
        session,
        update(AccessPackage)
        .where(AccessPackage.id.in_(ids))
        .values(json_encrypted=None, html_encrypted=None, deleted_at=now),
    )
    return len(ids)


def delete_requests(session: Session, ids: list[int]) -> int:
    """Delete requests and every row hanging from them, children first (foreign keys).

    Found from the schema itself, so a table added later is not forgotten.
    Audit events have no foreign key on purpose: they stay.
    """
    requests = Base.metadata.tables[Request.__tablename__]
    doomed: dict[str, Any] = {requests.name: select(requests.c.id).where(requests.c.id.in_(ids))}
    tables: list[Table] = list(Base.metadata.sorted_tables)
    for table in tables:
        for fk in table.foreign_keys:
            parent = fk.column.table.name
            if parent in doomed and table.name != parent and table.name not in doomed:
                doomed[table.name] = select(*table.primary_key.columns).where(
                    fk.parent.in_(doomed[parent])
                )
    for table in reversed(tables):
        if table.name == requests.name or table.name not in doomed:
            continue
        conditions = [
            fk.parent.in_(doomed[fk.column.table.name])
            for fk in table.foreign_keys
            if fk.column.table.name in doomed
        ]
        _run(session, delete(table).where(_any(conditions)))
    deleted = _deleted(session, delete(requests).where(requests.c.id.in_(ids)))
    session.flush()
    return deleted


def _any(conditions: list[Any]) -> Any:
    found = conditions[0]
    for condition in conditions[1:]:
        found = found | condition
    return found


def _run(session: Session, statement: Any) -> Any:
    return session.execute(statement.execution_options(synchronize_session=False))


def _deleted(session: Session, statement: Any) -> int:
    return int(_run(session, statement).rowcount or 0)


def record(session: Session, counts: Counts, c: Cutoffs, actor: str = ACTOR) -> None:
    """The one audit event of a purge: counts per kind and the cut-off dates."""
    audit.record(
        session,
        actor=actor,
        action="data.purged",
        now=c.now,
        details={
            **counts.as_dict(),
            "closed_before": c.closed_before.date().isoformat(),
            "created_before": c.created_before.date().isoformat(),
        },
    )

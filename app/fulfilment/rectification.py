"""Rectification (Art. 16) and restriction (Art. 18): flag, correct, lift.

Approval queues the ``restrict`` job: it flags every record the plan's
``rectify`` lines name (a ``Restriction`` row each) and tells the recipients
of those categories (Art. 19), then leaves the request ``fulfilling``. Staff
then correct each record on the rectification screen (``rectify``; what it
reads and how an input is typed: ``app.fulfilment.correction``), which
writes exactly that source row and lifts its flag, and ``finish`` the request
when no flag is left, or close it as accurate, which lifts them all.

The audit trail names the fields a correction changed, never their values:
the values are health data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit, fulfilment, lifecycle
from app.casework import cases
from app.fulfilment.correction import RectifyError, convert, editable, match, read, spec_of
from app.fulfilment.report import report_line
from app.models import AuditEvent, Job, Plan, Request, Restriction, StaffUser
from app.outbox import emails
from app.rules.catalogue import Catalogue
from app.rules.sources import Warehouse
from app.services import Services
from app.staffing import roles

ACTIONS = ("rectify",)


def restrict_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``restrict`` jobs."""
    request = session.get(Request, job.request_id) if job.request_id is not None else None
    if request is None:
        raise LookupError("the request of this rectification no longer exists")
    restrict(session, request, catalogue=services.catalogue, now=now, mail=services.mail)


def encode_key(key: Iterable[Any]) -> str:
    """A record's primary key as stored in ``Restriction.record_key`` (JSON keeps types)."""
    return json.dumps(list(key), separators=(",", ":"))


def restrict(
    session: Session,
    request: Request,
    *,
    catalogue: Catalogue,
    now: datetime,
    mail: emails.MailSettings,
) -> int:
    """Flag every record named by the plan's rectify lines; returns how many were new."""
    if not fulfilment.begin(session, request, now, mail):
        return 0
    existing = {
        (r.source, r.table_name, r.record_key)
        for r in session.scalars(select(Restriction).where(Restriction.request_id == request.id))
    }
    added = 0
    categories: list[tuple[str, str]] = []
    for line in _lines(request.plan):
        categories.append((line.source, line.category))
        for table, keys in sorted(line.record_keys.items()):
            for key in keys:
                flag = (line.source, table, encode_key(key))
                if flag in existing:
                    continue
                existing.add(flag)
                session.add(
                    Restriction(
                        request_id=request.id,
                        source=line.source,
                        table_name=table,
                        record_key=flag[2],
                        created_at=now,
                    )
                )
                added += 1
    audit.record(
        session,
        actor=fulfilment.ACTOR,
        action="records.restricted",
        now=now,
        request_id=request.id,
        details={"records": len(existing), "added": added},
    )
    fulfilment.notify_recipients(
        session, request, categories, "restricted", catalogue, now, mail.domain
    )
    return added


def _lines(plan: Plan | None) -> list[Any]:
    return [line for line in (plan.lines if plan else []) if line.action in ACTIONS]


def active(session: Session, request: Request) -> list[Restriction]:
    """The request's records still restricted, in a stable order."""
    return list(
        session.scalars(
            select(Restriction)
            .where(Restriction.request_id == request.id, Restriction.lifted_at.is_(None))
            .order_by(Restriction.id)
        )
    )


def restricted_subjects(session: Session, source: str) -> set[Any]:
    """Person keys in ``source`` of everyone with a record still restricted (Art. 18)."""
    ids = session.scalars(
        select(Restriction.request_id).where(Restriction.lifted_at.is_(None)).distinct()
    ).all()
    people: set[Any] = set()
    for request_id in ids:
        request = session.get(Request, request_id)
        plan = request.plan if request else None
        if plan and source in plan.subjects:
            people.add(plan.subjects[source])
    return people


def rectify(
    session: Session,
    request: Request,
    restriction_id: int,
    values: Mapping[str, str],
    staff: StaffUser,
    *,
    catalogue: Catalogue,
    warehouse: Warehouse,
    version: int,
    now: datetime,
) -> list[str]:
    """Correct one restricted record and lift its flag; returns the names of the fields changed.

    Every input is checked before anything is written; the source row is
    updated in one transaction of its own, by its primary key, and must be
    exactly one row. Unchanged values are not written.
    """
    _check(session, request, staff, version)
    restriction = session.get(Restriction, restriction_id)
    if restriction is None or restriction.request_id != request.id:
        raise RectifyError("unknown_record")
    if restriction.lifted_at is not None:
        raise RectifyError("already_done")
    source, spec = spec_of(catalogue, restriction.source, restriction.table_name)
    table = warehouse.table(source, spec.name)
    columns = {c.name: c for c in editable(table, spec)}
    unknown = sorted(set(values) - set(columns))
    if unknown:
        raise RectifyError("unknown_field", unknown[0])
    typed = {name: convert(columns[name], raw) for name, raw in values.items()}
    current = read(warehouse, source, spec, restriction.record_key)
    if current is None:
        raise RectifyError("record_gone")
    changes = {name: value for name, value in typed.items() if value != current[name]}
    if changes:
        try:
            with warehouse.engine(source).begin() as connection:
                done = connection.execute(
                    table.update()
                    .where(*match(table, spec, restriction.record_key))
                    .values(**changes)
                )
                if done.rowcount != 1:
                    raise RectifyError("record_gone")
        except IntegrityError:
            raise RectifyError("rejected") from None
    who = cases.actor(staff)
    restriction.lifted_at = now
    lifecycle.touch(session, request, actor=who, now=now)
    audit.record(
        session,
        actor=who,
        action="record.rectified" if changes else "record.confirmed",
        now=now,
        request_id=request.id,
        details={
            "source": restriction.source,
            "table": restriction.table_name,
            "key": json.loads(restriction.record_key),
            "fields": sorted(changes),
        },
    )
    return sorted(changes)


def _check(session: Session, request: Request, staff: StaffUser, version: int) -> None:
    if not staff.is_active or not roles.allowed(staff.role, roles.WORK_CASES):
        raise cases.Forbidden("role")
    if request.assignee_id != staff.id:
        raise cases.Forbidden("not_holder")
    if request.version != version:
        raise lifecycle.stale(session, request.id)
    if request.kind != "rectification" or request.status != "fulfilling":
        raise cases.CaseError("wrong_status")


def finish(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    accurate: bool,
    catalogue: Catalogue,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """Complete the request: every record corrected or checked, or all found accurate.

    ``accurate`` closes without change and lifts the flags still set; else no
    flag may be left. Recipients of the categories corrected are told (Art. 19).
    """
    _check(session, request, staff, version)
    left = active(session, request)
    if left and not accurate:
        raise RectifyError("records_pending")
    who = cases.actor(staff)
    for restriction in left:
        restriction.lifted_at = now
    if left:
        audit.record(
            session,
            actor=who,
            action="records.lifted",
            now=now,
            request_id=request.id,
            details={"records": len(left), "reason": "accurate"},
        )
    corrections = _corrections(session, request)
    counts = _counts(session, request)
    lines = []
    corrected: list[tuple[str, str]] = []
    for line in request.plan.lines if request.plan else []:
        entry = report_line(line, explained=True)
        if line.action in ACTIONS:
            fields = {
                table: sorted(names)
                for (source, table), names in corrections.items()
                if source == line.source and table in line.record_keys
            }
            count = sum(
                n
                for (source, table), n in counts.items()
                if source == line.source and table in line.record_keys
            )
            entry |= {"corrected": count, "fields": fields}
            if count:
                corrected.append((line.source, line.category))
        lines.append(entry)
    notified = fulfilment.notify_recipients(
        session, request, corrected, "rectified", catalogue, now, mail.domain
    )
    total = sum(line.get("corrected", 0) for line in lines)
    # The outcome and a flag, never counts: what was corrected is on the status page.
    fulfilment.complete(
        session,
        request,
        lines,
        now,
        mail,
        email={"outcome": "corrected" if total else "accurate", "notified": notified > 0},
    )


def _events(session: Session, request: Request) -> list[dict[str, Any]]:
    return [
        event.details
        for event in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.request_id == request.id, AuditEvent.action == "record.rectified")
            .order_by(AuditEvent.id)
        )
    ]


def _corrections(session: Session, request: Request) -> dict[tuple[str, str], set[str]]:
    """The names of the fields corrected, per source and table, from the audit trail."""
    found: dict[tuple[str, str], set[str]] = {}
    for details in _events(session, request):
        found.setdefault((details["source"], details["table"]), set()).update(details["fields"])
    return found


def _counts(session: Session, request: Request) -> dict[tuple[str, str], int]:
    """How many records were corrected, per source and table."""
    found: dict[tuple[str, str], int] = {}
    for details in _events(session, request):
        place = (details["source"], details["table"])
        found[place] = found.get(place, 0) + 1
    return found

"""Erasure (Art. 17): delete exactly the rows the approved plan names, per source, idempotently.

The job runs in three stages. Each source holding ``erase`` lines is erased
in one transaction on its own database, by primary key only (``DELETE ...
WHERE pk IN (keys)``, never a broader condition), and a ``FulfilmentStep``
then records it in the portal database. The two databases cannot commit
together: a crash between the two leaves the rows gone and no step, and the
rerun deletes the same keys again, which deletes nothing more. So the
figures of the report never come from the row counts of a run: they come
from the plan (the keys it named) and from a final check that none of those
keys remains. Last, in the job's own transaction, the report, the
completion email and one Art. 19 notice per recipient of the erased
categories are written together with the status ``completed``; a rerun
finds the request completed and does nothing.

The catalogue has no notion of anonymising a table instead of deleting its
rows: every erased row is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.schema import sort_tables

from app import audit, fulfilment
from app.fulfilment.report import report_line
from app.models import FulfilmentStep, Job, PlanLine, Request
from app.rules.catalogue import Source
from app.rules.sources import Warehouse
from app.services import Services

ACTION = "erase"
# Bound parameters per statement: far below SQLite's and PostgreSQL's limits.
CHUNK = 500

Keys = dict[str, list[tuple[Any, ...]]]


class ErasureIncomplete(RuntimeError):
    """Rows the plan named are still in a source after every step ran (counts only)."""


def erase_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``erase`` jobs."""
    if job.request_id is None:
        return
    request = session.get(Request, job.request_id)
    if request is None:
        raise LookupError("the request of this erasure no longer exists")
    erase(session, request, services, now)


def erase(session: Session, request: Request, services: Services, now: datetime) -> bool:
    """Carry out an approved erasure; False if there is nothing (more) to do.

    Commits the portal session after each source (the step must outlive a
    crash of the next source); the completion is left to the caller's commit.
    """
    if not fulfilment.begin(session, request, now, services.mail):
        return False
    plan = request.plan
    if plan is None:
        raise LookupError("an approved erasure has no plan")
    request_id = request.id
    lines = list(plan.lines)
    work = keys_by_source(lines)
    done = set(
        session.scalars(
            select(FulfilmentStep.source).where(
                FulfilmentStep.request_id == request_id, FulfilmentStep.action == ACTION
            )
        )
    )
    # Keeps the move to ``fulfilling``, and ends the portal transaction: none
    # stays open (on SQLite, a write lock) while a source is being erased.
    session.commit()
    for source_name, keys in work.items():
        if source_name in done:
            continue
        deleted = erase_source(services.warehouse, services.catalogue.source(source_name), keys)
        session.add(
            FulfilmentStep(
                request_id=request_id,
                action=ACTION,
                source=source_name,
                count=sum(deleted.values()),
                details=deleted,
                done_at=now,
            )
        )
        audit.record(
            session,
            actor=fulfilment.ACTOR,
            action="erasure.source_erased",
            now=now,
            request_id=request_id,
            details={"source": source_name, "deleted": deleted},
        )
        session.commit()
    left = remaining(services, work)
    if any(left.values()):
        raise ErasureIncomplete(
            "rows named by the plan remain in: "
            + ", ".join(f"{name} ({count})" for name, count in sorted(left.items()) if count)
        )
    erased = [line for line in lines if line.action == ACTION and line.record_count]
    notified = fulfilment.notify_recipients(
        session,
        request,
        [(line.source, line.category) for line in erased],
        "erased",
        services.catalogue,
        now,
        services.mail.domain,
    )
    # A flag, never categories or counts: the email says the step, the status page the details.
    fulfilment.complete(
        session, request, report_lines(lines), now, services.mail, email={"notified": notified > 0}
    )
    return True


def keys_by_source(lines: Sequence[PlanLine]) -> dict[str, Keys]:
    """The keys to delete per source and table, in plan order, never one another line keeps.

    Every record is in exactly one line of a plan; the subtraction only
    guards against a plan that broke that rule.
    """
    kept: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
    for line in lines:
        if line.action != ACTION:
            for table, keys in line.record_keys.items():
                kept.setdefault((line.source, table), set()).update(tuple(k) for k in keys)
    found: dict[str, dict[str, set[tuple[Any, ...]]]] = {}
    for line in lines:
        if line.action == ACTION:
            tables = found.setdefault(line.source, {})
            for table, keys in line.record_keys.items():
                tables.setdefault(table, set()).update(tuple(k) for k in keys)
    return {
        source: {
            table: sorted(keys - kept.get((source, table), set()))
            for table, keys in sorted(tables.items())
        }
        for source, tables in found.items()
    }


def _chunks(keys: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[tuple[Any, ...]]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def _by_key(table: Table, primary_key: Sequence[str], chunk: Sequence[tuple[Any, ...]]) -> Any:
    """``pk IN (chunk)``: the only condition an erasure ever deletes by."""
    columns = [table.c[name] for name in primary_key]
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in chunk])
    return tuple_(*columns).in_([tuple(key) for key in chunk])


def _primary_key(source: Source, table: str) -> tuple[str, ...]:
    return next(spec.primary_key for spec in source.tables if spec.name == table)


def deletion_order(warehouse: Warehouse, source: Source, tables: Sequence[str]) -> list[str]:
    """Children before parents: by declared foreign keys, else reverse catalogue order.

    The catalogue lists a parent before the tables that point at it (stays
    before diagnoses), which decides when the database declares nothing.
    """
    listed = [spec.name for spec in source.tables if spec.name in tables]
    # sort_tables puts parents first and keeps the given order otherwise.
    reflected = [warehouse.table(source, name) for name in listed]
    return [table.name for table in reversed(sort_tables(reflected))]


def erase_source(warehouse: Warehouse, source: Source, keys: Keys) -> dict[str, int]:
    """Delete the named rows of one source in one transaction; rows deleted per table."""
    deleted: dict[str, int] = {}
    # Reflected before the transaction opens: it holds the source's write lock.
    tables = [
        warehouse.table(source, name) for name in deletion_order(warehouse, source, list(keys))
    ]
    with warehouse.engine(source).begin() as connection:
        for table in tables:
            name = table.name
            primary_key = _primary_key(source, name)
            count = 0
            for chunk in _chunks(keys[name]):
                result = connection.execute(
                    delete(table).where(_by_key(table, primary_key, chunk))
                )
                count += result.rowcount
            deleted[name] = count
    return deleted


def _count(
    connection: Connection,
    table: Table,
    primary_key: Sequence[str],
    keys: Sequence[tuple[Any, ...]],
) -> int:
    total = 0
    for chunk in _chunks(keys):
        query = select(func.count()).select_from(table).where(_by_key(table, primary_key, chunk))
        total += connection.execute(query).scalar_one()
    return total


def remaining(services: Services, work: dict[str, Keys]) -> dict[str, int]:
    """How many of the rows each source was to erase are still there (0 when done)."""
    left: dict[str, int] = {}
    warehouse = services.warehouse
    for source_name, keys in work.items():
        source = services.catalogue.source(source_name)
        with warehouse.engine(source).connect() as connection:
            left[source_name] = sum(
                _count(
                    connection,
                    warehouse.table(source, name),
                    _primary_key(source, name),
                    table_keys,
                )
                for name, table_keys in keys.items()
            )
    return left


def report_lines(lines: Sequence[PlanLine]) -> list[dict[str, Any]]:
    """The report: per source and category, what was erased or kept, and why; from the plan.

    Counts are the records the plan named (all verified gone for ``erase``),
    so a rerun after a crash reports exactly what an uninterrupted run does.
    """
    # A kept line carries its explanation: the reasons of a refusal in part (Art. 12(4)).
    return [report_line(line, explained=line.action != ACTION) for line in lines]

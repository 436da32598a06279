"""Objection (Art. 21): the objection registry, honoured by research extracts.

An approved objection enters the person in the warehouse's objection
registry, once: the job inserts only when no entry of the same scope exists,
so a rerun adds nothing. Nothing is ever deleted: an objection stops future
reuse for research (Art. 21(6)); the data stays where the law keeps it, the
reimbursements above all (docs/legal.md, "What each right produces").

``research_extract`` is the other half: it builds a pseudonymised extract of a
cohort and leaves out everyone the registry names, and everyone whose records
are restricted (Art. 18), whose keys the caller reads from the portal.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from app import audit, deadlines, fulfilment
from app.fulfilment.report import report_line
from app.models import FulfilmentStep, Job, Plan, Request
from app.outbox import emails
from app.rules.catalogue import Catalogue, DataTable, Source
from app.rules.sources import Warehouse
from app.services import Services

REGISTRY_CATEGORY = "research.objection"
EXTRACT_CATEGORY = "research.extract"
# The registry's scope column (catalogue/WAREHOUSE_SCHEMA.md): an objection
# filed through the portal covers all research; "cohort:NAME" covers one.
SCOPE_COLUMN = "scope"
ALL_RESEARCH = "all_research"
STEP = "objection_registered"


def record_objection_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``record_objection`` jobs."""
    request = session.get(Request, job.request_id) if job.request_id is not None else None
    if request is None:
        raise LookupError("the request of this objection no longer exists")
    record_objection(
        session,
        request,
        catalogue=services.catalogue,
        warehouse=services.warehouse,
        now=now,
        mail=services.mail,
    )


def record_objection(
    session: Session,
    request: Request,
    *,
    catalogue: Catalogue,
    warehouse: Warehouse,
    now: datetime,
    mail: emails.MailSettings,
) -> bool:
    """Register the objection and complete the request; False if nothing was to be done."""
    if not fulfilment.begin(session, request, now, mail):
        return False
    plan = request.plan
    subjects = plan.subjects if plan else {}
    today = deadlines.receipt_date(now)
    added = 0
    registries = 0
    for source, spec in catalogue.tables_of(REGISTRY_CATEGORY):
        if source.name not in subjects:
            continue
        registries += 1
        inserted = register(warehouse, source, spec, subjects[source.name], today)
        added += inserted
        _step(session, request, source.name, inserted, now)
    audit.record(
        session,
        actor=fulfilment.ACTOR,
        action="objection.registered",
        now=now,
        request_id=request.id,
        details={"registries": registries, "added": added},
    )
    # The email says the step only: what is left out and what is kept are on the status page.
    fulfilment.complete(session, request, report_lines(plan), now, mail)
    return True


def register(warehouse: Warehouse, source: Source, spec: DataTable, person: Any, on: date) -> int:
    """Enter ``person`` in one registry for all research, unless already there: 1 or 0.

    The registry lives in the source's own database, so this is its own
    transaction; being a no-op the second time, it is safe to redo.
    """
    table = warehouse.table(source, spec.name)
    subject = table.c[spec.subject]
    condition = subject == person
    if SCOPE_COLUMN in table.c:
        condition = condition & (table.c[SCOPE_COLUMN] == ALL_RESEARCH)
    with warehouse.engine(source).begin() as connection:
        if connection.execute(select(subject).where(condition).limit(1)).first():
            return 0
        values: dict[str, Any] = {spec.subject: person, spec.date_column: on}
        if SCOPE_COLUMN in table.c:
            values[SCOPE_COLUMN] = ALL_RESEARCH
        connection.execute(table.insert().values(**values))
    return 1


def _step(session: Session, request: Request, source: str, added: int, now: datetime) -> None:
    """Remember the registration per source (a rerun keeps the first count)."""
    done = session.scalar(
        select(FulfilmentStep).where(
            FulfilmentStep.request_id == request.id,
            FulfilmentStep.action == STEP,
            FulfilmentStep.source == source,
        )
    )
    if done is None:
        session.add(
            FulfilmentStep(
                request_id=request.id, action=STEP, source=source, count=added, done_at=now
            )
        )


def report_lines(plan: Plan | None) -> list[dict[str, Any]]:
    """What is left out of research from now on, what is kept and why: the plan's lines."""
    return [report_line(line, explained=True) for line in (plan.lines if plan else [])]


@dataclass
class Extract:
    """A pseudonymised extract: its rows, and how many people were left out, never who."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    left_out_objection: int = 0
    left_out_restriction: int = 0


def research_source(catalogue: Catalogue) -> tuple[Source, DataTable]:
    """The source and table holding research extracts (the first one the catalogue lists)."""
    found = catalogue.tables_of(EXTRACT_CATEGORY)
    if not found:
        raise LookupError(f"no table of category {EXTRACT_CATEGORY} in the catalogue")
    return found[0]


def objectors(
    connection: Connection, warehouse: Warehouse, source: Source, cohort: str
) -> set[Any]:
    """Person keys the source's registries exclude from ``cohort``: all research, or it."""
    people: set[Any] = set()
    for spec in source.tables:
        if spec.category != REGISTRY_CATEGORY:
            continue
        table = warehouse.table(source, spec.name)
        query = select(table.c[spec.subject])
        if SCOPE_COLUMN in table.c:
            query = query.where(table.c[SCOPE_COLUMN].in_((ALL_RESEARCH, f"cohort:{cohort}")))
        people.update(connection.scalars(query))
    return people


def research_extract(
    warehouse: Warehouse,
    cohort: str,
    as_of: date,
    restricted: Collection[Any] = frozenset(),
) -> Extract:
    """Each cohort member's latest variables extracted on or before ``as_of``, pseudonymised.

    Objections are honoured whenever they were registered: an extract made
    now is a future extract for every objection already on file.
    """
    source, spec = research_source(warehouse.catalogue)
    if spec.link is None:
        raise LookupError(f"table {spec.name} has no linkage table: it is not pseudonymised")
    extracts = warehouse.table(source, spec.name)
    linkage = warehouse.table(source, spec.link.table)
    person = linkage.c[spec.link.subject]
    query = (
        select(
            person,
            extracts.c[spec.subject],
            extracts.c[spec.date_column],
            extracts.c["variables"],
        )
        .join(linkage, extracts.c[spec.subject] == linkage.c[spec.link.key])
        .where(extracts.c["cohort"] == cohort, extracts.c[spec.date_column] <= as_of)
        .order_by(extracts.c[spec.subject], extracts.c[spec.date_column], *_pk(extracts, spec))
    )
    latest: dict[str, tuple[Any, Any, Any]] = {}
    with warehouse.engine(source).connect() as connection:
        excluded = objectors(connection, warehouse, source, cohort)
        for key, pseudonym, extracted_on, variables in connection.execute(query):
            latest[pseudonym] = (key, extracted_on, variables)
    blocked = set(restricted)
    result = Extract(columns=["pseudonym", "extracted_on"])
    names: set[str] = set()
    # People, not rows: someone may hold several pseudonyms.
    objecting: set[Any] = set()
    restricting: set[Any] = set()
    for pseudonym in sorted(latest):
        key, extracted_on, variables = latest[pseudonym]
        if key in excluded:
            objecting.add(key)
            continue
        if key in blocked:
            restricting.add(key)
            continue
        values = _variables(variables)
        names.update(values)
        result.rows.append({**values, "pseudonym": pseudonym, "extracted_on": extracted_on})
    result.columns += sorted(names - set(result.columns))
    result.left_out_objection = len(objecting)
    result.left_out_restriction = len(restricting)
    return result


def _pk(table: Any, spec: DataTable) -> list[Any]:
    return [table.c[name] for name in spec.primary_key]


def _variables(raw: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {"variables": raw}
    return dict(parsed) if isinstance(parsed, dict) else {"variables": parsed}

"""The records under correction: their source rows, their correctable fields, typed inputs.

A rectification restricts records (``app.fulfilment.rectification``) that
staff then correct one by one. This module reads what that needs from the
warehouse: the current row of a restricted record, which of its columns staff
may change, and each input converted to its column's type (or refused,
naming the field). ``correction_screen`` is the read model of the
correction screen: every restricted record with its current values, and the
ones already done. The values are health data: only the case's holder and
DPOs read them (``cases.may_read_records``), and each read of the sources
is an audit event; anyone else who works cases gets the counts only, and
the sources are not read for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Date, DateTime, Float, Integer, Numeric, String, Table, select
from sqlalchemy.orm import Session

from app.casework import cases
from app.models import Request, Restriction, StaffUser
from app.rules.catalogue import Catalogue, DataTable, Source
from app.rules.sources import Warehouse

# An unbounded text column still gets a bound: a correction is a few words.
TEXT_MAX = 10_000


class RectifyError(cases.CaseError):
    """A correction refused; ``field`` names the input at fault, if one is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


def spec_of(catalogue: Catalogue, source: str, table: str) -> tuple[Source, DataTable]:
    found = catalogue.source(source)
    return found, next(t for t in found.tables if t.name == table)


def editable(table: Table, spec: DataTable) -> list[Column[Any]]:
    """Columns staff may correct: never a key, the person, or a pointer to another row."""
    fixed = set(spec.primary_key) | {spec.subject}
    if spec.link:
        fixed |= {spec.link.key, spec.link.subject}
    return [c for c in table.columns if c.name not in fixed and not c.name.endswith("_id")]


def read(warehouse: Warehouse, source: Source, spec: DataTable, key: str) -> dict[str, Any] | None:
    """The current row of a restricted record (staff may see the data they correct)."""
    table = warehouse.table(source, spec.name)
    with warehouse.engine(source).connect() as connection:
        row = connection.execute(select(table).where(*match(table, spec, key))).mappings().first()
    return dict(row) if row else None


def match(table: Table, spec: DataTable, key: str) -> list[Any]:
    """The conditions selecting the one row of a stored record key."""
    parts = json.loads(key)
    return [table.c[name] == value for name, value in zip(spec.primary_key, parts, strict=True)]


def is_date(column: Column[Any]) -> bool:
    """A date without a time: the screen tells how to write it."""
    return isinstance(column.type, Date) and not isinstance(column.type, DateTime)


def convert(column: Column[Any], raw: str) -> Any:
    """The typed value of one input, or RectifyError naming the field."""
    text = raw.strip()
    kind = column.type
    if text == "":
        if column.nullable:
            return None
        raise RectifyError("required", column.name)
    try:
        if isinstance(kind, DateTime):
            return datetime.fromisoformat(text)
        if isinstance(kind, Date):
            return date.fromisoformat(text)
        if isinstance(kind, Integer):
            return int(text)
        if isinstance(kind, Float | Numeric):
            return float(text)
    except ValueError:
        reason = "invalid_date" if isinstance(kind, Date | DateTime) else "invalid_number"
        raise RectifyError(reason, column.name) from None
    limit = kind.length if isinstance(kind, String) and kind.length else TEXT_MAX
    if len(text) > limit:
        raise RectifyError("too_long", column.name)
    return text


@dataclass(frozen=True)
class Field:
    """One correctable field of a record, its current value as text."""

    name: str
    value: str
    is_date: bool


@dataclass(frozen=True)
class Restricted:
    """A record still restricted, as the correction screen shows it."""

    restriction: Restriction
    source: str
    table: str
    key: str
    fields: list[Field]
    # False when the row no longer exists in its source.
    found: bool


@dataclass(frozen=True)
class CorrectionScreen:
    """What the screen shows; ``shown`` False: counts only, ``pending`` and ``done`` empty."""

    pending: list[Restricted]
    done: list[Restriction]
    shown: bool = True
    left: int = 0
    lifted: int = 0


def correction_screen(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    catalogue: Catalogue,
    warehouse: Warehouse,
    now: datetime,
) -> CorrectionScreen:
    """The request's restricted records with their current values, and those done.

    Any request answers (with nothing to correct when it restricted nothing);
    the domain refuses a correction outside a rectification being fulfilled.
    For someone who may not read the records, the counts only; reading them
    is an audit event (``case.source_read``) in the caller's transaction.
    """
    records = session.scalars(
        select(Restriction).where(Restriction.request_id == request.id).order_by(Restriction.id)
    ).all()
    left = sum(1 for r in records if r.lifted_at is None)
    if not cases.may_read_records(request, staff):
        return CorrectionScreen([], [], shown=False, left=left, lifted=len(records) - left)
    if left:
        cases.record_source_read(session, request, staff, now, screen="correction", records=left)
    pending, done = [], []
    for restriction in records:
        if restriction.lifted_at is not None:
            done.append(restriction)
            continue
        source, spec = spec_of(catalogue, restriction.source, restriction.table_name)
        table = warehouse.table(source, spec.name)
        row = read(warehouse, source, spec, restriction.record_key)
        fields = [
            Field(
                column.name,
                "" if row is None or row[column.name] is None else str(row[column.name]),
                is_date(column),
            )
            for column in editable(table, spec)
        ]
        pending.append(
            Restricted(
                restriction,
                restriction.source,
                restriction.table_name,
                restriction.record_key,
                fields,
                row is not None,
            )
        )
    return CorrectionScreen(pending, done, left=left, lifted=len(done))

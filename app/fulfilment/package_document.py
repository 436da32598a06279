"""What an access package (Art. 15) or portable copy (Art. 20) holds, and writing it.

``build`` reads exactly the rows the approved plan names (by primary key, and
only where they still belong to the plan's subject) and writes the
machine-readable JSON document (``docs/package-format.md``) and the printable
HTML page (``app.fulfilment.package_view``) in the request's language, with
the wording of ``app.fulfilment.package_words``. Nothing is stored here:
the job (``app.fulfilment.package_build``) encrypts and keeps the result.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, tuple_
from sqlalchemy.orm import object_session

from app.fulfilment import third_parties
from app.fulfilment.package_view import render_html
from app.fulfilment.package_words import language, words
from app.models import AccessPackage, Request
from app.rules.catalogue import Catalogue, DataTable, Source
from app.rules.routing import Line
from app.rules.sources import Warehouse
from app.services import Services

FORMAT_VERSION = 1
# Keys read per query, and records between two progress updates.
BATCH = 500
PROGRESS_EVERY = 500
# Why a portability request gets the Art. 15 copy instead (Art. 20(3)).
PORTABILITY_REFUSED = "public_task"


@dataclass(frozen=True)
class Snapshot:
    """What a package is built from, copied out of the session: the request and its plan."""

    request_id: int
    reference: str
    kind: str
    locale: str
    subjects: dict[str, Any]
    lines: tuple[Line, ...]
    generated_at: datetime
    # Passages about other people the holder masked (``third_parties``), by record and column.
    redactions: Mapping[third_parties.Target, tuple[third_parties.Span, ...]] = field(
        default_factory=dict
    )
    # The requester acts for the subject (``Request.acts_as``): the wording is the person's.
    for_other: bool = False


@dataclass
class Built:
    """A package's two documents and what went into them, before they are stored."""

    format: str
    portability_refused: str | None
    json_text: str
    html_text: str
    records: int
    # (source, category) -> records disclosed, and keys no longer found
    disclosed: dict[tuple[str, str], int] = field(default_factory=dict)
    missing: dict[tuple[str, str], int] = field(default_factory=dict)
    # Passages about other people masked, and in how many records.
    redacted_passages: int = 0
    redacted_records: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.json_text.encode()).hexdigest()


def snapshot(request: Request, package: AccessPackage | None) -> Snapshot:
    """The request and its plan in force, as the build reads them."""
    plan = request.plan
    # Copied out of the session: the build touches no ORM object.
    lines = tuple(Line.of(line) for line in (plan.lines if plan else []))
    session = object_session(request)
    spans = third_parties.snapshot_spans(session, request) if session is not None else {}
    return Snapshot(
        request_id=request.id,
        reference=request.reference or "",
        kind=request.kind,
        locale=language(request.locale),
        subjects=dict(plan.subjects) if plan else {},
        lines=lines,
        # The package's own creation time: a rebuilt package is the same package.
        generated_at=package.created_at if package else request.created_at,
        redactions=spans,
        for_other=request.acts_as != "self",
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_rows(
    warehouse: Warehouse,
    connection: Connection,
    source: Source,
    table_name: str,
    subject_key: Any,
    keys: Sequence[Sequence[Any]],
) -> Iterator[dict[str, Any]]:
    """The rows of ``keys`` that still belong to the subject, in the keys' order.

    Read by primary key, never by a broader query; the subject condition is a
    second lock: a key that no longer points at this person yields nothing.
    """
    spec = next(t for t in source.tables if t.name == table_name)
    table = warehouse.table(source, spec.name)
    pk = [table.c[c] for c in spec.primary_key]
    for chunk in _chunks(keys, BATCH):
        if len(pk) == 1:
            condition = pk[0].in_([k[0] for k in chunk])
        else:
            condition = tuple_(*pk).in_([tuple(k) for k in chunk])
        query = select(table).where(condition)
        if spec.link:
            link = warehouse.table(source, spec.link.table)
            query = query.join(link, table.c[spec.subject] == link.c[spec.link.key]).where(
                link.c[spec.link.subject] == subject_key
            )
        else:
            query = query.where(table.c[spec.subject] == subject_key)
        for row in connection.execute(query.order_by(*pk)).mappings():
            yield {name: _json_value(value) for name, value in row.items()}


def build(
    snap: Snapshot,
    services: Services,
    progress: Callable[[int], None] | None = None,
) -> Built:
    """Read the disclosed rows and write the JSON and HTML documents (nothing stored)."""
    say = words(snap.locale, snap.for_other)
    disclose = [line for line in snap.lines if line.action == "disclose"]
    refused = None
    if snap.kind == "portability" and not all(_portable(services, li) for li in disclose):
        refused = PORTABILITY_REFUSED
    fmt = "portability" if snap.kind == "portability" and refused is None else "access"
    built = Built(fmt, refused, "", "", 0)
    entries: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    sources = [services.catalogue.source(li.source) for li in disclose]
    connections = services.warehouse.connections(sources)
    try:
        for line in disclose:
            source = services.catalogue.source(line.source)
            subject = snap.subjects.get(line.source)
            found = 0
            dates: list[str] = []
            for table_name, keys in sorted(line.record_keys.items()):
                if subject is None:
                    break
                rows = read_rows(
                    services.warehouse,
                    connections[source.url],
                    source,
                    table_name,
                    subject,
                    keys,
                )
                spec = next(t for t in source.tables if t.name == table_name)
                for row in rows:
                    entry = {
                        "source": line.source,
                        "category": line.category,
                        "table": table_name,
                        "key": {c: row[c] for c in spec.primary_key},
                        "fields": row,
                    }
                    _redact(snap, built, line.source, spec, entry, say["redacted_marker"])
                    entries.append(entry)
                    found += 1
                    if row.get(spec.date_column):
                        dates.append(str(row[spec.date_column])[:10])
                    if progress and len(entries) % PROGRESS_EVERY == 0:
                        progress(len(entries))
            built.disclosed[(line.source, line.category)] = found
            built.missing[(line.source, line.category)] = line.record_count - found
            category = _category(services, source, line, found, snap.locale)
            category["period"] = {"from": min(dates), "to": max(dates)} if dates else None
            categories.append(category)
    finally:
        for connection in connections.values():
            connection.close()
    built.records = len(entries)
    document = {
        "format": fmt,
        "format_version": FORMAT_VERSION,
        "reference": snap.reference,
        "language": snap.locale,
        "for_someone_else": snap.for_other,
        "generated_at": snap.generated_at.isoformat(),
        "controller": {
            "name": services.operator.name,
            "address": services.operator.address,
            "data_protection_officer": services.limits.contact_email,
            "data_protection_officer_address": services.operator.dpo_address,
        },
        "portability": {
            "requested": snap.kind == "portability",
            "refused": refused,
            "reason": say[refused] if refused else None,
        },
        "categories": categories,
        "code_lists": _code_lists(services.catalogue, categories, snap.locale),
        "rights": {"rights": say["rights"], "complaint": say["complaint"]},
        "third_parties": say["third_parties"],
        "redactions": {
            "passages": built.redacted_passages,
            "records": built.redacted_records,
            "marker": say["redacted_marker"],
            "reason": say["redactions_reason"] if built.redacted_passages else None,
        },
        "records": entries,
    }
    # Compact: the C encoder is about ten times faster than an indented dump.
    built.json_text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    built.html_text = render_html(document, snap.locale)
    return built


def _redact(
    snap: Snapshot,
    built: Built,
    source: str,
    spec: DataTable,
    entry: dict[str, Any],
    marker: str,
) -> None:
    """Mask, in one record's free text, the passages about other people (the source is not
    touched); the record says which columns were masked, and how many passages."""
    if not spec.mentions_others or not snap.redactions:
        return
    key = third_parties.encode_key(entry["fields"][c] for c in spec.primary_key)
    masked: dict[str, int] = {}
    for column in spec.mentions_others:
        spans = snap.redactions.get((source, spec.name, key, column.name))
        value = entry["fields"].get(column.name)
        if not spans or not isinstance(value, str):
            continue
        entry["fields"][column.name], count = third_parties.apply(value, spans, marker)
        if count:
            masked[column.name] = count
    if masked:
        entry["redacted"] = masked
        built.redacted_passages += sum(masked.values())
        built.redacted_records += 1


def _portable(services: Services, line: Line) -> bool:
    try:
        return services.policy.rule(line.category, "portability").portable is True
    except KeyError:
        return False


def _category(
    services: Services, source: Source, line: Line, found: int, locale: str
) -> dict[str, Any]:
    info = source.categories[line.category]
    return {
        "source": source.name,
        "source_title": source.title.in_(locale),
        "category": line.category,
        "label": line.label.in_(locale),
        "records": found,
        "purposes": info.purposes.in_(locale),
        "legal_basis": info.legal_basis.in_(locale),
        "recipients": [r.name for r in info.recipients],
        "transfers": info.transfers.in_(locale),
        "retention": info.retention.in_(locale),
        "origin": info.origin.in_(locale),
        "automated_decisions": info.automated_decisions.in_(locale),
        "basis": line.basis.in_(locale),
        "portable": _portable(services, line),
        "tables": [
            _table_meta(table, locale)
            for table in source.tables
            if table.category == line.category and table.name in line.record_keys
        ],
    }


def _table_meta(table: DataTable, locale: str) -> dict[str, Any]:
    """What each column of a table is, for people and programs: the source names stay."""
    columns = []
    for column in table.columns:
        meta: dict[str, Any] = {"name": column.name, "shown": column.shown}
        if column.shown and column.label is not None:
            meta.update(label=column.label.in_(locale), kind=column.kind)
            if column.meaning:
                meta["meaning"] = column.meaning
            if column.codes:
                meta["codes"] = column.codes
            if column.kind == "code" and not column.show_code:
                meta["show_code"] = False
        columns.append(meta)
    label = table.label.in_(locale) if table.label else table.name
    return {"table": table.name, "label": label, "columns": columns}


def _code_lists(
    catalogue: Catalogue, categories: list[dict[str, Any]], locale: str
) -> dict[str, dict[str, str]]:
    """The code lists the disclosed columns use, each code with its meaning."""
    used = sorted(
        {
            column["codes"]
            for category in categories
            for table in category["tables"]
            for column in table["columns"]
            if "codes" in column
        }
    )
    return {
        name: {code: text.in_(locale) for code, text in catalogue.code_lists[name].items()}
        for name in used
    }

"""Third parties' information in free text: reviewed by the holder, masked in the package.

GDPR Art. 15(4): the copy must not harm the rights of others; the Public
Health Code (L.1110-4, medical secrecy, and L.1111-7) leaves out what the
record holds about third parties outside the care. Free text (a referral
letter, a shared care record's summary) may name a relative, a neighbour,
an employer: the catalogue marks those columns (``mentions_others = true``).

Before a plan that discloses such a table is approved, the case's holder (who
prepares the plan and, for access and portability, approves it alone) reads
each record's marked text on the case page, masks the passages about other
people (``add``, ``remove``) and says when nothing else needs masking
(``mark_reviewed``). The approval is refused until then (``check_reviewed``),
and so is the build of the package. A redaction is stored as the record, the
column, character offsets and the SHA-256 of the whole text it was chosen in:
never the passage. The source is not touched; the package applies the
redactions (``apply``) and says how many passages were masked, and why.

The redactions may change while the case is in review and no decision waits;
each change voids the review, which the holder gives again. Audit events carry
ids and counts only: no text, no category, no table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app import audit, lifecycle
from app.casework import cases
from app.identity import assurance as assurance_levels
from app.identity.policy import AssurancePolicy
from app.models import Plan, Request, StaffUser, ThirdPartyRedaction, ThirdPartyReview
from app.rules.catalogue import Catalogue, DataTable, Source
from app.rules.sources import Warehouse
from app.staffing import roles

# Longest passage one redaction masks: a sentence or a paragraph, not a letter.
PASSAGE_MAX = 2000


def encode_key(key: Iterable[Any]) -> str:
    """A record's primary key as stored (the same JSON as ``Restriction.record_key``)."""
    return json.dumps(list(key), separators=(",", ":"))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# (start, end, text_sha256) of one redaction.
Span = tuple[int, int, str]
# (source, table, record key, column)
Target = tuple[str, str, str, str]


def apply(text: str, spans: Sequence[Span], marker: str) -> tuple[str, int]:
    """``text`` with each span replaced by ``marker``; how many passages were masked.

    Overlapping or touching spans make one passage. A span chosen in another
    text (the source changed since the review) cannot be trusted to fall on the
    passage: the whole text is masked then (fail closed), one passage.
    """
    if not spans:
        return text, 0
    if any(sha != digest(text) or end > len(text) for _start, end, sha in spans):
        return marker, 1
    merged = _merged(spans)
    out, last = [], 0
    for start, end in merged:
        out.append(text[last:start])
        out.append(marker)
        last = end
    out.append(text[last:])
    return "".join(out), len(merged)


def _merged(spans: Sequence[Span]) -> list[list[int]]:
    """[start, end] of each passage: overlapping or touching spans make one."""
    merged: list[list[int]] = []
    for start, end, _sha in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def passages(session: Session, request: Request) -> int:
    """How many passages the package masks, as ``apply`` counts them (without the text).

    A text changed in its source since it was masked is masked whole, one passage,
    where this counts its spans: the case page says so; the package says what it did.
    """
    return sum(len(_merged(spans)) for spans in snapshot_spans(session, request).values())


@dataclass(frozen=True)
class Marked:
    """One disclosed table with columns that may mention other people, and its keys."""

    source: Source
    table: DataTable
    keys: tuple[tuple[Any, ...], ...]


def marked(request: Request, catalogue: Catalogue) -> list[Marked]:
    """The plan's disclosed tables with ``mentions_others`` columns, and their record keys."""
    plan = request.plan
    found = []
    for line in plan.lines if plan else []:
        if line.action != "disclose":
            continue
        try:
            source = catalogue.source(line.source)
        except KeyError:
            continue
        for table in source.tables:
            keys = (line.record_keys or {}).get(table.name) or []
            if table.category == line.category and table.mentions_others and keys:
                found.append(Marked(source, table, tuple(tuple(k) for k in keys)))
    return found


def needs_review(request: Request, catalogue: Catalogue) -> bool:
    return bool(marked(request, catalogue))


def review_of(session: Session, request: Request) -> ThirdPartyReview | None:
    """The holder's review of the plan in force, if given."""
    plan = request.plan
    if plan is None:
        return None
    return session.scalar(select(ThirdPartyReview).where(ThirdPartyReview.plan_id == plan.id))


def check_reviewed(session: Session, request: Request, catalogue: Catalogue) -> None:
    """Refuse an approval (or a build) of a package whose free text nobody reviewed."""
    if needs_review(request, catalogue) and review_of(session, request) is None:
        raise cases.CaseError("third_parties_unreviewed")


def redactions(session: Session, request_id: int) -> list[ThirdPartyRedaction]:
    return list(
        session.scalars(
            select(ThirdPartyRedaction)
            .where(ThirdPartyRedaction.request_id == request_id)
            .order_by(ThirdPartyRedaction.id)
        )
    )


def spans_of(rows: Iterable[ThirdPartyRedaction]) -> dict[Target, tuple[Span, ...]]:
    """The redactions by record and column, as ``apply`` takes them."""
    found: dict[Target, list[Span]] = {}
    for r in rows:
        target = (r.source, r.table_name, r.record_key, r.column_name)
        found.setdefault(target, []).append((r.start_offset, r.end_offset, r.text_sha256))
    return {k: tuple(v) for k, v in found.items()}


@dataclass(frozen=True)
class Piece:
    """A run of a record's text: as written, or masked (``redaction`` is its id)."""

    text: str
    redaction: int | None = None
    start: int = 0  # where the run begins in the text (the selection script counts from it)


@dataclass(frozen=True)
class Passage:
    """One column's text of one record, cut at its redactions, for the case page."""

    source: str
    table: str
    table_label: str
    key: str
    column: str
    column_label: str
    date: date | None
    pieces: tuple[Piece, ...]
    redacted: int
    stale: bool  # redactions chosen in a text that has changed since: the whole is masked
    # Every redaction of this text, by id: what "put back" acts on, also when stale.
    redactions: tuple[int, ...] = ()


@dataclass(frozen=True)
class Screen:
    """What the case page's third-party section shows.

    ``needed`` False: the section is not shown. ``shown`` False: counts only
    (``hidden`` says why: ``not_reader`` or ``identity``), the sources unread.
    """

    needed: bool
    shown: bool = False
    hidden: str | None = None
    passages: tuple[Passage, ...] = ()
    records: int = 0
    redactions: int = 0
    review: ThirdPartyReview | None = None
    reviewer: str | None = None
    editable: bool = False
    passage_max: int = PASSAGE_MAX
    problems: tuple[str, ...] = field(default_factory=tuple)


def _pieces(text: str, rows: Sequence[ThirdPartyRedaction]) -> tuple[tuple[Piece, ...], bool]:
    """``text`` cut at its redactions; True when they were chosen in another text."""
    if any(r.text_sha256 != digest(text) or r.end_offset > len(text) for r in rows):
        return (Piece(text),), True
    pieces: list[Piece] = []
    last = 0
    for r in sorted(rows, key=lambda r: (r.start_offset, r.end_offset)):
        start = max(r.start_offset, last)
        if start > last:
            pieces.append(Piece(text[last:start], None, last))
        if r.end_offset > start:
            pieces.append(Piece(text[start : r.end_offset], r.id, start))
            last = r.end_offset
    if last < len(text):
        pieces.append(Piece(text[last:], None, last))
    return tuple(pieces), False


def editable(request: Request, staff: StaffUser) -> bool:
    """The holder changes the redactions while the case is in review, no decision waiting."""
    return (
        request.assignee_id == staff.id
        and roles.allowed(staff.role, roles.WORK_CASES)
        and request.status == "in_review"
        and not request.pending_decision
    )


def _texts(
    request: Request, catalogue: Catalogue, warehouse: Warehouse
) -> list[tuple[Marked, dict[str, Any]]]:
    """Every marked record's row, read by key and only where it is still the subject's."""
    from app.fulfilment.package_document import read_rows

    plan = request.plan
    subjects = dict(plan.subjects) if plan else {}
    found = []
    for item in marked(request, catalogue):
        subject = subjects.get(item.source.name)
        if subject is None:
            continue
        with warehouse.engine(item.source).connect() as connection:
            for row in read_rows(
                warehouse, connection, item.source, item.table.name, subject, item.keys
            ):
                found.append((item, row))
    return found


def screen(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    catalogue: Catalogue,
    warehouse: Warehouse,
    assurance: AssurancePolicy,
    locale: str,
    now: datetime,
) -> Screen:
    """The section's read model; reading the sources is an audit event (counts only)."""
    items = marked(request, catalogue)
    if not items or request.status not in ("in_review", "approved", "fulfilling"):
        return Screen(needed=False)
    rows = redactions(session, request.id)
    review = review_of(session, request)
    reviewer = None
    if review is not None:
        reviewer = session.scalar(
            select(StaffUser.email).where(StaffUser.id == review.reviewed_by_id)
        )
    records = sum(len(i.keys) for i in items)
    base = {
        "needed": True,
        "records": records,
        "redactions": len(rows),
        "review": review,
        "reviewer": reviewer,
    }
    if not cases.may_read_records(request, staff):
        return Screen(hidden="not_reader", **base)  # type: ignore[arg-type]
    if not assurance_levels.may_act(assurance, request):
        return Screen(hidden="identity", **base)  # type: ignore[arg-type]
    by_target: dict[Target, list[ThirdPartyRedaction]] = {}
    for r in rows:
        by_target.setdefault((r.source, r.table_name, r.record_key, r.column_name), []).append(r)
    passages = []
    read = _texts(request, catalogue, warehouse)
    cases.record_source_read(
        session, request, staff, now, screen="third_parties", records=len(read)
    )
    for item, row in read:
        key = encode_key(row[c] for c in item.table.primary_key)
        table_label = item.table.label.in_(locale) if item.table.label else item.table.name
        for column in item.table.mentions_others:
            text = row.get(column.name)
            if not isinstance(text, str) or not text:
                continue
            mine = by_target.get((item.source.name, item.table.name, key, column.name), [])
            pieces, stale = _pieces(text, mine)
            when = row.get(item.table.date_column)
            passages.append(
                Passage(
                    item.source.name,
                    item.table.name,
                    table_label,
                    key,
                    column.name,
                    column.label.in_(locale) if column.label else column.name,
                    date.fromisoformat(str(when)[:10]) if when else None,
                    pieces,
                    len(mine),
                    stale,
                    tuple(r.id for r in mine),
                )
            )
    return Screen(
        shown=True,
        passages=tuple(passages),
        editable=editable(request, staff),
        **base,  # type: ignore[arg-type]
    )


def _gate(
    session: Session,
    request: Request,
    staff: StaffUser,
    version: int,
    assurance: AssurancePolicy,
) -> None:
    cases.require(staff, roles.WORK_CASES)
    cases.check_fresh(session, request, version)
    cases.check_holding(request, staff)
    if request.pending_decision:
        raise cases.CaseError("decision_pending")
    if request.status != "in_review":
        raise cases.CaseError("wrong_status")
    if not assurance_levels.may_act(assurance, request):
        raise cases.CaseError("identity_not_proven")


def _void_review(session: Session, request: Request) -> None:
    session.execute(delete(ThirdPartyReview).where(ThirdPartyReview.request_id == request.id))


def add(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    source: str,
    table: str,
    key: str,
    column: str,
    passage: str,
    start: int | None,
    catalogue: Catalogue,
    warehouse: Warehouse,
    assurance: AssurancePolicy,
    version: int,
    now: datetime,
) -> int:
    """Mask ``passage`` in one record's marked text; how many occurrences were masked.

    The passage must occur in the text as it is in the source now: at ``start``
    when given (chosen by selection), else every occurrence. Nothing is stored
    otherwise (``passage_empty``, ``passage_too_long``, ``passage_not_found``,
    ``unknown_review_record``).
    """
    _gate(session, request, staff, version, assurance)
    wanted = passage.strip()
    if not wanted:
        raise cases.CaseError("passage_empty")
    if len(wanted) > PASSAGE_MAX:
        raise cases.CaseError("passage_too_long")
    text = None
    for item, row in _texts(request, catalogue, warehouse):
        if item.source.name != source or item.table.name != table:
            continue
        if encode_key(row[c] for c in item.table.primary_key) != key:
            continue
        if column in {c.name for c in item.table.mentions_others}:
            value = row.get(column)
            text = value if isinstance(value, str) else None
        break
    if text is None:
        raise cases.CaseError("unknown_review_record")
    if start is not None:
        if text[start : start + len(wanted)] != wanted or start < 0:
            raise cases.CaseError("passage_not_found")
        starts = [start]
    else:
        starts, at = [], text.find(wanted)
        while at >= 0:
            starts.append(at)
            at = text.find(wanted, at + len(wanted))
    if not starts:
        raise cases.CaseError("passage_not_found")
    sha = digest(text)
    made = [
        ThirdPartyRedaction(
            request_id=request.id,
            source=source,
            table_name=table,
            record_key=key,
            column_name=column,
            start_offset=at,
            end_offset=at + len(wanted),
            text_sha256=sha,
            created_by_id=staff.id,
            created_at=now,
        )
        for at in starts
    ]
    session.add_all(made)
    _void_review(session, request)
    who = cases.actor(staff)
    lifecycle.touch(session, request, actor=who, now=now)
    session.flush()
    audit.record(
        session,
        actor=who,
        action="third_parties.redacted",
        now=now,
        request_id=request.id,
        details={"redactions": [r.id for r in made], "count": len(made)},
    )
    return len(made)


def remove(
    session: Session,
    request: Request,
    staff: StaffUser,
    redaction_id: int,
    *,
    assurance: AssurancePolicy,
    version: int,
    now: datetime,
) -> None:
    """Take one redaction back (before the approval, hence before any release)."""
    _gate(session, request, staff, version, assurance)
    found = session.get(ThirdPartyRedaction, redaction_id)
    if found is None or found.request_id != request.id:
        raise cases.CaseError("unknown_redaction")
    session.delete(found)
    _void_review(session, request)
    who = cases.actor(staff)
    lifecycle.touch(session, request, actor=who, now=now)
    audit.record(
        session,
        actor=who,
        action="third_parties.unredacted",
        now=now,
        request_id=request.id,
        details={"redaction": redaction_id},
    )


def mark_reviewed(
    session: Session,
    request: Request,
    staff: StaffUser,
    *,
    catalogue: Catalogue,
    assurance: AssurancePolicy,
    version: int,
    now: datetime,
) -> None:
    """The holder read every marked record of the plan: nothing else needs masking."""
    _gate(session, request, staff, version, assurance)
    items = marked(request, catalogue)
    plan: Plan | None = request.plan
    if not items or plan is None:
        raise cases.CaseError("nothing_to_review")
    if review_of(session, request) is not None:
        raise cases.CaseError("already_reviewed")
    count = session.scalar(
        select(func.count())
        .select_from(ThirdPartyRedaction)
        .where(ThirdPartyRedaction.request_id == request.id)
    )
    records = sum(len(i.keys) for i in items)
    session.add(
        ThirdPartyReview(
            request_id=request.id,
            plan_id=plan.id,
            reviewed_by_id=staff.id,
            reviewed_at=now,
            records=records,
            redactions=count or 0,
        )
    )
    who = cases.actor(staff)
    lifecycle.touch(session, request, actor=who, now=now)
    audit.record(
        session,
        actor=who,
        action="third_parties.reviewed",
        now=now,
        request_id=request.id,
        details={"records": records, "redactions": count or 0},
    )


def snapshot_spans(session: Session, request: Request) -> Mapping[Target, tuple[Span, ...]]:
    """The request's redactions, copied out of the session for the package build."""
    return spans_of(redactions(session, request.id))

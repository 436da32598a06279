"""The staff triage queue: open requests by due date, filters, counts.

Plain functions over a Session (docs/architecture.md, "Conventions" 5): the view in
``app.staff.queue`` parses the query string with ``parse_filter``, then calls
``page`` and ``counts``; ``app.casework.export`` writes the CSV. Rows are small
dataclasses carrying only what triage needs: never the requester's name,
birth date, social-security number, email address or free text.

Every query reads open rows only, through the partial indexes on open rows
(``ix_requests_open_*``), so its cost follows the backlog, not the years of
closed history; pages use a keyset on (due_on, id), never OFFSET.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from app import lifecycle
from app.intake import normalize_email
from app.models import ASSURANCE_LEVELS, KINDS, STATUSES, Request, StaffUser
from app.name_search import NameIndex
from app.staffing import roles

# The queue is the work to do: not the unconfirmed filings (their address is
# unproven, docs/security.md "Lessons from peers"), not what is finished.
OPEN_STATUSES = tuple(s for s in STATUSES if s != "unverified" and s not in lifecycle.CLOSED)
PAGE_SIZE = 50
# The levels an open case can have (``none`` is the unverified's only).
ASSURANCE_FILTERS = tuple(level for level in ASSURANCE_LEVELS if level != "none")
SOON_DAYS = 5  # the "due within 5 days" count shown next to the filters
MAX_WITHIN = 366
_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(\d{1,12})$")
_WHOLE_REFERENCE = re.compile(r"^DSR-\d{4}-[0-9A-Z]{6}$")
# The orders the queue offers (query string "sort"), each with the id as tie-break.
SORTS: dict[str, Any] = {
    "due": Request.due_on,
    "received": Request.received_on,
    "kind": Request.kind,
    "status": Request.status,
    "assignee": func.coalesce(StaffUser.email, ""),
}


@dataclass(frozen=True)
class QueueFilter:
    """What the staff member asked to see, already checked. Empty means the whole queue."""

    status: str | None = None
    kind: str | None = None
    overdue: bool = False
    within: int | None = None  # due in the next N days (today included), not overdue
    assignee: str | None = None  # "me", "unassigned" or a staff id, as in the query string
    assignee_id: int | None = None  # "me" and an id resolved
    identity: bool = False
    assurance: str | None = None  # one identity assurance level
    retained: bool = False
    # Requests made for someone else whose relationship is not proven yet.
    proof: bool = False
    search: str | None = None
    # Prepared decisions another person prepared, for this approver (a DPO's view).
    approver_id: int | None = None
    received_from: date | None = None
    received_to: date | None = None
    sort: str = "due"  # a key of SORTS
    descending: bool = False
    # The keyed digests the search term's name may be stored as (``with_names``).
    name_digests: tuple[str, ...] = ()

    def args(self) -> dict[str, str]:
        """The filter as query-string arguments: links to other pages keep it."""
        values: dict[str, str | None] = {
            "status": self.status,
            "kind": self.kind,
            "due": "overdue"
            if self.overdue
            else None
            if self.within is None
            else str(self.within),
            "assignee": self.assignee,
            "identity": "1" if self.identity else None,
            "assurance": self.assurance,
            "retained": "1" if self.retained else None,
            "proof": "1" if self.proof else None,
            "q": self.search,
            "approval": "me" if self.approver_id is not None else None,
            "received_from": self.received_from.isoformat() if self.received_from else None,
            "received_to": self.received_to.isoformat() if self.received_to else None,
        }
        return {key: value for key, value in values.items() if value} | self.order_args()

    def order_args(self) -> dict[str, str]:
        """The order as query-string arguments, the default (due date, soonest) left out."""
        if self.sort == "due" and not self.descending:
            return {}
        return {"sort": self.sort, "dir": "desc" if self.descending else "asc"}


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue: the case, never the person."""

    id: int
    reference: str
    kind: str
    status: str
    received_on: date | None
    due_on: date
    days_left: int
    signal: str  # "overdue", "due_soon" or ""
    assignee_email: str | None
    identity_review: bool
    retained: bool
    extended: bool
    pending_decision: str | None
    assurance: str
    # The clock stands still (proof of identity awaited): the due date will move.
    paused: bool = False
    version: int = 0  # what a bulk action from this page checks against
    # Made for someone else, and whether the proof of the relationship is still awaited.
    representative: bool = False
    awaiting_proof: bool = False
    # What app.identity.assurance.shown_status reads to name the status.
    acts_as: str = "self"
    relationship_proof: str | None = None
    disputed_at: datetime | None = None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_key: str | None  # "after" of the next page, None on the last one
    total: int


@dataclass(frozen=True)
class StaffOption:
    id: int
    email: str


@dataclass
class Counts:
    """How many open cases each filter option would show."""

    total: int = 0
    status: dict[str, int] = field(default_factory=dict)
    kind: dict[str, int] = field(default_factory=dict)
    assignee: dict[int | None, int] = field(default_factory=dict)  # None: unassigned
    overdue: int = 0
    soon: int = 0
    identity: int = 0
    retained: int = 0
    awaiting_proof: int = 0
    # Open cases per (status, kind, assignee id): a view narrowed by those alone
    # takes its total from here (``total_of``) instead of counting its rows again.
    groups: dict[tuple[str, str, int | None], int] = field(default_factory=dict)


def parse_filter(
    args: Mapping[str, str], me_id: int, staff_ids: Collection[int] = ()
) -> tuple[QueueFilter, list[str]]:
    """Read the filter from query-string ``args``; invalid values are named and ignored.

    ``staff_ids`` are the people an "assignee" filter may name (active staff
    who work cases). Returns the filter and the names of ignored arguments.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    status = _choice(args, "status", OPEN_STATUSES, problems)
    kind = _choice(args, "kind", KINDS, problems)
    values |= {"status": status, "kind": kind}
    values |= _due(args.get("due", "").strip(), problems)
    values |= _assignee(args.get("assignee", "").strip(), me_id, staff_ids, problems)
    values["identity"] = _flag(args, "identity", problems)
    values["assurance"] = _choice(args, "assurance", ASSURANCE_FILTERS, problems)
    values["retained"] = _flag(args, "retained", problems)
    values["proof"] = _flag(args, "proof", problems)
    search = args.get("q", "").strip()
    values["search"] = search[:254] or None
    approval = args.get("approval", "").strip()
    if approval == "me":
        values["approver_id"] = me_id
    elif approval:
        problems.append("approval")
    values["received_from"] = _day(args, "received_from", problems)
    values["received_to"] = _day(args, "received_to", problems)
    sort = args.get("sort", "").strip() or "due"
    if sort not in SORTS:
        problems.append("sort")
        sort = "due"
    direction = args.get("dir", "").strip()
    if direction not in ("", "asc", "desc"):
        problems.append("sort")
    values |= {"sort": sort, "descending": direction == "desc"}
    return QueueFilter(**values), problems


def _day(args: Mapping[str, str], name: str, problems: list[str]) -> date | None:
    value = args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(name)
        return None


def _choice(
    args: Mapping[str, str], name: str, allowed: Collection[str], problems: list[str]
) -> str | None:
    value = args.get(name, "").strip()
    if not value:
        return None
    if value in allowed:
        return value
    problems.append(name)
    return None


def _due(value: str, problems: list[str]) -> dict[str, Any]:
    if not value:
        return {}
    if value == "overdue":
        return {"overdue": True}
    if value.isascii() and value.isdigit() and int(value) <= MAX_WITHIN:
        return {"within": int(value)}
    problems.append("due")
    return {}


def _assignee(
    value: str, me_id: int, staff_ids: Collection[int], problems: list[str]
) -> dict[str, Any]:
    if not value:
        return {}
    if value == "unassigned":
        return {"assignee": value}
    if value == "me":
        return {"assignee": value, "assignee_id": me_id}
    if value.isascii() and value.isdigit() and int(value) in staff_ids:
        return {"assignee": str(int(value)), "assignee_id": int(value)}
    problems.append("assignee")
    return {}


def _flag(args: Mapping[str, str], name: str, problems: list[str]) -> bool:
    value = args.get(name, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    problems.append(name)
    return False


def parse_key(value: str | None, sort: str = "due") -> tuple[Any, int] | None:
    """The (sort value, id) a "next page" link carries, or None when absent or malformed."""
    if sort == "due":
        match = _KEY.match(value or "")
        if match is None:
            return None
        try:
            return date.fromisoformat(match[1]), int(match[2])
        except ValueError:
            return None
    head, dot, tail = (value or "").rpartition(".")
    if not dot or not (tail.isascii() and tail.isdigit()) or len(tail) > 12:
        return None
    if sort == "received":
        try:
            return date.fromisoformat(head), int(tail)
        except ValueError:
            return None
    if (sort == "kind" and head not in KINDS) or (sort == "status" and head not in OPEN_STATUSES):
        return None
    return head[:254], int(tail)


def key_of(row: QueueRow, sort: str = "due") -> tuple[Any, int]:
    """The keyset position of ``row`` in the order ``sort``."""
    value: Any = {
        "due": row.due_on,
        "received": row.received_on,
        "kind": row.kind,
        "status": row.status,
        "assignee": row.assignee_email or "",
    }[sort]
    return value, row.id


def _key(row: QueueRow, sort: str = "due") -> str:
    value, id_ = key_of(row, sort)
    return f"{value.isoformat() if isinstance(value, date) else value}.{id_}"


def _open() -> ColumnElement[bool]:
    # Written into the SQL as literals, not bound: a planner can only use a
    # partial index (WHERE status IN the same list) when it sees the values,
    # and PostgreSQL's generic plans for prepared statements would not.
    statuses: BindParameter[str] = bindparam(
        "open_statuses", OPEN_STATUSES, expanding=True, literal_execute=True
    )
    return Request.status.in_(statuses)


def _overdue(today: date) -> ColumnElement[bool]:
    # A paused clock (waiting for the requester or for a proof of identity) cannot run
    # late: its due date moves by the paused days when it resumes (app.casework.clock).
    return and_(Request.due_on < today, Request.paused_at.is_(None))


def _due_within(today: date, days: int) -> ColumnElement[bool]:
    return and_(
        Request.due_on.between(today, today + timedelta(days=days)), Request.paused_at.is_(None)
    )


def _conditions(flt: QueueFilter, today: date) -> list[ColumnElement[bool]]:
    # One open status stands for the open list, not beside it: PostgreSQL multiplies
    # the two, estimates 838 cases in triage at 2 (the open list's share of the
    # history times triage's), and sorts them all instead of walking
    # ix_requests_status_due_on to the page's 51 (issue 15's benchmark).
    statuses = {flt.status} if flt.status else set()
    if flt.identity:
        statuses.add("identity_review")
    if len(statuses) == 1 and statuses <= set(OPEN_STATUSES):
        conditions = [Request.status == statuses.pop()]
    else:  # none, or two at once (triage and identity review: nothing)
        conditions = [_open(), *(Request.status == status for status in sorted(statuses))]
    if flt.kind:
        conditions.append(Request.kind == flt.kind)
    if flt.overdue:
        conditions.append(_overdue(today))
    if flt.within is not None:
        conditions.append(_due_within(today, flt.within))
    if flt.assignee == "unassigned":
        conditions.append(Request.assignee_id.is_(None))
    elif flt.assignee_id is not None:
        conditions.append(Request.assignee_id == flt.assignee_id)
    if flt.assurance:
        conditions.append(Request.assurance == flt.assurance)
    if flt.retained:
        conditions.append(Request.has_retained.is_(True))
    if flt.proof:
        conditions.append(_awaiting_proof())
    if flt.search:
        conditions.append(_search(flt.search, flt.name_digests))
    if flt.approver_id is not None:
        conditions.append(Request.pending_decision.is_not(None))
        conditions.append(Request.prepared_by_id != flt.approver_id)
    if flt.received_from:
        conditions.append(Request.received_on >= flt.received_from)
    if flt.received_to:
        conditions.append(Request.received_on <= flt.received_to)
    return conditions


def with_names(flt: QueueFilter, names: NameIndex) -> QueueFilter:
    """``flt`` with the digests its search term would have as a requester's name."""
    if not flt.search or "@" in flt.search:
        return flt
    return replace(flt, name_digests=names.search(flt.search))


def _search(text: str, name_digests: tuple[str, ...] = ()) -> ColumnElement[bool]:
    """An address if it has an @; else a whole reference, a part of one, or a name.

    A whole reference and an address use their indexes. A part ("the last four
    characters", "7K3Q") is a substring of the open rows' references only. A name
    is matched whole (folded), as a last name or a first name and last name,
    through the indexed keyed digests (``app.name_search``).
    """
    if "@" in text:
        return Request.email_normalized == normalize_email(text)
    # References are issued in capitals; comparing the column as stored keeps its index.
    wanted = text.strip().upper()
    if _WHOLE_REFERENCE.match(wanted):
        return Request.reference == wanted
    reference = Request.reference.contains(wanted, autoescape=True)
    if not name_digests:
        return reference
    return or_(
        reference,
        Request.last_name_digest.in_(name_digests),
        Request.full_name_digest.in_(name_digests),
    )


def _rows_query(flt: QueueFilter, today: date) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Request.id,
            Request.reference,
            Request.kind,
            Request.status,
            Request.received_on,
            Request.due_on,
            StaffUser.email,
            Request.has_retained,
            Request.extended_on,
            Request.pending_decision,
            Request.assurance,
            Request.paused_at,
            Request.version,
            Request.acts_as,
            Request.relationship_proof,
            Request.disputed_at,
        )
        .outerjoin(StaffUser, StaffUser.id == Request.assignee_id)
        .where(*_conditions(flt, today))
        .order_by(*_order(flt))
    )


def _order(flt: QueueFilter) -> list[Any]:
    column = SORTS[flt.sort]
    if flt.descending:
        return [column.desc(), Request.id.desc()]
    return [column, Request.id]


def days_left(due_on: date, today: date) -> int:
    return (due_on - today).days


def signal(received_on: date | None, due_on: date, today: date) -> str:
    """ "overdue" past the due date, "due_soon" with less than a quarter of the period left."""
    left = days_left(due_on, today)
    if left < 0:
        return "overdue"
    if received_on is not None and left * 4 < (due_on - received_on).days:
        return "due_soon"
    return ""


def _row(values: Any, today: date) -> QueueRow:
    (
        id_,
        reference,
        kind,
        status,
        received_on,
        due_on,
        email,
        retained,
        extended,
        pending,
        assurance,
        paused_at,
        version,
        acts_as,
        relationship_proof,
        disputed_at,
    ) = values
    return QueueRow(
        id=id_,
        reference=reference or "",
        kind=kind,
        status=status,
        received_on=received_on,
        due_on=due_on,
        days_left=days_left(due_on, today),
        signal="" if paused_at is not None else signal(received_on, due_on, today),
        assignee_email=email,
        identity_review=status == "identity_review",
        retained=bool(retained),
        extended=extended is not None,
        pending_decision=pending,
        assurance=assurance,
        paused=paused_at is not None,
        version=version,
        representative=acts_as != "self",
        awaiting_proof=acts_as != "self" and relationship_proof != "accepted",
        acts_as=acts_as,
        relationship_proof=relationship_proof,
        disputed_at=disputed_at,
    )


def page_statement(
    flt: QueueFilter, today: date, after: tuple[Any, int] | None, limit: int
) -> Select[*tuple[Any, ...]]:
    """The rows of one page: ``limit`` open cases after the key ``after``, in ``flt``'s order.

    The assignee's order is an address in another table, which no index of
    ``requests`` holds: the whole backlog is sorted. That sort reads ids and
    assignees only (an index-only scan of the open assignee index), and the page's
    own rows are read afterwards, for the ids chosen.
    """
    if flt.sort == "assignee":
        chosen = _keyset(
            select(Request.id)
            .outerjoin(StaffUser, StaffUser.id == Request.assignee_id)
            .where(*_conditions(flt, today))
            .order_by(*_order(flt)),
            flt,
            after,
        ).limit(limit)
        return _rows_query(flt, today).where(Request.id.in_(chosen.scalar_subquery()))
    return _keyset(_rows_query(flt, today), flt, after).limit(limit)


def _keyset(
    query: Select[*tuple[Any, ...]], flt: QueueFilter, after: tuple[Any, int] | None
) -> Select[*tuple[Any, ...]]:
    """``query`` from after the key ``after`` on, in ``flt``'s order."""
    if after is not None:
        # Row-value comparison: on the default order the index on (due_on, id)
        # seeks straight to the key; the other orders walk the open rows.
        column = SORTS[flt.sort]
        position = tuple_(column, Request.id)
        key = tuple_(*after)
        query = query.where(position < key if flt.descending else position > key)
        # Implied by the row comparison, and written out for PostgreSQL's estimate:
        # without it the planner took the open rows past the key for a handful
        # (the history's dates say nothing of the backlog's), read them all through
        # another index and sorted them, 2,950 rows for page 2 of 3,000 open cases.
        query = query.where(column <= after[0] if flt.descending else column >= after[0])
    return query


def batch(
    session: Session, flt: QueueFilter, today: date, after: tuple[Any, int] | None, size: int
) -> list[QueueRow]:
    return [
        _row(values, today) for values in session.execute(page_statement(flt, today, after, size))
    ]


def page(
    session: Session,
    flt: QueueFilter,
    today: date,
    after: tuple[Any, int] | None = None,
    size: int = PAGE_SIZE,
    *,
    counted: Counts | None = None,
) -> QueuePage:
    """One page of the queue, soonest due first, after the key ``after``; and the total.

    Verified requests always have a due date (set at verification), which the
    keyset relies on. ``counted``: the counts of the same view, whose total is the
    page's when ``flt`` narrows nothing (the default view and its other orders),
    which spares a second pass over the backlog.
    """
    rows = batch(session, flt, today, after, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    conditions = _conditions(flt, today)
    total = total_of(flt, counted) if counted is not None else None
    if total is None:
        total = session.execute(
            select(func.count()).select_from(Request).where(*conditions)
        ).scalar_one()
    next_key = _key(rows[-1], flt.sort) if more else None
    return QueuePage(rows=rows, next_key=next_key, total=total)


# What a view may narrow by and still take its total from the counts' groups; the
# order (sort, descending) narrows nothing.
_GROUPED = frozenset(
    {"status", "kind", "assignee", "assignee_id", "identity", "sort", "descending"}
)


def total_of(flt: QueueFilter, counted: Counts) -> int | None:
    """The view's total from the counts, when it narrows only by status, right or
    assignee; None when it narrows by anything else (its rows are counted then)."""
    blank = QueueFilter()
    if any(
        getattr(flt, name) != getattr(blank, name)
        for name in QueueFilter.__dataclass_fields__
        if name not in _GROUPED
    ):
        return None
    statuses = {flt.status} if flt.status else None
    if flt.identity:
        statuses = {"identity_review"} & (statuses or {"identity_review"})
    unassigned = flt.assignee == "unassigned"
    if flt.assignee and not unassigned and flt.assignee_id is None:
        return None
    return sum(
        n
        for (status, kind, assignee_id), n in counted.groups.items()
        if (statuses is None or status in statuses)
        and (flt.kind is None or kind == flt.kind)
        and (not unassigned or assignee_id is None)
        and (flt.assignee_id is None or unassigned or assignee_id == flt.assignee_id)
    )


def _awaiting_proof() -> Any:
    """A request made for someone else whose relationship is not proven yet."""
    return and_(
        Request.acts_as != "self",
        or_(Request.relationship_proof.is_(None), Request.relationship_proof != "accepted"),
    )


def counts_statement(today: date, soon_days: int = SOON_DAYS) -> Select[*tuple[Any, ...]]:
    """Open cases grouped by (status, kind, assignee), with the flags counted in each group."""
    overdue = _overdue(today)
    soon = _due_within(today, soon_days)
    return (
        select(
            Request.status,
            Request.kind,
            Request.assignee_id,
            func.count(),
            func.count().filter(overdue),
            func.count().filter(soon),
            func.count().filter(Request.has_retained.is_(True)),
            func.count().filter(_awaiting_proof()),
        )
        .where(_open())
        .group_by(Request.status, Request.kind, Request.assignee_id)
    )


def counts(session: Session, today: date, soon_days: int = SOON_DAYS) -> Counts:
    """How many open cases each filter option matches, in one pass over the open rows.

    A few dozen groups come back; they are summed here, per option.
    """
    result = Counts()
    groups = session.execute(counts_statement(today, soon_days))
    for status, kind, assignee_id, n, n_overdue, n_soon, n_retained, n_proof in groups:
        result.total += n
        result.groups[(status, kind, assignee_id)] = n
        result.status[status] = result.status.get(status, 0) + n
        result.kind[kind] = result.kind.get(kind, 0) + n
        result.assignee[assignee_id] = result.assignee.get(assignee_id, 0) + n
        result.overdue += n_overdue
        result.soon += n_soon
        result.retained += n_retained
        result.awaiting_proof += n_proof
    result.identity = result.status.get("identity_review", 0)
    return result


def assignable_staff(session: Session) -> list[StaffOption]:
    """Active staff whose role works cases: the people the assignee filter offers."""
    working = [role for role, allowed in roles.MATRIX.items() if roles.WORK_CASES in allowed]
    query = (
        select(StaffUser.id, StaffUser.email)
        .where(StaffUser.is_active.is_(True), StaffUser.role.in_(working))
        .order_by(StaffUser.email)
    )
    return [StaffOption(id_, email) for id_, email in session.execute(query)]


def waiting_for(session: Session, approver_id: int) -> int:
    """How many open cases wait for a decision prepared by someone else than ``approver_id``."""
    flt = QueueFilter(approver_id=approver_id)
    return session.execute(
        select(func.count()).select_from(Request).where(*_conditions(flt, date.min))
    ).scalar_one()

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
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from app import lifecycle
from app.intake import normalize_email
from app.models import ASSURANCE_LEVELS, KINDS, STATUSES, Request, StaffUser
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
    search: str | None = None

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
            "q": self.search,
        }
        return {key: value for key, value in values.items() if value}


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
    search = args.get("q", "").strip()
    values["search"] = search[:254] or None
    return QueueFilter(**values), problems


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


def parse_key(value: str | None) -> tuple[date, int] | None:
    """The (due_on, id) a "next page" link carries, or None when absent or malformed."""
    match = _KEY.match(value or "")
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1]), int(match[2])
    except ValueError:
        return None


def _key(row: QueueRow) -> str:
    return f"{row.due_on.isoformat()}.{row.id}"


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
    conditions = [_open()]
    if flt.status:
        conditions.append(Request.status == flt.status)
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
    if flt.identity:
        conditions.append(Request.status == "identity_review")
    if flt.assurance:
        conditions.append(Request.assurance == flt.assurance)
    if flt.retained:
        conditions.append(Request.has_retained.is_(True))
    if flt.search:
        conditions.append(_search(flt.search))
    return conditions


def _search(text: str) -> ColumnElement[bool]:
    """An exact match on an indexed column: an address if it has an @, else a reference."""
    if "@" in text:
        return Request.email_normalized == normalize_email(text)
    # References are issued in capitals; comparing the column as stored keeps its index.
    return Request.reference == text.strip().upper()


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
        )
        .outerjoin(StaffUser, StaffUser.id == Request.assignee_id)
        .where(*_conditions(flt, today))
        .order_by(Request.due_on, Request.id)
    )


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
    )


def page_statement(
    flt: QueueFilter, today: date, after: tuple[date, int] | None, limit: int
) -> Select[*tuple[Any, ...]]:
    """The rows of one page: ``limit`` open cases after the key ``after``, soonest due first."""
    query = _rows_query(flt, today)
    if after is not None:
        # Row-value comparison: the index on (due_on, id) seeks straight to the key.
        query = query.where(tuple_(Request.due_on, Request.id) > tuple_(*after))
    return query.limit(limit)


def batch(
    session: Session, flt: QueueFilter, today: date, after: tuple[date, int] | None, size: int
) -> list[QueueRow]:
    return [
        _row(values, today) for values in session.execute(page_statement(flt, today, after, size))
    ]


def page(
    session: Session,
    flt: QueueFilter,
    today: date,
    after: tuple[date, int] | None = None,
    size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the queue, soonest due first, after the key ``after``; and the total.

    Verified requests always have a due date (set at verification), which the
    keyset relies on.
    """
    rows = batch(session, flt, today, after, size + 1)
    more = len(rows) > size
    rows = rows[:size]
    total = session.execute(
        select(func.count()).select_from(Request).where(*_conditions(flt, today))
    ).scalar_one()
    return QueuePage(rows=rows, next_key=_key(rows[-1]) if more else None, total=total)


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
    for status, kind, assignee_id, n, n_overdue, n_soon, n_retained in groups:
        result.total += n
        result.status[status] = result.status.get(status, 0) + n
        result.kind[kind] = result.kind.get(kind, 0) + n
        result.assignee[assignee_id] = result.assignee.get(assignee_id, 0) + n
        result.overdue += n_overdue
        result.soon += n_soon
        result.retained += n_retained
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

"""Figures for the staff dashboard: backlog, requests per week, time to answer.

Every figure is aggregated by the database (GROUP BY); Python only folds a few
hundred grouped rows, so the page stays fast with a million requests. The
median time to answer comes from a histogram of days (one row per distinct
number of days), which works the same on SQLite and PostgreSQL.

Dates are Europe/Paris calendar dates, as for deadlines: a request closed at
23:30 in Paris was answered that day, whatever the UTC date says.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Date, Integer, and_, case, func, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from app import deadlines, lifecycle
from app.models import KINDS, STATUSES, Request

# Verified and not closed: what staff still have to answer.
OPEN_STATUSES = tuple(s for s in STATUSES if s != "unverified" and s not in lifecycle.CLOSED)
# An answer was given; expired and withdrawn requests were never answered.
ANSWERED = ("completed", "denied")
WEEKS = 12
ANSWER_WINDOW_MONTHS = 12


class ParisDate(FunctionElement[date]):
    """SQL: the Europe/Paris calendar date of a UTC timestamp column."""

    type = Date()
    name = "paris_date"
    inherit_cache = True


class DaysBetween(FunctionElement[int]):
    """SQL: whole days from a first date to a second one (second minus first)."""

    type = Integer()
    name = "days_between"
    inherit_cache = True


@compiles(ParisDate)
@compiles(DaysBetween)
def _unsupported(element: Any, compiler: Any, **kw: Any) -> str:
    raise CompileError(f"{element.name} is written for SQLite and PostgreSQL only")


@compiles(ParisDate, "postgresql")
def _paris_date_pg(element: Any, compiler: Any, **kw: Any) -> str:
    (instant,) = element.clauses
    return f"CAST(({compiler.process(instant, **kw)} AT TIME ZONE 'Europe/Paris') AS DATE)"


@compiles(ParisDate, "sqlite")
def _paris_date_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    # SQLite knows no time zones. UTC instants are stored as ISO text; France
    # is UTC+2 from the last Sunday of March to the last Sunday of October,
    # both at 01:00 UTC (EU rule since 1996), UTC+1 otherwise. 'weekday 0'
    # moves to the next Sunday, and the last Sunday of a 31-day month falls
    # on the 25th or later.
    (instant,) = element.clauses
    x = compiler.process(instant, **kw)
    year = f"strftime('%Y', {x})"
    summer_from = f"datetime({year} || '-03-25', 'weekday 0', '+1 hour')"
    summer_until = f"datetime({year} || '-10-25', 'weekday 0', '+1 hour')"
    offset = (
        f"CASE WHEN {x} >= {summer_from} AND {x} < {summer_until} "
        "THEN '+2 hours' ELSE '+1 hour' END"
    )
    return f"date({x}, {offset})"


@compiles(DaysBetween, "postgresql")
def _days_between_pg(element: Any, compiler: Any, **kw: Any) -> str:
    first, second = element.clauses
    return f"({compiler.process(second, **kw)} - {compiler.process(first, **kw)})"


@compiles(DaysBetween, "sqlite")
def _days_between_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    first, second = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({second}) - julianday({first}) AS INTEGER)"


@dataclass(frozen=True)
class Backlog:
    """Open and overdue requests, per right."""

    open: Mapping[str, int]
    overdue: Mapping[str, int]

    @property
    def total_open(self) -> int:
        return sum(self.open.values())

    @property
    def total_overdue(self) -> int:
        return sum(self.overdue.values())


@dataclass(frozen=True)
class Week:
    """Requests received in one ISO week (Monday to Sunday), per right."""

    start: date
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def iso_week(self) -> int:
        return self.start.isocalendar().week


@dataclass(frozen=True)
class Answers:
    """Requests answered in a window: how long it took and how many in time."""

    answered: int = 0
    in_time: int = 0
    median_days: float | None = None
    # Days to answer -> number of requests: the histogram the median comes from.
    days: Mapping[int, int] = field(default_factory=dict)

    @property
    def share_in_time(self) -> float | None:
        """The share answered by the due date; None when nothing was answered."""
        return self.in_time / self.answered if self.answered else None


@dataclass(frozen=True)
class Dashboard:
    """Every figure the dashboard shows, as of ``today``."""

    today: date
    backlog: Backlog
    weeks: list[Week]
    # The answer window: requests closed from ``answered_since`` to ``today``.
    answered_since: date
    answers: Answers
    answers_by_kind: Mapping[str, Answers]


def backlog(session: Session, today: date) -> Backlog:
    """Open requests per right, and those past their due date with the clock running."""
    rows = session.execute(
        select(
            Request.kind,
            func.count(),
            func.count(case((and_(Request.due_on < today, Request.paused_at.is_(None)), 1))),
        )
        .where(Request.status.in_(OPEN_STATUSES))
        .group_by(Request.kind)
    ).all()
    open_ = dict.fromkeys(KINDS, 0)
    overdue = dict.fromkeys(KINDS, 0)
    for kind, count, late in rows:
        open_[kind] = int(count)
        overdue[kind] = int(late)
    return Backlog(open=open_, overdue=overdue)


def first_week(today: date, weeks: int = WEEKS) -> date:
    """The Monday that starts the first of ``weeks`` ISO weeks ending with today's."""
    return today - timedelta(days=today.weekday(), weeks=weeks - 1)


def weekly_received(session: Session, today: date, weeks: int = WEEKS) -> list[Week]:
    """Requests received per ISO week and right, oldest week first, today's week last.

    Grouped by day in SQL (at most 7 x ``weeks`` x 5 rows) and folded into
    weeks here: portable, where week truncation differs between databases.
    """
    start = first_week(today, weeks)
    rows = session.execute(
        select(Request.received_on, Request.kind, func.count())
        .where(
            Request.status != "unverified",
            Request.received_on >= start,
            Request.received_on <= today,
        )
        .group_by(Request.received_on, Request.kind)
    ).all()
    counts = [dict.fromkeys(KINDS, 0) for _ in range(weeks)]
    for received_on, kind, count in rows:
        assert received_on is not None  # the range above excludes NULL
        counts[(received_on - start).days // 7][kind] += int(count)
    return [
        Week(start=start + timedelta(weeks=index), counts=week)
        for index, week in enumerate(counts)
    ]


def median(histogram: Mapping[int, int]) -> float | None:
    """The median of values given as value -> count; None for no values."""
    total = sum(histogram.values())
    if total == 0:
        return None
    # 0-based positions of the middle values in sorted order: the same one twice
    # for an odd count, the two around the middle for an even count.
    middle = ((total - 1) // 2, total // 2)
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while len(found) < 2 and middle[len(found)] < seen:
            found.append(value)
    return (found[0] + found[1]) / 2


def _answers(rows: Iterable[tuple[int, bool, int]]) -> Answers:
    """Fold (days to answer, in time, count) groups into one ``Answers``."""
    histogram: Counter[int] = Counter()
    in_time = 0
    for days, on_time, count in rows:
        histogram[days] += count
        in_time += count if on_time else 0
    return Answers(
        answered=histogram.total(),
        in_time=in_time,
        median_days=median(histogram),
        days=dict(histogram),
    )


def answered_since(today: date, months: int = ANSWER_WINDOW_MONTHS) -> date:
    """The first day of the answer window: ``months`` months of days ending today."""
    return today - relativedelta(months=months) + timedelta(days=1)


def answers_by_kind(
    session: Session, today: date, months: int = ANSWER_WINDOW_MONTHS
) -> dict[str, Answers]:
    """Time to answer and answers in time per right, over requests closed in the window.

    Days to answer are the Paris date of closing minus the date of receipt, less
    the days the clock was suspended (waiting for the requester or for a proof of
    identity: ``paused_days``, which also moved the due date); in time means
    closed on or before the due date.
    """
    since = answered_since(today, months)
    closed_on = ParisDate(Request.closed_at)
    days = DaysBetween(Request.received_on, closed_on) - func.coalesce(Request.paused_days, 0)
    on_time = closed_on <= Request.due_on
    rows = session.execute(
        select(Request.kind, days, on_time, func.count())
        .where(
            Request.status.in_(ANSWERED),
            Request.received_on.is_not(None),
            # Bounds as instants, so the database compares the raw column.
            Request.closed_at >= _paris_midnight(since),
            Request.closed_at < _paris_midnight(today + timedelta(days=1)),
        )
        .group_by(Request.kind, days, on_time)
    ).all()
    grouped: defaultdict[str, list[tuple[int, bool, int]]] = defaultdict(list)
    for kind, day_count, in_time, count in rows:
        grouped[kind].append((int(day_count), bool(in_time), int(count)))
    return {kind: _answers(grouped[kind]) for kind in KINDS}


def combine(parts: Sequence[Answers]) -> Answers:
    """All rights together, from the per-right histograms (no second query)."""
    histogram: Counter[int] = Counter()
    for part in parts:
        histogram.update(part.days)
    return Answers(
        answered=histogram.total(),
        in_time=sum(part.in_time for part in parts),
        median_days=median(histogram),
        days=dict(histogram),
    )


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=deadlines.PARIS)


def dashboard(session: Session, now: datetime) -> Dashboard:
    """Every figure of the dashboard as of ``now`` (an aware instant)."""
    today = deadlines.receipt_date(now)
    by_kind = answers_by_kind(session, today)
    return Dashboard(
        today=today,
        backlog=backlog(session, today),
        weeks=weekly_received(session, today),
        answered_since=answered_since(today),
        answers=combine(list(by_kind.values())),
        answers_by_kind=by_kind,
    )

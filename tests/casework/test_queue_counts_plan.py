"""The queue's counts read the open cases' index alone, never the table's rows.

Every view shows the counts, so they are the floor of every view's time: an
index-only pass over the backlog stays cheap at 1,000,000 requests (issue 15's
benchmark), a pass that fetches each open case from the table does not. A
column counted without being in ``ix_requests_open_counts`` (as "proof
awaited" was, for a while) makes that difference silently; these tests see it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, text
from sqlalchemy.sql import visitors

from app.casework import queue
from app.models import Request

TODAY = date(2026, 12, 1)


def _counts_index():
    return next(i for i in Request.__table__.indexes if i.name == "ix_requests_open_counts")


def _columns_read(statement) -> set[str]:
    return {
        element.name
        for element in visitors.iterate(statement)
        if isinstance(element, Column) and element.table is Request.__table__
    }


def test_every_column_the_counts_read_is_in_their_index():
    read = _columns_read(queue.counts_statement(TODAY))
    held = {column.name for column in _counts_index().columns}
    assert read, "no column of requests found in the counts' statement"
    assert read <= held, f"counted but not in ix_requests_open_counts: {sorted(read - held)}"


def test_the_index_is_partial_on_the_open_cases_the_counts_read():
    index = _counts_index()
    where = str(index.dialect_options["postgresql"]["where"])
    for status in queue.OPEN_STATUSES:
        assert f"'{status}'" in where


def test_the_database_answers_the_counts_from_the_index_alone(session):
    """The migrated database's own plan: a covering index (SQLite) or an index-only
    scan (PostgreSQL, sequential and bitmap scans switched off so that a small test
    table does not hide the choice)."""
    statement = queue.counts_statement(TODAY)
    compiled = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
        assert "Index Only Scan using ix_requests_open_counts" in plan, plan
    else:
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        plan = "\n".join(str(row[-1]) for row in rows)
        assert "COVERING INDEX ix_requests_open_counts" in plan, plan
    session.rollback()

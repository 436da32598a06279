"""The status page loads what its template needs up front: a fixed number of SQL
statements however many plans, lines and events the request has (issue 19).

A template that starts lazy-loading a relationship again adds statements per
view, and fails here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event

from app.extensions import db
from app.models import Request
from tests.rules.test_routing import file_and_route, filing_for, persona

# The request with its report, its plans, their lines, its events.
STATUS_PAGE_STATEMENTS = 4


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_status_page_runs_a_fixed_number_of_statements(smtp_app, smtp):
    """Camille's erasure, plan shown: the view's statements do not grow with her plan."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    with smtp_app.app_context():
        request = db.session.get_one(Request, request_id)
        lines = len(request.plan.lines) if request.plan else 0
        db.session.remove()
    assert lines >= 3, "the demo persona should have a plan of several lines"
    client.get("/status")  # the first view may touch the session's row; count the next
    with statements(smtp_app) as seen:
        page = client.get("/status")
    assert page.status_code == 200
    assert 'class="plan' in page.get_data(as_text=True)
    assert len(seen) <= STATUS_PAGE_STATEMENTS, "\n".join(s[:120] for s in seen)

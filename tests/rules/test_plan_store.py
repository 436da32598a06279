"""A plan and its lines are written in two statements, whatever the number of lines (issue 19)."""

from __future__ import annotations

from app.extensions import db
from app.models import Request
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.test_status_queries import statements


def test_routing_writes_the_plan_and_its_lines_in_one_statement_each(smtp_app, smtp):
    """Camille's erasure: one INSERT of the plan (numbered in it), one of all its lines."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    with statements(smtp_app) as seen:
        request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    inserts = [s for s in seen if s.startswith(("INSERT INTO plans", "INSERT INTO plan_lines"))]
    assert [s.split(" (", 1)[0] for s in inserts] == [
        "INSERT INTO plans",
        "INSERT INTO plan_lines",
    ]
    with smtp_app.app_context():
        request = db.session.get_one(Request, request_id)
        assert request.plan is not None and request.plan.number == 1
        assert len(request.plan.lines) >= 3
        assert [line.position for line in request.plan.lines] == list(
            range(len(request.plan.lines))
        )
        db.session.remove()

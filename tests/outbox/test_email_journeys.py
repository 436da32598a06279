"""How many emails a person receives on each journey, and which: one per step they must know
about or act on, none for a move that the next email, seconds later, says again.

Issue 14: one access request sent eight emails, four in the same second (approved,
updated, ready to download, completed), and the one with the download link got
lost among them. Each journey below runs through the pages and the worker, and
lists the emails queued to the requester, in order (the send_email jobs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Job
from app.outbox.registry import EMAILS, Audience
from tests.casework.test_cases import act, case_of
from tests.conftest import post_form, run_jobs, text_of
from tests.fulfilment.test_erasure import copy_of, warehouse_app
from tests.fulfilment.test_packages import reflection_over
from tests.fulfilment.test_rectification import restrictions, submit
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client


@pytest.fixture
def journey_app(make_app: Any, smtp: Any, warehouse: Path, tmp_path: Path) -> Flask:
    """An app on its own copy of the warehouse (erasure and rectification write to it)."""
    copy = copy_of(warehouse, tmp_path / "warehouse.sqlite3")
    return warehouse_app(make_app, copy, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)


def emails_of(app: Flask, request_id: int) -> list[str]:
    """The emails queued to the requester of the request, in order."""
    with app.app_context():
        jobs = db.session.scalars(
            select(Job)
            .where(Job.kind == "send_email", Job.request_id == request_id)
            .order_by(Job.id)
        ).all()
        names = [
            job.payload["template"]
            for job in jobs
            if EMAILS[job.payload["template"]].audience is Audience.REQUESTER
        ]
        db.session.remove()
    return names


def _filed(app: Flask, smtp: Any, first: str, kind: str) -> tuple[int, str, Any]:
    client = app.test_client()
    request_id = file_and_route(app, smtp, client, filing_for(persona(first), kind))
    return request_id, case_of(app, request_id).reference or "", client


def _claimed(app: Flask, reference: str) -> Any:
    agent, _ = staff_client(app, f"agent-{reference.lower()}@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    return agent


def _access(app: Flask, smtp: Any, request_id: int, reference: str, requester: Any) -> None:
    """Access: the receipt, what we found, a person examining it, then the link, alone."""
    reflection_over(app, request_id)
    agent = _claimed(app, reference)
    assert act(agent, reference, "approve").status_code == 303
    run_jobs(app)
    # An access is not a portability request: neither the page nor the email speaks of it.
    page = requester.get("/status").get_data(as_text=True)
    assert "portabilit" not in page.lower() and "package-title" in page
    for message in smtp.received.to(persona("Camille").email):
        assert "portabilit" not in text_of(message).lower()


def _erasure(app: Flask, smtp: Any, request_id: int, reference: str, requester: Any) -> None:
    """Erasure, four eyes: the approval is not written about, the completion says it."""
    agent = _claimed(app, reference)
    dpo, _ = staff_client(app, "dpo-journey@example.org", "dpo")
    assert act(agent, reference, "prepare-approval").status_code == 303
    assert act(dpo, reference, "approve").status_code == 303


def _objection(app: Flask, smtp: Any, request_id: int, reference: str, requester: Any) -> None:
    """Objection: applied at once after approval; one email says it is done."""
    agent = _claimed(app, reference)
    assert act(agent, reference, "approve").status_code == 303


def _rectification(app: Flask, smtp: Any, request_id: int, reference: str, requester: Any) -> None:
    """Rectification: the corrections take staff time, so the approval is a step of its own."""
    agent = _claimed(app, reference)
    assert act(agent, reference, "approve").status_code == 303
    run_jobs(app)
    for flag in restrictions(app, request_id).values():
        assert submit(agent, reference, "save", flag.id).status_code == 303
    assert submit(agent, reference, "finish").status_code == 303


def _withdrawal(app: Flask, smtp: Any, request_id: int, reference: str, requester: Any) -> None:
    """Withdrawal from the status page: one confirmation after the plan."""
    assert post_form(requester, "/status/withdraw", {"confirm": "y"}).status_code == 303


FOUND = ["verify", "acknowledgement", "plan_ready"]
# Who files, which right, what happens next, and every email the requester then receives.
JOURNEYS = [
    pytest.param(
        "Camille", "access", _access, [*FOUND, "in_review", "package_ready"], id="access"
    ),
    pytest.param(
        "Camille", "erasure", _erasure, [*FOUND, "in_review", "completed_erasure"], id="erasure"
    ),
    pytest.param(
        "Camille",
        "objection",
        _objection,
        [*FOUND, "in_review", "completed_objection"],
        id="objection",
    ),
    pytest.param(
        "Zoé",
        "rectification",
        _rectification,
        [*FOUND, "in_review", "approved", "completed_rectification"],
        id="rectification",
    ),
    pytest.param("Camille", "erasure", _withdrawal, [*FOUND, "withdrawn"], id="withdrawal"),
]


@pytest.mark.parametrize(("first", "kind", "walk", "expected"), JOURNEYS)
def test_each_journey_sends_one_email_per_step_and_no_other(
    journey_app, smtp, first, kind, walk, expected
):
    """A journey (its own docstring says which) sends the requester these emails, in order."""
    request_id, reference, requester = _filed(journey_app, smtp, first, kind)
    walk(journey_app, smtp, request_id, reference, requester)
    run_jobs(journey_app)
    assert emails_of(journey_app, request_id) == expected


def test_an_approval_is_news_only_where_the_work_then_waits():
    """A rectification (staff correct by hand) and a copy held 48 hours say "approved"."""
    from datetime import UTC, datetime, timedelta

    from app import lifecycle
    from app.models import Request

    now = datetime(2026, 12, 1, 10, tzinfo=UTC)
    held = Request(kind="access", release_not_before=now + timedelta(hours=30))
    assert lifecycle.email_for("in_review", "approved", held, now) == "approved"
    over = Request(kind="access", release_not_before=now - timedelta(hours=1))
    assert lifecycle.email_for("in_review", "approved", over, now) is None
    for kind, news in [("rectification", True), ("erasure", False), ("objection", False)]:
        request = Request(kind=kind)
        assert (lifecycle.email_for("in_review", "approved", request, now) is not None) is news
    assert lifecycle.email_for("approved", "fulfilling", held, now) is None

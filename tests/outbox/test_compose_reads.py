"""The emails of a batch read their requests once, in one statement (issue 19): compose
takes the facts the worker read with the lease instead of reading each request again."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Job, utcnow
from app.outbox import jobs, mailer, worker
from app.outbox.handlers import HANDLERS
from app.services import services_of
from tests.outbox.test_outbox import _file_many


def batch_statements(app, **options: Any) -> tuple[int, list[str]]:
    """One worker batch (``options`` for ``run_batch``): how many jobs ran, and every
    statement it sent but SQLite's ``BEGIN IMMEDIATE`` (the test configuration's)."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        if statement != "BEGIN IMMEDIATE":
            seen.append(statement)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            done = worker.run_batch(
                db.session(),
                HANDLERS,
                services_of(app),
                worker="w1",
                clock=utcnow,
                lease_seconds=60,
                policy=jobs.RetryPolicy.of(app.config),
                rng=random.Random(1),
                **options,
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
            db.session.remove()
    return done, seen


def _reads_of_requests(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().startswith("SELECT") and "FROM requests" in s]


def test_a_batch_of_emails_reads_its_requests_in_one_statement(smtp_app, smtp):
    """Five verification emails: one read of the five requests, five messages sent."""
    expected = _file_many(smtp_app, 5)
    done, seen = batch_statements(smtp_app, limit=10)
    assert done == 5
    reads = _reads_of_requests(seen)
    assert len(reads) == 1, "\n".join(s[:160] for s in reads)
    received = {m["Message-ID"] for m in smtp.received.messages}
    assert received == set(expected)


def test_compose_reads_the_request_when_not_given_it(app):
    """Called alone (no facts from the worker), compose reads the request's facts itself,
    and refuses facts of another request."""
    _file_many(app, 2)
    with app.app_context():
        session = db.session()
        first, second = session.scalars(select(Job).order_by(Job.id)).all()
        outgoing = mailer.compose(app, session, first)
        assert outgoing is not None and outgoing.address == "person0@example.fr"
        facts = mailer.facts_of(session, [second.request_id])[second.request_id]
        given = mailer.compose(app, session, second, request=facts)
        assert given is not None and given.address == "person1@example.fr"
        with pytest.raises(ValueError, match="not of this job's request"):
            mailer.compose(app, session, first, request=facts)
        db.session.remove()

"""Routing a request costs a fixed number of statements (docs/benchmarks.md, "The whole
pipeline"): its request comes with the lease, and the contact check, the deadline fields
and the audit events go into the status change's statement instead of a flush before it.
A request changed after the lease read it is routed as it now is, in the same batch."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import intake
from app.extensions import db
from app.models import AuditEvent, Job, Plan, Request, utcnow
from app.outbox import jobs, worker
from app.outbox.handlers import HANDLERS, send_email
from app.services import services_of
from tests.conftest import csrf_from, file_form, link_in, run_jobs
from tests.outbox.test_compose_reads import batch_statements
from tests.rules.test_routing import filing_for, persona

# Per dialect: the lease (with the request on PostgreSQL; a second read elsewhere),
# then per request the plan, its lines and the status change (one statement on
# PostgreSQL; the UPDATE and one insert per table elsewhere), then the jobs marked done.
# Before (main at 484ee5b) one request took 10 statements on PostgreSQL and two 19
# (14 and 27 on SQLite):
# the request read again, the contact check's UPDATE, two autoflushes of audit events,
# one of the request's fields, and each job's own UPDATE.
EXPECTED = {
    "postgresql": {1: 5, 2: 8},
    "sqlite": {1: 10, 2: 17},
}


def _verified(app, smtp, kinds: list[str]) -> None:
    """File and confirm one of Camille's requests per kind; their route jobs wait."""
    filings = [filing_for(persona("Camille"), kind) for kind in kinds]
    for filing in filings:
        file_form(app.test_client(), filing)
    run_jobs(app)
    for message in smtp.received.to(filings[0]["email"]):
        client = app.test_client()
        path = link_in(message)
        client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    with app.app_context():
        # The acknowledgements wait: the batch is the route jobs alone.
        db.session.execute(
            update(Job)
            .where(Job.kind == jobs.SEND_EMAIL, Job.state == "pending")
            .values(run_after=utcnow() + timedelta(hours=1))
        )
        db.session.commit()
        db.session.remove()


def _routed(app, count: int) -> None:
    with app.app_context():
        session = db.session()
        assert session.scalars(select(Request.status)).all() == ["triage"] * count
        assert session.scalar(select(Plan.id).limit(1)) is not None
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.request_id.is_not(None))
            .order_by(AuditEvent.id)
        ).all()
        routing = ["identity.assurance", "plan.computed", "status.triage"]
        assert actions[-3:] == routing
        assert (
            session.scalars(select(Job.state).where(Job.kind == jobs.ROUTE)).all()
            == ["done"] * count
        )
        db.session.remove()


def _check(app, count: int) -> None:
    done, seen = batch_statements(app)
    assert done == count
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    name = "postgresql" if url.startswith("postgresql") else "sqlite"
    listing = "\n".join(s.split("\n")[0][:120] for s in seen)
    assert len(seen) == EXPECTED[name][count], listing
    _routed(app, count)


def test_routing_one_request_takes_a_fixed_number_of_statements(smtp_app, smtp):
    """A matched erasure routed alone: lease, plan, lines, status change, job done."""
    _verified(smtp_app, smtp, ["erasure"])
    _check(smtp_app, 1)


def test_a_group_of_route_jobs_marks_its_jobs_done_in_one_statement(smtp_app, smtp):
    """Two route jobs in one batch: three statements each, one lease and one completion."""
    _verified(smtp_app, smtp, ["erasure", "access"])
    _check(smtp_app, 2)


def test_a_request_withdrawn_after_the_lease_read_it_is_not_routed(smtp_app, smtp):
    """The requester withdraws while the batch's acknowledgement is sent, after the lease
    read the request: the route's status change is refused as stale, and its run again,
    reading the request afresh, routes nothing; the job is done in the same batch."""
    _verified(smtp_app, smtp, ["erasure"])
    with smtp_app.app_context():
        db.session.execute(
            update(Job).where(Job.kind == jobs.SEND_EMAIL).values(run_after=utcnow())
        )
        db.session.commit()
        db.session.remove()

    def withdraw_then_send(session, job, now, services) -> None:
        with Session(db.engine) as other:
            request = other.get(Request, job.request_id)
            assert request is not None and request.status == "received"
            intake.withdraw(other, request, now=now, mail=services.mail)
            other.commit()
        send_email(session, job, now, services)

    with smtp_app.app_context():
        done = worker.run_batch(
            db.session(),
            {**HANDLERS, jobs.SEND_EMAIL: withdraw_then_send},
            services_of(smtp_app),
            worker="w1",
            clock=utcnow,
            lease_seconds=60,
            policy=jobs.RetryPolicy.of(smtp_app.config),
            rng=random.Random(1),
        )
        db.session.remove()
    assert done == 2
    with smtp_app.app_context():
        session = db.session()
        assert session.scalar(select(Request.status)) == "withdrawn"
        assert session.scalar(select(func.count()).select_from(Plan)) == 0
        route = session.scalar(select(Job).where(Job.kind == jobs.ROUTE))
        assert route is not None and (route.state, route.last_error) == ("done", None)
        db.session.remove()

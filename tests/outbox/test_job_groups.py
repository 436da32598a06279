"""Jobs that only write to the database commit several at a time; a failing one falls back
to a transaction of its own, and the others' writes happen exactly once."""

from __future__ import annotations

import random
from collections import Counter

from sqlalchemy import event, select

from app.extensions import db
from app.models import Job, utcnow
from app.outbox import jobs, worker
from app.services import services_of

KIND = "test_grouped"


def _handler(session, job, now, services) -> None:
    # A write of the job's own: a marker job naming it.
    jobs.enqueue(session, "test_marker", now=now, payload={"of": job.id})
    session.flush()
    if job.payload.get("fail"):
        raise RuntimeError("this job fails")


def _run(app, failing: set[int], count: int = 6) -> tuple[int, int]:
    """Queue ``count`` grouped jobs (those at ``failing`` positions fail) and run one batch;
    returns how many jobs ran and how many transactions committed while they did."""
    commits: list[int] = []

    def counted(connection) -> None:
        commits.append(1)

    with app.app_context():
        session = db.session()
        for i in range(count):
            jobs.enqueue(session, KIND, now=utcnow(), payload={"fail": i in failing})
        session.commit()
        event.listen(db.engine, "commit", counted)
        try:
            ran = worker.run_batch(
                session,
                {KIND: _handler},
                services_of(app),
                worker="group-test",
                clock=utcnow,
                lease_seconds=60,
                policy=jobs.RetryPolicy(),
                rng=random.Random(0),
                grouped={KIND},
            )
        finally:
            event.remove(db.engine, "commit", counted)
        db.session.remove()
    return ran, len(commits)


def _outcome(app) -> tuple[Counter, Counter]:
    """The grouped jobs' states, and how many markers each job wrote."""
    with app.app_context():
        states = Counter(db.session.scalars(select(Job.state).where(Job.kind == KIND)))
        markers = Counter(
            job.payload["of"]
            for job in db.session.scalars(select(Job).where(Job.kind == "test_marker"))
        )
        db.session.remove()
    return states, markers


def test_a_run_of_grouped_jobs_commits_once(app):
    """Six jobs, one claim commit and one commit for all six, each writing once."""
    ran, commits = _run(app, failing=set())
    assert ran == 6
    assert commits == 2
    states, markers = _outcome(app)
    assert states == Counter({"done": 6})
    assert len(markers) == 6 and set(markers.values()) == {1}


def test_a_failing_job_falls_back_to_its_own_transaction(app):
    """The fourth fails: the group is rolled back, each job runs alone; the five others are
    done with their one write, the failing one waits for its retry and wrote nothing."""
    ran, commits = _run(app, failing={3})
    assert ran == 6
    assert commits == 1 + 6
    states, markers = _outcome(app)
    assert states == Counter({"done": 5, "pending": 1})
    assert len(markers) == 5 and set(markers.values()) == {1}
    with app.app_context():
        failed = db.session.scalar(select(Job).where(Job.kind == KIND, Job.state == "pending"))
        assert failed is not None and failed.attempts == 1
        assert failed.last_error == "RuntimeError: this job fails"
        assert failed.id not in markers
        db.session.remove()


def test_emails_are_never_grouped():
    """An email leaves before its job commits: grouping would double a run of them."""
    assert jobs.SEND_EMAIL not in jobs.GROUPED
    assert jobs.ROUTE in jobs.GROUPED


def test_grouped_jobs_between_others_still_share_one_transaction(app):
    """Route-like jobs interleaved with emails: the others commit one by one, the grouped
    ones together after them."""
    order: list[str] = []

    def alone(session, job, now, services) -> None:
        order.append("alone")

    def grouped(session, job, now, services) -> None:
        order.append("grouped")

    commits: list[int] = []

    def counted(connection) -> None:
        commits.append(1)

    with app.app_context():
        session = db.session()
        for _ in range(3):
            jobs.enqueue(session, KIND, now=utcnow())
            jobs.enqueue(session, "test_alone", now=utcnow())
        session.commit()
        event.listen(db.engine, "commit", counted)
        try:
            ran = worker.run_batch(
                session,
                {KIND: grouped, "test_alone": alone},
                services_of(app),
                worker="group-test",
                clock=utcnow,
                lease_seconds=60,
                policy=jobs.RetryPolicy(),
                rng=random.Random(0),
                grouped={KIND},
            )
        finally:
            event.remove(db.engine, "commit", counted)
        db.session.remove()
    assert ran == 6
    assert order == ["alone"] * 3 + ["grouped"] * 3
    assert len(commits) == 1 + 3 + 1

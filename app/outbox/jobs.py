"""The job table as a queue: enqueue in the caller's transaction, claim, finish, fail.

A claim is a lease: the worker that takes a job holds it until ``locked_until``.
A worker that dies leaves its lease to expire, and the job is taken again, so
a crash delays work but never loses it. On PostgreSQL the claim query uses
``FOR UPDATE SKIP LOCKED`` so any number of workers share the queue; SQLite
serialises writers, which gives the same guarantee for a single host.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from app.models import Job, Request

SEND_EMAIL = "send_email"
ROUTE = "route"
REMINDERS = "reminders"
# Kinds whose handler writes to the database only and never commits: several
# run in one transaction (``app.outbox.worker.run_batch``). Never an email,
# which leaves the building before its job commits.
GROUPED = frozenset({ROUTE})
# Kinds whose request the lease reads with the job (``lease``): the route job
# reads its request and nothing else before it writes, and every write it makes
# passes the version check of its status change, which refuses a request that
# changed since the lease.
WITH_REQUEST = frozenset({ROUTE})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing job is tried again."""

    max_attempts: int = 8
    backoff_seconds: int = 30
    backoff_max_seconds: int = 6 * 3600
    # A transient failure (the mail server down, slow, or answering 4xx "try later")
    # does not use up attempts: the job is tried again, backing off, for this long
    # after it was queued, as a mail server keeps a message it could not deliver.
    transient_for_seconds: int = 3 * 24 * 3600

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> RetryPolicy:
        """The policy the ``JOB_*`` settings describe."""
        return cls(
            max_attempts=config["JOB_MAX_ATTEMPTS"],
            backoff_seconds=config["JOB_BACKOFF_SECONDS"],
            backoff_max_seconds=config["JOB_BACKOFF_MAX_SECONDS"],
            transient_for_seconds=config["JOB_TRANSIENT_RETRY_SECONDS"],
        )

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Exponential backoff with full jitter between half and the whole step."""
        step = min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)
        return timedelta(seconds=step * rng.uniform(0.5, 1.0))


def new_message_id(domain: str) -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def enqueue(
    session: Session,
    kind: str,
    *,
    now: datetime,
    request_id: int | None = None,
    payload: dict[str, Any] | None = None,
    message_id: str | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Write a job in the caller's transaction: it exists if and only if the cause commits.

    A ``dedupe_key`` makes the job unique: a second insert with the same key
    fails on the unique constraint (see ``app.casework.reminders`` for the savepoint).
    """
    job = Job(**job_values(kind, now, request_id, payload, message_id, dedupe_key))
    session.add(job)
    return job


def job_values(
    kind: str,
    now: datetime,
    request_id: int | None = None,
    payload: dict[str, Any] | None = None,
    message_id: str | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """The columns of a new pending job (``enqueue`` without a Session)."""
    return {
        "kind": kind,
        "request_id": request_id,
        "payload": payload or {},
        "state": "pending",
        "attempts": 0,
        "run_after": now,
        "message_id": message_id,
        "dedupe_key": dedupe_key,
        "created_at": now,
    }


def _claimable(now: datetime) -> Any:
    return (
        (Job.state == "pending")
        & (Job.run_after <= now)
        & or_(Job.locked_until.is_(None), Job.locked_until < now)
    )


# The request's columns in a lease's rows, apart from the job's own.
REQUEST_PREFIX = "request__"


@dataclass(frozen=True)
class Lease:
    """The leased jobs' rows and, by job id, the rows of the requests read with them."""

    rows: list[Row[Any]]
    requests: dict[int, dict[str, Any]]


def lease(
    session: Session, worker: str, now: datetime, lease_seconds: int, limit: int = 10
) -> list[Row[Any]]:
    """Lease up to ``limit`` due jobs to ``worker``, one statement; the caller commits at once."""
    return lease_with_requests(session, worker, now, lease_seconds, limit).rows


def lease_with_requests(
    session: Session,
    worker: str,
    now: datetime,
    lease_seconds: int,
    limit: int = 10,
    kinds: frozenset[str] = frozenset(),
) -> Lease:
    """Lease up to ``limit`` due jobs, with the requests of those whose kind is in ``kinds``.

    One ``UPDATE ... RETURNING`` takes the jobs and returns their rows, so the
    worker never reads a job again before running it (``held``). On PostgreSQL
    the due ids come from ``WITH due AS MATERIALIZED (SELECT ... LIMIT n FOR
    UPDATE SKIP LOCKED)``, skipping rows another worker is claiming; elsewhere
    from ``WHERE id IN (SELECT ... LIMIT n)``. The claim condition is
    repeated outside so that a racing claim on a database without row locks
    still lets only one worker win each job.

    The requests come in the same statement on PostgreSQL (the UPDATE as a CTE,
    joined to them), in a second one elsewhere: a route job then does not read
    its request again (docs/benchmarks.md, "The whole pipeline").
    """
    due = select(Job.id).where(_claimable(now)).order_by(Job.run_after, Job.id).limit(limit)
    table = cast(Table, Job.__table__)
    values = {
        "locked_by": worker,
        "locked_until": now + timedelta(seconds=lease_seconds),
        "attempts": table.c.attempts + 1,
    }
    if session.get_bind().dialect.name == "postgresql":
        # The due ids in a materialised CTE, joined: as "id IN (subquery)" PostgreSQL
        # may run the subquery again for each row it updates, and with SKIP LOCKED
        # each run finds further rows, so one claim took every due job whatever
        # the limit (two workers: the first took them all; tests/outbox/test_two_workers.py).
        chosen = (
            due.with_for_update(skip_locked=True)
            .cte("due")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        statement = update(table).where(table.c.id == chosen.c.id, _claimable(now))
    else:
        statement = update(table).where(table.c.id.in_(due.scalar_subquery()), _claimable(now))
    statement = statement.values(**values).returning(*table.c)
    requests: dict[int, dict[str, Any]] = {}
    if kinds and session.get_bind().dialect.name == "postgresql":
        rows = _lease_joined(session, statement, kinds, requests)
    else:
        rows = list(session.execute(statement).all())
        if kinds:
            requests = _requests_of(session, [r for r in rows if r.kind in kinds])
    return Lease(sorted(rows, key=lambda row: (row.run_after, row.id)), requests)


def _lease_joined(
    session: Session, statement: Any, kinds: frozenset[str], requests: dict[int, dict[str, Any]]
) -> list[Row[Any]]:
    """The lease as a CTE, each job's row joined to its request's (``kinds`` only)."""
    leased = statement.cte("leased")
    table = cast(Table, Request.__table__)
    joined = select(leased, *(c.label(f"{REQUEST_PREFIX}{c.key}") for c in table.c)).select_from(
        leased.outerjoin(table, and_(table.c.id == leased.c.request_id, leased.c.kind.in_(kinds)))
    )
    rows = list(session.execute(joined).all())
    key = f"{REQUEST_PREFIX}id"
    for row in rows:
        mapping = row._mapping
        if mapping[key] is not None:
            requests[row.id] = {c.key: mapping[f"{REQUEST_PREFIX}{c.key}"] for c in table.c}
    return rows


def _requests_of(session: Session, rows: list[Row[Any]]) -> dict[int, dict[str, Any]]:
    """The requests of these leased jobs, read in one statement, by job id."""
    ids = {row.request_id for row in rows if row.request_id is not None}
    if not ids:
        return {}
    table = cast(Table, Request.__table__)
    found = {
        found.id: dict(found._mapping)
        for found in session.execute(select(table).where(table.c.id.in_(ids)))
    }
    return {row.id: found[row.request_id] for row in rows if row.request_id in found}


def claim(
    session: Session, worker: str, now: datetime, lease_seconds: int, limit: int = 10
) -> list[int]:
    """The ids of the jobs ``lease`` gave ``worker``; the caller commits at once."""
    return [row.id for row in lease(session, worker, now, lease_seconds, limit)]


def held(session: Session, row: Row[Any], worker: str, now: datetime) -> Job | None:
    """The leased job as an object of ``session``, if ``worker``'s lease still runs; else None.

    Built from the row the lease returned, without reading it again: while the
    lease runs no other worker may take the job, and once it has run out the
    job is left alone (another worker may hold it by now).
    """
    if row.locked_by != worker or row.locked_until is None or row.locked_until < now:
        return None
    mapping = row._mapping
    job = Job(**{c.key: mapping[c.key] for c in cast(Table, Job.__table__).c})
    make_transient_to_detached(job)
    return session.merge(job, load=False)


def place(session: Session, values: dict[str, Any]) -> Request | None:
    """Put a request read with the lease into ``session``, so ``Session.get`` reads it no more.

    Not when the session already holds that request: what it holds is this
    transaction's (an earlier job of a group may have moved it). The session
    holds an unchanged object weakly: the caller keeps the one returned while
    the job runs.
    """
    if session.identity_map.get(session.identity_key(Request, values["id"])) is not None:
        return None
    request = Request(**values)
    make_transient_to_detached(request)
    session.add(request)
    return request


def release(session: Session, job_ids: list[int], worker: str) -> int:
    """Hand back claimed jobs that ``worker`` will not start (it is stopping).

    The attempt the claim counted is given back and the lease dropped, so
    another worker takes the jobs at once instead of after the lease.
    """
    if not job_ids:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state == "pending", Job.locked_by == worker)
        .values(locked_by=None, locked_until=None, attempts=Job.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def finish_all(session: Session, done: list[Job], now: datetime) -> None:
    """``finish`` for a group's jobs, in one executemany instead of a flush of each.

    The jobs' objects are not updated: the group commits next, which expires them.
    """
    if not done:
        return
    table = cast(Table, Job.__table__)
    # Through the Session: anything a handler changed on a job is flushed first.
    session.execute(
        update(table)
        .where(table.c.id == bindparam("done_id"))
        .values(
            state="done", finished_at=now, locked_until=None, payload=bindparam("done_payload")
        ),
        [{"done_id": job.id, "done_payload": _kept(job.payload)} for job in done],
    )


def _kept(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("secret_")}


def finish(job: Job, now: datetime) -> None:
    """Mark a job done and drop secrets its payload carried (link values)."""
    job.state = "done"
    job.finished_at = now
    job.locked_until = None
    job.payload = _kept(job.payload)


def fail(
    job: Job,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
    *,
    transient: bool = False,
) -> str:
    """Schedule a retry with backoff, or park the job after too many attempts.

    A ``transient`` failure parks the job only once it is older than
    ``policy.transient_for_seconds``: a mail server down for an hour must delay
    the emails of that hour, not park them after eight quick attempts.
    """
    job.last_error = error[:2000]
    job.locked_until = None
    job.locked_by = None
    young = now - job.created_at < timedelta(seconds=policy.transient_for_seconds)
    if transient and young:
        job.run_after = now + policy.delay(job.attempts, rng)
        return "retry"
    if job.attempts >= policy.max_attempts:
        job.state = "parked"
        job.finished_at = now
        return "parked"
    job.run_after = now + policy.delay(job.attempts, rng)
    return "retry"


def retry(session: Session, job_id: int, now: datetime) -> bool:
    """Put a parked job back in the queue (a staff or operator decision)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "parked")
        .values(state="pending", attempts=0, run_after=now, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

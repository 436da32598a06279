"""The worker loop: claim due jobs, run them, commit, retry or park.

``run`` is what ``flask worker`` does until it is stopped: housekeeping on its own
timer, batches of jobs, and a pause when there was nothing to do. ``run_batch`` is one
batch, and what the tests drive.

A handler's writes and the job's completion commit together; jobs that only
write to the database (``jobs.GROUPED``) commit several at a time, and fall
back to one transaction each when one of them fails. If the process
dies anywhere, the lease on its claimed jobs runs out and another worker
takes them; the email job's stored Message-ID lets a receiving system
recognise the rare copy sent just before a crash.
"""

from __future__ import annotations

import logging
import random
import smtplib
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.models import Job, utcnow
from app.outbox import heartbeat, housekeeping, jobs
from app.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[Session, Job, datetime, Services], None]


def transient(error: BaseException) -> bool:
    """A failure the mail system gets over by itself: the server down or unreachable, a
    timeout, a dropped connection, a 4xx answer ("try again later"). Anything else, a
    5xx refusal or a bug, uses up the job's attempts and ends parked."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, (smtplib.SMTPServerDisconnected, OSError))


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def run_batch(
    session: Session,
    handlers: Mapping[str, Handler],
    services: Services,
    *,
    worker: str,
    clock: Callable[[], datetime],
    lease_seconds: int,
    policy: jobs.RetryPolicy,
    rng: random.Random,
    limit: int = 10,
    stopping: Callable[[], bool] = lambda: False,
    grouped: Collection[str] = jobs.GROUPED,
) -> int:
    """Claim up to ``limit`` jobs and run them; returns how many were run.

    The jobs whose kind is in ``grouped`` (their handlers
    write to the database only and never commit: ``jobs.GROUPED``) run last,
    in one transaction. If any of them fails, or the commit does, the whole
    group is rolled back and each of its jobs runs again in a transaction of
    its own, where the failing one records its failure. A group of one is a
    group too: its run again reads its request afresh, so a request changed
    since the lease read it (its status change refused as stale) is routed
    in the same batch as it now is, not after a retry's backoff. Every other job
    (an email, which leaves the building) commits alone, as soon as it ran.

    ``stopping()`` is asked before each job: once it says yes (SIGTERM), the
    job under way has finished and the ones not started are handed back, so a
    stop waits for one job, never for a whole batch.
    """
    lease = jobs.lease_with_requests(
        session, worker, clock(), lease_seconds, limit, kinds=jobs.WITH_REQUEST & set(grouped)
    )
    leased = lease.rows
    # The requests of the batch's emails, read in the lease's transaction (one
    # statement, not one per email), and those of its route jobs, read with the
    # lease itself. Only when nothing but emails runs before them: another kind
    # of job could change a request before its email went or its route ran.
    requests: dict[int, dict[str, Any]] = {}
    if all(r.kind == jobs.SEND_EMAIL for r in leased if r.kind not in grouped):
        about = {r.request_id for r in leased if r.kind == jobs.SEND_EMAIL and r.request_id}
        if about:
            services.postman.prefetch(session, about)
        requests = lease.requests
    session.commit()
    # The batch's grouped jobs run together, after the others (a route job comes
    # after the email its verification queued, which keeps that order).
    claimed = [r for r in leased if r.kind not in grouped] + [
        r for r in leased if r.kind in grouped
    ]
    position = 0
    alone_until = 0
    while position < len(claimed):
        if stopping():
            jobs.release(session, [r.id for r in claimed[position:]], worker)
            session.commit()
            log.info("worker stopping: %d claimed job(s) handed back", len(claimed) - position)
            return position
        end = position
        while end < len(claimed) and claimed[end].kind in grouped:
            end += 1
        if position >= alone_until and end > position:
            done = _run_group(
                session,
                handlers,
                services,
                claimed[position:end],
                worker,
                clock,
                stopping,
                requests,
            )
            if done:
                position += done
                continue
            # Rolled back: each job of the group again, one transaction each.
            alone_until = end
        _run_one(
            session, handlers, services, claimed[position], worker, clock, policy, rng, requests
        )
        position += 1
    return len(claimed)


def _run_group(
    session: Session,
    handlers: Mapping[str, Handler],
    services: Services,
    group: list[Row[Any]],
    worker: str,
    clock: Callable[[], datetime],
    stopping: Callable[[], bool],
    requests: dict[int, dict[str, Any]],
) -> int:
    """Run jobs in one transaction; how many were committed (0: rolled back).

    The jobs are marked done together, in one statement before the commit.
    """
    ran = 0
    done: list[Job] = []
    kept: list[Any] = []
    try:
        for row in group:
            if ran and stopping():
                break
            ran += 1
            job = _held(session, row, worker, clock(), requests, kept)
            if job is None:
                continue
            handler = handlers.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            handler(session, job, clock(), services)
            done.append(job)
        jobs.finish_all(session, done, clock())
        session.commit()
    except Exception as error:
        session.rollback()
        log.info("a group of %d job(s) rolled back (%s): one by one", ran, type(error).__name__)
        return 0
    return ran


def _run_one(
    session: Session,
    handlers: Mapping[str, Handler],
    services: Services,
    row: Row[Any],
    worker: str,
    clock: Callable[[], datetime],
    policy: jobs.RetryPolicy,
    rng: random.Random,
    requests: dict[int, dict[str, Any]],
) -> None:
    """Run one job in its own transaction: done with its handler's writes, or failed."""
    kept: list[Any] = []
    job = _held(session, row, worker, clock(), requests, kept)
    if job is None:
        return
    job_id = row.id
    handler = handlers.get(job.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler for jobs of kind {job.kind!r}")
        handler(session, job, clock(), services)
        jobs.finish(job, clock())
        session.commit()
    except Exception as error:
        session.rollback()
        failed = session.get(Job, job_id, populate_existing=True)
        if failed is None:
            return
        outcome = jobs.fail(
            failed, describe(error), clock(), policy, rng, transient=transient(error)
        )
        session.commit()
        # Job id and error type only: messages may name a recipient.
        log.warning(
            "job %s (%s) failed: %s, %s", job_id, failed.kind, type(error).__name__, outcome
        )


def _held(
    session: Session,
    row: Row[Any],
    worker: str,
    now: datetime,
    requests: dict[int, dict[str, Any]],
    kept: list[Any],
) -> Job | None:
    """``jobs.held``, with the request read with the lease placed in the session.

    Taken once: a job run again after its group was rolled back reads its
    request afresh. ``kept`` holds the placed request until the transaction ends.
    """
    job = jobs.held(session, row, worker, now)
    read = requests.pop(row.id, None)
    if job is not None and read is not None:
        kept.append(jobs.place(session, read))
    return job


@dataclass(frozen=True)
class Settings:
    """How one worker process paces itself (``JOB_*`` and ``WORKER_POLL_SECONDS``)."""

    name: str
    lease_seconds: int
    poll_seconds: float
    retry: jobs.RetryPolicy
    batch: int = 10
    # How often the worker's heartbeat row is touched (readiness reads it).
    heartbeat_seconds: float = 10.0
    # How often housekeeping runs (WORKER_HOUSEKEEPING_SECONDS): its own timer, so
    # a busy queue does not pay for it before every batch.
    housekeeping_seconds: float = 10.0


def run(
    session: Session,
    handlers: Mapping[str, Handler],
    services: Services,
    settings: Settings,
    *,
    stopping: Callable[[], bool],
    once: bool = False,
    on_batch: Callable[[int], None] = lambda ran: None,
) -> None:
    """Housekeeping and batches of jobs until ``stopping()`` says so (or, ``once``, until idle).

    Housekeeping runs on the first pass, then every ``housekeeping_seconds``.

    Every ``heartbeat_seconds`` the worker touches its heartbeat row, and
    deletes it when it stops.

    A failed pass (the database away, say) is rolled back and tried again
    after a pause: the worker waits, it never dies of it. With ``once`` the
    error is raised instead, so a one-shot run says what went wrong.
    """
    rng = random.SystemRandom()
    last_beat = last_chores = float("-inf")
    while not stopping():
        try:
            if time.monotonic() - last_beat >= settings.heartbeat_seconds:
                heartbeat.beat(session, settings.name, utcnow())
                session.commit()
                last_beat = time.monotonic()
            if time.monotonic() - last_chores >= settings.housekeeping_seconds:
                housekeeping.run(session, utcnow(), services)
                last_chores = time.monotonic()
            ran = run_batch(
                session,
                handlers,
                services,
                worker=settings.name,
                clock=utcnow,
                lease_seconds=settings.lease_seconds,
                policy=settings.retry,
                rng=rng,
                limit=settings.batch,
                stopping=stopping,
            )
        except Exception as error:
            session.rollback()
            log.error("worker pass failed: %s", type(error).__name__)
            if once:
                raise
            ran = 0
        if ran:
            on_batch(ran)
        if not ran:
            # Nothing waits: the mail server's connection is not held open while idle.
            _let_go(services)
        if once and ran == 0:
            break
        if not ran:
            _pause(settings.poll_seconds, stopping)
    _let_go(services)
    _say_goodbye(session, settings.name)


def _let_go(services: Services) -> None:
    try:
        services.postman.idle()
    except Exception as error:
        log.warning("worker could not close its mail connection: %s", type(error).__name__)


def _say_goodbye(session: Session, name: str) -> None:
    """Delete this worker's heartbeat, so readiness sees the stop at once."""
    try:
        heartbeat.stop(session, name)
        session.commit()
    except Exception as error:
        session.rollback()
        log.warning("worker %s could not clear its heartbeat: %s", name, type(error).__name__)


def _pause(seconds: float, stopping: Callable[[], bool]) -> None:
    """Sleep between idle passes, waking early when asked to stop."""
    deadline = time.monotonic() + seconds
    while not stopping() and time.monotonic() < deadline:
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))

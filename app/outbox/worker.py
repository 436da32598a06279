"""The worker loop: claim due jobs, run each in its own transaction, retry or park.

A handler's writes and the job's completion commit together. If the process
dies anywhere, the lease on its claimed jobs runs out and another worker
takes them; the email job's stored Message-ID lets a receiving system
recognise the rare copy sent just before a crash.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Job
from app.outbox import jobs

log = logging.getLogger(__name__)

Handler = Callable[[Session, Job, datetime], None]


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def run_batch(
    session: Session,
    handlers: Mapping[str, Handler],
    *,
    worker: str,
    clock: Callable[[], datetime],
    lease_seconds: int,
    policy: jobs.RetryPolicy,
    rng: random.Random,
    limit: int = 10,
) -> int:
    """Claim up to ``limit`` jobs and run them; returns how many were run."""
    ids = jobs.claim(session, worker, clock(), lease_seconds, limit)
    session.commit()
    for job_id in ids:
        job = jobs.held(session, job_id, worker, clock())
        if job is None:
            session.rollback()
            continue
        handler = handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            handler(session, job, clock())
            jobs.finish(job, clock())
            session.commit()
        except Exception as error:
            session.rollback()
            failed = session.get(Job, job_id, populate_existing=True)
            if failed is None:
                continue
            outcome = jobs.fail(failed, describe(error), clock(), policy, rng)
            session.commit()
            # Job id and error type only: messages may name a recipient.
            log.warning(
                "job %s (%s) failed: %s, %s", job_id, failed.kind, type(error).__name__, outcome
            )
    return len(ids)

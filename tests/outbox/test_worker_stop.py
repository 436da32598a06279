"""A stopped worker (SIGTERM, what systemd and containers send) finishes its job and hands
back the rest of its batch at once."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Job
from app.outbox import jobs
from tests.outbox.test_outbox import _file_many, _worker


@pytest.mark.slow
def test_sigterm_finishes_the_job_under_way_and_hands_back_the_rest(smtp_app, smtp):
    """SIGTERM mid-batch: the process exits 0 within seconds, every email that left is marked
    done exactly once, and the jobs not started are free for another worker now, not after
    the lease."""
    _file_many(smtp_app, 12)
    smtp.received.delay = 0.5
    process = _worker(smtp_app, smtp, "--batch", "12")
    deadline = time.monotonic() + 60
    while len(smtp.received.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(smtp.received.messages) >= 2, "the worker sent nothing"
    process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    _, errors = process.communicate(timeout=30)
    waited = time.monotonic() - stopped_at
    assert process.returncode == 0, errors.decode()[-2000:]
    assert waited < 3, f"the worker took {waited:.1f} s to stop: it ran its whole batch"
    assert "handed back" in errors.decode() or len(smtp.received.messages) < 12
    time.sleep(0.3)
    sent = {m["Message-ID"] for m in smtp.received.messages}
    assert len(sent) == len(smtp.received.messages), "an email left twice"
    with smtp_app.app_context():
        rows = db.session.scalars(select(Job).where(Job.kind == jobs.SEND_EMAIL)).all()
        done = {job.message_id for job in rows if job.state == "done"}
        waiting = [job for job in rows if job.state == "pending"]
        db.session.remove()
    assert done == sent, "a job and its email disagree"
    assert waiting, "the worker ran its whole batch despite SIGTERM"
    assert all(job.locked_by is None and job.locked_until is None for job in waiting)
    assert all(job.attempts == 0 for job in waiting), "a job not started counts an attempt"


def test_a_released_job_is_claimable_at_once(session):
    """``jobs.release`` gives a claimed job back: no lease to wait for, no attempt spent."""
    from app.models import utcnow

    now = utcnow()
    job = jobs.enqueue(session, jobs.SEND_EMAIL, now=now, payload={})
    session.commit()
    assert jobs.claim(session, "w1", now, 300) == [job.id]
    assert jobs.claim(session, "w2", now, 300) == []
    assert jobs.release(session, [job.id], "w2") == 0, "only the holder may hand a job back"
    assert jobs.release(session, [job.id], "w1") == 1
    session.commit()
    assert jobs.claim(session, "w2", now, 300) == [job.id]

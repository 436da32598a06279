"""Two workers on one PostgreSQL do not serialise (issue 19): the claim skips the jobs
another worker is claiming (FOR UPDATE SKIP LOCKED), and housekeeping and the audit
sealer skip a duty another worker holds (a try-lock) instead of waiting for it."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, locks
from app.extensions import db
from app.models import AuditChain, AuditEvent, Job, utcnow
from app.outbox import housekeeping, jobs, worker
from app.outbox.handlers import HANDLERS
from app.services import services_of
from tests.outbox.test_outbox import _file_many

pytestmark = pytest.mark.postgres


def _engine(app):
    with app.app_context():
        return db.engine


def test_a_claim_skips_the_jobs_another_worker_is_claiming(app):
    """While one worker's claim is uncommitted, another's returns other jobs at once."""
    _file_many(app, 8)
    engine = _engine(app)
    now = utcnow()
    with Session(engine) as first, Session(engine) as second:
        mine = jobs.claim(first, "w1", now, 60, limit=3)  # left uncommitted: rows locked
        second.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        theirs = jobs.claim(second, "w2", now, 60, limit=3)
        assert len(mine) == len(theirs) == 3
        assert not set(mine) & set(theirs)
        first.commit()
        second.commit()


def test_housekeeping_skips_the_seal_another_worker_is_doing(app):
    """A worker sealing (the chain head locked, its try-lock held) does not make another
    worker's housekeeping wait: that one skips the seal, then seals on a later pass."""
    _file_many(app, 3)  # three unsealed 'request.filed' events
    engine = _engine(app)
    services = services_of(app)
    with Session(engine) as sealer:
        assert locks.try_duty(sealer, "housekeeping:audit")
        audit.head(sealer)  # the chain head row locked, as a seal in progress holds it
        with app.app_context():
            session = db.session()
            session.execute(sa.text("SET lock_timeout = '2s'"))
            housekeeping.run(session, utcnow(), services)  # would time out if it waited
            unsealed = session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
            )
            assert unsealed == 3
            db.session.remove()
        sealer.rollback()
    with app.app_context():
        housekeeping.run(db.session(), utcnow(), services)
        assert db.session.scalar(select(AuditChain.seq)) >= 3
        assert audit.verify(db.session(), services.audit.keyring, None).ok
        db.session.remove()


def test_audit_seal_skips_the_seal_a_worker_is_doing(app):
    """`flask audit seal` takes the worker's sealing try-lock: while a worker holds it
    (and the chain head), the command returns at once, sealing nothing, and says so;
    once the worker is done it seals what is left."""
    _file_many(app, 3)
    engine = _engine(app)
    with Session(engine) as sealer:
        assert locks.try_duty(sealer, locks.SEAL_DUTY)
        audit.head(sealer)  # the chain head row locked, as a seal in progress holds it
        with app.app_context():
            db.session().execute(sa.text("SET lock_timeout = '2s'"))
            result = app.test_cli_runner().invoke(args=["audit", "seal"])
            db.session.remove()
        assert result.exit_code == 0, result.output
        assert "0 event(s) sealed; another process is sealing the rest" in result.output
        sealer.rollback()
    result = app.test_cli_runner().invoke(args=["audit", "seal"])
    assert result.exit_code == 0 and "3 event(s) sealed" in result.output
    with app.app_context():
        assert audit.verify(db.session(), services_of(app).audit.keyring, None).ok
        db.session.remove()


def test_two_worker_threads_send_every_email_exactly_once(make_app, smtp):
    """Two workers, each with its own app (its own SMTP session), database session,
    housekeeping and batches, run at once: every Message-ID is received once, every job
    is done, the audit chain verifies."""
    apps = {f"w{n}": make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port) for n in (1, 2)}
    smtp_app = apps["w1"]
    expected = _file_many(smtp_app, 30)
    services = services_of(smtp_app)
    ran: Counter[str] = Counter()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        app = apps[name]
        services = services_of(app)
        try:
            with app.app_context():
                session = db.session()
                deadline = utcnow() + timedelta(seconds=60)
                while utcnow() < deadline:
                    housekeeping.run(session, utcnow(), services)
                    done = worker.run_batch(
                        session,
                        HANDLERS,
                        services,
                        worker=name,
                        clock=utcnow,
                        lease_seconds=60,
                        policy=jobs.RetryPolicy.of(app.config),
                        rng=random.Random(name),
                        limit=3,
                    )
                    ran[name] += done
                    if done == 0:
                        break
                services.postman.idle()
                db.session.remove()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    received = Counter(m["Message-ID"] for m in smtp.received.messages)
    assert set(received) == set(expected)
    assert max(received.values()) == 1
    # Each job ran once (the emails, and the day's audit anchor), shared between both.
    with smtp_app.app_context():
        assert sum(ran.values()) == db.session.scalar(select(func.count()).select_from(Job))
        db.session.remove()
    assert min(ran.values()) > 0, ran
    with smtp_app.app_context():
        states = Counter(db.session.scalars(select(Job.state).where(Job.kind == jobs.SEND_EMAIL)))
        assert states == Counter({"done": len(expected)})
        assert audit.verify(db.session(), services.audit.keyring, None).ok
        db.session.remove()

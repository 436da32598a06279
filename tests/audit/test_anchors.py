"""The daily anchor: the chain's head in an append-only file and in the DPOs' mailboxes,
once per Paris day; `flask audit verify` compares the chain with every anchor.

Here the attacker holds the audit key (so the chain itself verifies after a
rewrite) but not the anchors.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session

from app import audit
from app.audit import anchors, daily
from app.deadlines import PARIS
from app.extensions import db
from app.models import AuditChain, AuditEvent, Job, StaffUser, utcnow
from app.outbox import housekeeping, jobs, worker
from app.outbox.handlers import HANDLERS
from app.services import services_of
from tests.conftest import csrf_from, run_jobs
from tests.staffkit import staff_client


def _append(app, count: int) -> None:
    with app.app_context():
        for i in range(count):
            audit.record(
                db.session(), actor="system", action="test.event", now=utcnow(), details={"n": i}
            )
        db.session.commit()
        while audit.seal(db.session(), services_of(app).audit.keyring):
            db.session.commit()
        db.session.remove()


def _anchor_now(app) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    return result.output


def _lines(app) -> list[str]:
    path = Path(app.config["AUDIT_ANCHOR_FILE"])
    return path.read_text().splitlines() if path.exists() else []


def _reseal_with_the_key(app, edit: int) -> None:
    """Edit event ``edit`` and recompute the chain with the real key, as its holder could."""
    keyring = services_of(app).audit.keyring
    with app.app_context():
        session = db.session()
        prev = audit.GENESIS
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
        ).all():
            if event.seq == edit:
                event.details = {"n": 999}
            if (event.seq or 0) >= edit:
                digest = audit.event_hash(
                    keyring,
                    event.key_id,
                    prev,
                    event.seq or 0,
                    event.occurred_at,
                    event.actor,
                    event.action,
                    event.request_id,
                    event.details,
                )
                event.prev_hash, event.hash = prev, digest
            prev = event.hash or ""
        session.execute(update(AuditChain).values(last_hash=prev))
        session.commit()
        db.session.remove()


def _verify(app, path: Path | None = None):
    args = ["audit", "verify", *(["--anchors", str(path)] if path else [])]
    return app.test_cli_runner().invoke(args=args)


def _paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def test_flask_audit_anchor_appends_the_head_and_verify_matches_it(app):
    """One line (Paris date, last sealed event, its hash) per anchor, kept by verify."""
    _append(app, 4)
    output = _anchor_now(app)
    [line] = _lines(app)
    assert line in output
    anchor = anchors.parse(line)
    with app.app_context():
        head = db.session.get(AuditChain, 1)
        assert head is not None and (anchor.seq, anchor.hash) == (4, head.last_hash)
        db.session.remove()
    _append(app, 1)
    _anchor_now(app)
    assert len(_lines(app)) == 2 and _lines(app)[0] == line  # appended, never rewritten
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "2 anchor(s)" in result.output


def test_an_event_rewritten_with_the_key_before_an_anchor_is_detected(app):
    """The key's holder recomputes a valid chain after an edit; the anchor names the event."""
    _append(app, 5)
    _anchor_now(app)
    _reseal_with_the_key(app, edit=3)
    with app.app_context():
        keyring = services_of(app).audit.keyring
        assert audit.verify(db.session(), keyring, None).ok  # the chain alone is fooled
        report = audit.verify(
            db.session(), keyring, anchors.read(services_of(app).audit.anchor_file)
        )
        db.session.remove()
    assert (report.broken_at, report.reason) == (5, audit.ANCHOR_DIFFERS)
    assert report.anchor is not None and report.anchor.line == 1
    result = _verify(app)
    assert result.exit_code == 1
    assert "broken at event 5: the event differs from its anchor" in result.output
    assert "line 1 of" in result.output


def test_events_deleted_after_an_anchor_are_detected(app):
    """Cutting the chain short below an anchor (head row adjusted too) is named."""
    _append(app, 5)
    _anchor_now(app)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        last = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == 3))
        db.session.execute(update(AuditChain).values(seq=3, last_hash=last))
        db.session.commit()
        db.session.remove()
    result = _verify(app)
    assert result.exit_code == 1
    assert "broken at event 5: an anchor names this event" in result.output


def test_the_dpos_copy_catches_a_rewritten_anchor_file(app, tmp_path):
    """Chain and file both rewritten: the line from the DPOs' email still disagrees."""
    _append(app, 5)
    _anchor_now(app)
    emailed = tmp_path / "from-the-email.txt"
    emailed.write_text(_lines(app)[0] + "\n")
    _reseal_with_the_key(app, edit=2)
    path = Path(app.config["AUDIT_ANCHOR_FILE"])
    path.unlink()
    _anchor_now(app)  # a new file, anchoring the rewritten chain
    assert _verify(app).exit_code == 0
    result = _verify(app, emailed)
    assert result.exit_code == 1 and "broken at event 5" in result.output


def test_a_line_that_is_not_an_anchor_is_named(app):
    """A damaged anchor file stops verify with the line number."""
    _append(app, 1)
    _anchor_now(app)
    with Path(app.config["AUDIT_ANCHOR_FILE"]).open("a") as file:
        file.write("2026-03-02 seven deadbeef\n")
    result = _verify(app)
    assert result.exit_code == 1 and "line 2 is not an anchor" in result.output


def test_the_anchor_email_reaches_each_active_dpo_with_the_same_values(app):
    """The job emails active DPOs only; each email carries the file's three values."""
    with app.app_context():
        people = [
            StaffUser(email="dpo1@portal.example.org", role="dpo"),
            StaffUser(email="dpo2@portal.example.org", role="dpo"),
            StaffUser(email="gone@portal.example.org", role="dpo", is_active=False),
            StaffUser(email="agent@portal.example.org", role="agent"),
        ]
        db.session.add_all(people)
        db.session.commit()
        dpo_ids = [people[0].id, people[1].id]
        db.session.remove()
    _append(app, 2)
    with app.app_context():
        housekeeping.run(db.session(), utcnow(), services_of(app))
        db.session.remove()
    run_jobs(app)
    [line] = _lines(app)
    anchor = anchors.parse(line)
    with app.app_context():
        sent = db.session.scalars(
            select(Job).where(Job.kind == jobs.SEND_EMAIL).order_by(Job.id)
        ).all()
        db.session.remove()
    assert [j.payload["staff_id"] for j in sent] == dpo_ids
    assert all(j.state == "done" for j in sent)
    for job in sent:
        assert (job.payload["day"], job.payload["seq"], job.payload["hash"]) == (
            anchor.day.isoformat(),
            anchor.seq,
            anchor.hash,
        )
    mails = [p.read_text() for p in Path(app.config["MAIL_DIR"]).glob("*.eml")]
    assert len(mails) == 2 and all(line in mail for mail in mails)


def test_housekeeping_anchors_once_per_paris_day(app):
    """However many passes, one anchor a day; the Paris day decides, not the UTC one."""

    def passes(moment: datetime, count: int = 2) -> None:
        with time_machine.travel(moment, tick=False):
            for _ in range(count):
                with app.app_context():
                    housekeeping.run(db.session(), utcnow(), services_of(app))
                    db.session.remove()
                run_jobs(app)

    passes(_paris(2026, 11, 29, 0, 5))
    passes(_paris(2026, 11, 29, 23, 50))
    assert [line.split()[0] for line in _lines(app)] == ["2026-11-29"]
    passes(datetime(2026, 11, 29, 23, 30, tzinfo=UTC))  # 00:30 on the 30th in Paris
    assert [line.split()[0] for line in _lines(app)] == ["2026-11-29", "2026-11-30"]
    result = _verify(app)
    assert result.exit_code == 0, result.output


@pytest.mark.postgres
def test_sixteen_workers_racing_write_one_anchor_a_day(app):
    """On PostgreSQL, 16 worker passes at the same instant write one line and one email
    (sent by the same passes or the next one, never twice)."""
    with app.app_context():
        db.session.add(StaffUser(email="dpo@portal.example.org", role="dpo"))
        db.session.commit()
        db.session.remove()
    _append(app, 3)
    services = services_of(app)
    now = _paris(2026, 11, 29, 9, 0)
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=16)
    barrier = threading.Barrier(16, timeout=60)
    errors: list[BaseException] = []

    def one_worker(number: int) -> None:
        try:
            # As `flask worker` runs: in an app context, with a connection of its own.
            with app.app_context(), Session(engine) as session:
                barrier.wait()
                housekeeping.run(session, now, services)
                worker.run_batch(
                    session,
                    HANDLERS,
                    services,
                    worker=f"racer-{number}",
                    clock=lambda: now,
                    lease_seconds=60,
                    policy=jobs.RetryPolicy(max_attempts=3),
                    rng=random.Random(number),
                )
        except BaseException as error:  # reported below, with the thread's own error
            errors.append(error)

    threads = [threading.Thread(target=one_worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # The anchor job enqueues its email; when the anchor ends after every racer's
    # batch, that email waits for the next pass, as it would in `flask worker`.
    with app.app_context(), Session(engine) as session:
        worker.run_batch(
            session,
            HANDLERS,
            services,
            worker="next-pass",
            clock=lambda: now,
            lease_seconds=60,
            policy=jobs.RetryPolicy(max_attempts=3),
            rng=random.Random(99),
        )
    engine.dispose()
    [line] = _lines(app)
    assert anchors.parse(line).day == date(2026, 11, 29)
    with app.app_context():
        kinds = dict(db.session.execute(select(Job.kind, func.count()).group_by(Job.kind)).all())
        states = set(db.session.scalars(select(Job.state)))
        anchored = db.session.scalar(
            select(func.count()).where(AuditEvent.action == "audit.anchored")
        )
        db.session.remove()
    assert kinds == {daily.AUDIT_ANCHOR: 1, jobs.SEND_EMAIL: 1} and states == {"done"}
    assert anchored == 1


def test_the_staff_check_compares_with_the_anchors_too(app):
    """The button on /staff/audit reports the anchors matched, and an anchor broken."""
    client, _ = staff_client(app, "dpo@portal.example.org", "dpo")
    client.get("/staff/?lang=en")
    _append(app, 3)
    _anchor_now(app)

    def check() -> bytes:
        page = client.get("/staff/audit")
        return client.post(
            "/staff/audit/verify",
            data={"csrf_token": csrf_from(page.data)},
            follow_redirects=True,
        ).data

    assert b"The chain matches the anchor file (1 anchor(s) checked)." in check()
    _reseal_with_the_key(app, edit=2)
    answer = check()
    assert b"broken at event" in answer and b"the event differs from its anchor" in answer


def test_the_daily_timers_anchor_and_the_workers_make_one_a_day(app):
    """`flask audit anchor --daily` (the systemd timer) takes the day's anchor job: a second
    run and the worker's housekeeping that day add nothing."""
    _append(app, 3)
    with time_machine.travel(_paris(2026, 11, 29, 23, 30), tick=False):
        first = app.test_cli_runner().invoke(args=["audit", "anchor", "--daily"])
        assert first.exit_code == 0, first.output
        again = app.test_cli_runner().invoke(args=["audit", "anchor", "--daily"])
        assert "nothing to do" in again.output
        with app.app_context():
            housekeeping.run(db.session(), utcnow(), services_of(app))
            db.session.remove()
        run_jobs(app)
    assert [line.split()[0] for line in _lines(app)] == ["2026-11-29"]

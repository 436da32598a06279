"""The daily staff reminder: one email per assignee, once a day, references and dates only."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
import time_machine
from sqlalchemy import func, select, update

from app.casework import reminders
from app.deadlines import PARIS, receipt_date
from app.extensions import db
from app.models import Job, Request, StaffUser, utcnow
from app.outbox import housekeeping
from app.services import services_of
from config import ConfigError, load_config
from tests.conftest import run_jobs, text_of
from tests.staffkit import add_staff
from tests.test_config import GOOD_PRODUCTION

_numbers = count(1)


def _case(
    app, assignee: int | None, due_on: date, status: str = "in_review", kind: str = "access"
) -> str:
    """A request with a requester whose name and address must never leave the portal."""
    reference = f"DR-T{next(_numbers):05d}"
    with app.app_context():
        db.session.add(
            Request(
                reference=reference,
                kind=kind,
                status=status,
                first_name="Zéphyrine",
                last_name="Quaglio",
                birth_date=date(1961, 2, 3),
                email="zephyrine.quaglio@example.fr",
                email_normalized="zephyrine.quaglio@example.fr",
                received_on=due_on - timedelta(days=30),
                due_on=due_on,
                assignee_id=assignee,
            )
        )
        db.session.commit()
        db.session.remove()
    return reference


def _jobs(app, kind: str) -> list[Job]:
    with app.app_context():
        rows = db.session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return list(rows)


def _housekeeping(app) -> None:
    with app.app_context():
        housekeeping.run(db.session(), utcnow(), services_of(app))
        db.session.remove()


def _paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def test_each_assignee_gets_one_email_with_exactly_their_cases_due_or_overdue(make_app, smtp):
    """Overdue and due-within-5-days cases reach their assignee, nothing else and nobody else."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, REMINDER_HOUR=0)
    ana = add_staff(app, "ana@portal.example.org", "agent")
    bob = add_staff(app, "bob@portal.example.org", "dpo")
    idle = add_staff(app, "idle@portal.example.org", "agent")
    gone = add_staff(app, "gone@portal.example.org", "agent")
    today = receipt_date(utcnow())
    day = timedelta(days=1)
    ana_overdue = _case(app, ana.id, today - 2 * day, status="awaiting_requester")
    ana_today = _case(app, ana.id, today, kind="erasure")
    ana_edge = _case(app, ana.id, today + 5 * day)
    bob_soon = _case(app, bob.id, today + day, status="triage")
    not_listed = [
        _case(app, ana.id, today + 6 * day),  # due later
        _case(app, ana.id, today + day, status="completed"),  # closed
        _case(app, ana.id, today - day, status="withdrawn"),  # closed, would be overdue
        _case(app, ana.id, today + day, status="unverified"),  # not a case yet
        _case(app, idle.id, today + 20 * day),  # idle has nothing due
        _case(app, gone.id, today + day),  # a disabled account
        _case(app, None, today - day),  # nobody's
    ]
    with app.app_context():
        db.session.execute(
            update(StaffUser).where(StaffUser.id == gone.id).values(is_active=False)
        )
        db.session.commit()
        db.session.remove()

    _housekeeping(app)
    run_jobs(app)

    [to_ana] = smtp.received.to(ana.email)
    # Bob is a DPO: the day's audit anchor (app/audit/daily.py) reaches him as well.
    [anchor] = [m for m in smtp.received.to(bob.email) if m["Subject"].startswith("Ancre")]
    [to_bob] = [m for m in smtp.received.to(bob.email) if m is not anchor]
    assert smtp.received.to(idle.email) == [] and smtp.received.to(gone.email) == []
    assert len(smtp.received.messages) == 3
    ana_text, bob_text = text_of(to_ana), text_of(to_bob)
    for reference in (ana_overdue, ana_today, ana_edge):
        assert reference in ana_text and reference not in bob_text
    assert bob_soon in bob_text and bob_soon not in ana_text
    for reference in not_listed:
        assert reference not in ana_text and reference not in bob_text
    assert to_ana["Subject"].endswith("3") and to_bob["Subject"].endswith("1")
    assert "https://portal.example.org/staff/queue" in ana_text
    # The overdue case is listed apart from the ones still on time.
    assert ana_text.index(ana_overdue) < ana_text.index(ana_today) < ana_text.index(ana_edge)
    for message in (to_ana, to_bob):
        whole = message.as_string()
        for secret in ("Zéphyrine", "Zephyrine", "Quaglio", "quaglio", "1961"):
            assert secret not in whole
    [email_job] = [j for j in _jobs(app, "send_email") if j.payload["staff_id"] == ana.id]
    assert email_job.state == "done" and email_job.request_id is None
    assert email_job.dedupe_key == f"reminder:{today.isoformat()}:{ana.id}"
    assert email_job.message_id and to_ana["Message-ID"] == email_job.message_id
    assert {tuple(sorted(c)) for c in email_job.payload["cases"]} == {
        ("due_on", "kind", "reference")
    }


def test_running_the_reminders_job_again_the_same_day_sends_nothing_more(smtp_app, smtp):
    """A rerun (a crash, a second worker) finds each assignee's email already queued."""
    ana = add_staff(smtp_app, "ana@portal.example.org", "agent")
    _case(smtp_app, ana.id, receipt_date(utcnow()) + timedelta(days=1))
    domain = services_of(smtp_app).mail.domain
    with smtp_app.app_context():
        now = utcnow()
        assert reminders.send_reminders(db.session(), now=now, days=5, domain=domain) == 1
        db.session.commit()
        assert reminders.send_reminders(db.session(), now=now, days=5, domain=domain) == 0
        db.session.commit()
        db.session.remove()
    run_jobs(smtp_app)
    assert len(smtp.received.to(ana.email)) == 1


def test_nobody_is_emailed_when_nothing_is_due(smtp_app, smtp):
    """A quiet day queues no reminders job, and a reminders job run anyway sends nothing."""
    ana = add_staff(smtp_app, "ana@portal.example.org", "agent")
    _case(smtp_app, ana.id, receipt_date(utcnow()) + timedelta(days=30))
    _case(smtp_app, ana.id, receipt_date(utcnow()) - timedelta(days=1), status="denied")
    with smtp_app.app_context():
        now = utcnow()
        assert reminders.queue_daily(db.session(), now=now, hour=0, days=5) is None
        domain = services_of(smtp_app).mail.domain
        assert reminders.send_reminders(db.session(), now=now, days=5, domain=domain) == 0
        db.session.commit()
        db.session.remove()
    assert run_jobs(smtp_app) == 0
    assert smtp.received.messages == []


def test_housekeeping_queues_one_reminders_job_per_paris_day_from_the_hour(app):
    """Before 7:00 Paris nothing; then one job however often it runs; the next day another."""
    ana = add_staff(app, "ana@portal.example.org", "agent")
    _case(app, ana.id, date(2026, 12, 1))
    with time_machine.travel(_paris(2026, 11, 29, 6, 59), tick=False):
        _housekeeping(app)
    assert _jobs(app, "reminders") == []
    with time_machine.travel(_paris(2026, 11, 29, 7, 0), tick=False):
        _housekeeping(app)
        _housekeeping(app)
    with time_machine.travel(_paris(2026, 11, 29, 23, 59), tick=False):
        _housekeeping(app)
    assert [j.dedupe_key for j in _jobs(app, "reminders")] == ["reminders:2026-11-29"]
    with time_machine.travel(_paris(2026, 11, 30, 6, 0), tick=False):
        _housekeeping(app)
    assert len(_jobs(app, "reminders")) == 1
    with time_machine.travel(_paris(2026, 11, 30, 8, 30), tick=False):
        _housekeeping(app)
        _housekeeping(app)
    assert [j.dedupe_key for j in _jobs(app, "reminders")] == [
        "reminders:2026-11-29",
        "reminders:2026-11-30",
    ]


def test_the_day_is_the_paris_day_not_the_utc_one(app):
    """At 23:30 UTC on 29 November it is already 30 November in Paris."""
    ana = add_staff(app, "ana@portal.example.org", "agent")
    _case(app, ana.id, date(2026, 12, 1))
    with app.app_context():
        now = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
        job = reminders.queue_daily(db.session(), now=now, hour=0, days=5)
        assert job is not None and job.dedupe_key == "reminders:2026-11-30"
        db.session.rollback()
        db.session.remove()


def test_a_day_with_nothing_due_yet_is_checked_again_later(app):
    """A case assigned after the hour, due soon, still gets its reminder that day."""
    ana = add_staff(app, "ana@portal.example.org", "agent")
    with time_machine.travel(_paris(2026, 11, 29, 7, 0), tick=False):
        _housekeeping(app)
    assert _jobs(app, "reminders") == []
    _case(app, ana.id, date(2026, 11, 30))
    with time_machine.travel(_paris(2026, 11, 29, 15, 0), tick=False):
        _housekeeping(app)
    assert [j.dedupe_key for j in _jobs(app, "reminders")] == ["reminders:2026-11-29"]


def test_two_workers_racing_queue_one_reminders_job(app):
    """A second worker's insert waits for the first, fails on the key and leaves one job."""
    ana = add_staff(app, "ana@portal.example.org", "agent")
    _case(app, ana.id, date(2026, 12, 1))
    now = _paris(2026, 11, 29, 9, 0)
    results: list[object] = []

    def second_worker() -> None:
        with app.app_context():
            results.append(reminders.queue_daily(db.session(), now=now, hour=7, days=5))
            db.session.commit()
            db.session.remove()

    with app.app_context():
        assert reminders.queue_daily(db.session(), now=now, hour=7, days=5) is not None
        db.session.flush()
        racer = threading.Thread(target=second_worker)
        racer.start()
        time.sleep(0.5)  # let it reach its insert, which waits on ours
        db.session.commit()
        racer.join(timeout=30)
        count_ = db.session.scalar(select(func.count()).select_from(Job))
        db.session.remove()
    assert results == [None] and count_ == 1


@pytest.mark.parametrize("raw", ["24", "-1", "seven"])
def test_a_bad_reminder_hour_is_named(raw):
    """REMINDER_HOUR must be a whole hour from 0 to 23; anything else stops the start."""
    with pytest.raises(ConfigError, match="REMINDER_HOUR"):
        load_config({**GOOD_PRODUCTION, "REMINDER_HOUR": raw})


def test_reminder_settings_have_defaults():
    """Without settings the reminder goes at 7:00 and looks 5 days ahead."""
    config = load_config(GOOD_PRODUCTION)
    assert config["REMINDER_HOUR"] == 7 and config["REMINDER_DAYS"] == 5
    assert load_config({**GOOD_PRODUCTION, "REMINDER_HOUR": "0"})["REMINDER_HOUR"] == 0

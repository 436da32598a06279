"""The outbox: a dead SMTP server or a killed worker delays email, never loses or doubles it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from app import intake
from app.extensions import db
from app.models import Job, Request, StatusEvent, utcnow
from app.outbox import jobs
from app.services import services_of
from tests.conftest import ROOT, VALID_FILING, file_form, run_jobs


def _file_many(app, count: int) -> list[str]:
    """File ``count`` requests through the domain function; returns their Message-IDs."""
    portal = services_of(app)
    with app.app_context():
        for i in range(count):
            intake.file_request(
                db.session(),
                intake.Filing(
                    kind="access",
                    first_name="Jeanne",
                    last_name="Durand",
                    birth_date=date(1975, 3, 2),
                    email=f"person{i}@example.fr",
                    locale="fr",
                ),
                now=utcnow(),
                vault=portal.vault,
                names=portal.names,
                mail=portal.mail,
                per_address_per_hour=5,
            )
        db.session.commit()
        ids = list(db.session.scalars(select(Job.message_id)))
        db.session.remove()
    return ids


def _worker(app, smtp, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "WAREHOUSE_URL": app.config["WAREHOUSE_URL"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "PORTAL_BASE_URL": app.config["PORTAL_BASE_URL"],
        "AUDIT_ANCHOR_FILE": app.config["AUDIT_ANCHOR_FILE"],
        "JOB_LEASE_SECONDS": "2",
        "WORKER_POLL_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _states(app) -> Counter:
    """The states of the email jobs (a worker's first pass also anchors the audit chain)."""
    with app.app_context():
        states = Counter(db.session.scalars(select(Job.state).where(Job.kind == jobs.SEND_EMAIL)))
        db.session.remove()
    return states


def test_smtp_down_delays_the_email_which_leaves_once_when_it_is_back(smtp_app, smtp):
    """With SMTP down the request is filed; the email leaves exactly once after SMTP returns."""
    smtp.stop()
    response = file_form(smtp_app.test_client(), VALID_FILING)
    assert response.status_code == 303
    assert run_jobs(smtp_app) == 1
    with smtp_app.app_context():
        job = db.session.scalar(select(Job))
        assert job.state == "pending" and job.attempts == 1
        assert job.last_error and "Error" in job.last_error
        assert job.run_after > utcnow()
        assert db.session.scalar(select(Request.status)) == "unverified"
    assert run_jobs(smtp_app) == 0  # not due yet: backoff
    smtp.start()
    with time_machine.travel(utcnow() + timedelta(minutes=5)):
        assert run_jobs(smtp_app) == 1
        assert run_jobs(smtp_app) == 0
    assert len(smtp.received.messages) == 1
    assert _states(smtp_app) == Counter({"done": 1})


def test_a_job_that_keeps_failing_is_parked_then_retried_by_hand(make_app, smtp):
    """After JOB_MAX_ATTEMPTS failures, and for a transient failure (SMTP down) once older
    than JOB_TRANSIENT_RETRY_SECONDS, the job is parked with its error; `jobs retry`
    revives it."""
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        JOB_MAX_ATTEMPTS=2,
        JOB_TRANSIENT_RETRY_SECONDS=600,
    )
    smtp.stop()
    file_form(app.test_client(), VALID_FILING)
    run_jobs(app)
    with time_machine.travel(utcnow() + timedelta(hours=1)):
        run_jobs(app)
    assert _states(app) == Counter({"parked": 1})
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jobs", "list"])
    assert "send_email" in listed.output and "attempts=2" in listed.output
    with app.app_context():
        job_id = db.session.scalar(select(Job.id))
    smtp.start()
    assert runner.invoke(args=["jobs", "retry", str(job_id)]).exit_code == 0
    assert runner.invoke(args=["jobs", "retry", str(job_id)]).exit_code == 1
    run_jobs(app)
    assert len(smtp.received.messages) == 1
    assert _states(app) == Counter({"done": 1})


def test_smtp_down_for_hours_delays_the_email_without_parking_it(make_app, smtp):
    """A mail server down is transient: the attempts run past JOB_MAX_ATTEMPTS without
    parking the email (it would need staff to revive it), and it leaves once, when the
    server is back (bench/soak.py parked 163 emails over a three-minute outage)."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, JOB_MAX_ATTEMPTS=2)
    smtp.stop()
    file_form(app.test_client(), VALID_FILING)
    start = utcnow()
    for hours in range(0, 13, 3):
        with time_machine.travel(start + timedelta(hours=hours)):
            run_jobs(app)
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == jobs.SEND_EMAIL))
        assert job.state == "pending" and job.attempts >= 4, (job.state, job.attempts)
        db.session.remove()
    smtp.start()
    with time_machine.travel(start + timedelta(hours=20)):
        run_jobs(app)
    assert len(smtp.received.messages) == 1
    assert _states(app) == Counter({"done": 1})


class Refusing:
    """An SMTP server that refuses every message for good (550)."""

    async def handle_DATA(self, server, session, envelope):
        return "550 5.7.1 Message refused"


def test_a_message_the_server_refuses_for_good_is_parked_after_its_attempts(make_app):
    """A 5xx answer is not transient: JOB_MAX_ATTEMPTS attempts, then parked."""
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, JOB_MAX_ATTEMPTS=2)
        file_form(app.test_client(), VALID_FILING)
        run_jobs(app)
        with time_machine.travel(utcnow() + timedelta(hours=1)):
            run_jobs(app)
    finally:
        controller.stop()
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == jobs.SEND_EMAIL))
        assert job.state == "parked" and job.attempts == 2
        assert "SMTPDataError" in job.last_error or "550" in job.last_error
        db.session.remove()


def test_a_done_job_drops_the_link_it_carried(smtp_app, smtp):
    """Once sent, the job no longer holds the link's secret value."""
    file_form(smtp_app.test_client(), VALID_FILING)
    with smtp_app.app_context():
        assert "secret_link" in db.session.scalar(select(Job)).payload
    run_jobs(smtp_app)
    with smtp_app.app_context():
        job = db.session.scalar(select(Job))
        assert job.state == "done" and "secret_link" not in job.payload
        assert job.subject == "Confirmez votre adresse e-mail pour envoyer votre demande"


def test_mail_to_files_is_written_once_per_job(app, tmp_path):
    """Without MAIL_SERVER each email is one .eml file, rewritten (not doubled) on a rerun."""
    file_form(app.test_client(), VALID_FILING)
    run_jobs(app)
    files = list(Path(app.config["MAIL_DIR"]).glob("*.eml"))
    assert len(files) == 1
    assert b"/verify/" in files[0].read_bytes()
    with app.app_context():
        job = db.session.scalar(select(Job))
        job.state, job.attempts = "pending", 0
        db.session.commit()
    run_jobs(app)
    assert len(list(Path(app.config["MAIL_DIR"]).glob("*.eml"))) == 1


@pytest.mark.slow
def test_two_workers_send_every_email_exactly_once(smtp_app, smtp):
    """Two worker processes sharing the queue deliver each Message-ID exactly once."""
    expected = _file_many(smtp_app, 40)
    workers = [_worker(smtp_app, smtp, "--once", "--batch", "3") for _ in range(2)]
    for process in workers:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors.decode()[-2000:]
    received = Counter(m["Message-ID"] for m in smtp.received.messages)
    assert set(received) == set(expected)
    assert max(received.values()) == 1
    assert _states(smtp_app) == Counter({"done": 40})


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(smtp_app, smtp):
    """Killing a worker mid-batch: another takes over after the lease; nothing lost, nothing
    doubled but the one message in flight, which keeps its Message-ID."""
    expected = _file_many(smtp_app, 12)
    smtp.received.delay = 0.3
    victim = _worker(smtp_app, smtp, "--batch", "12")
    deadline = time.monotonic() + 60
    while len(smtp.received.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert len(smtp.received.messages) < 12, "the worker finished before it could be killed"
    smtp.received.delay = 0
    time.sleep(2.5)  # the dead worker's lease runs out
    survivor = _worker(smtp_app, smtp, "--once")
    _, errors = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, errors.decode()[-2000:]
    time.sleep(0.5)  # the message in flight at the kill may still be landing
    received = Counter(m["Message-ID"] for m in smtp.received.messages)
    assert set(received) == set(expected)
    assert sum(received.values()) - len(received) <= 1
    assert _states(smtp_app) == Counter({"done": 12})


def test_unconfirmed_requests_expire_without_any_email(app):
    """A request whose address is never confirmed expires after UNVERIFIED_TTL, silently."""
    file_form(app.test_client(), VALID_FILING)
    run_jobs(app)
    with time_machine.travel(utcnow() + timedelta(days=8)):
        result = app.test_cli_runner()
        with app.app_context():
            from app.outbox import housekeeping

            housekeeping.run(db.session(), utcnow(), services_of(app))
        del result
    with app.app_context():
        assert db.session.scalar(select(Request.status)) == "expired"
        assert (
            db.session.scalar(select(StatusEvent.to_status).order_by(StatusEvent.id.desc()))
            == "expired"
        )
        # The verification email; the day's audit anchor is not an email.
        emails = select(Job.state).where(Job.kind == jobs.SEND_EMAIL)
        assert list(db.session.scalars(emails)) == ["done"]

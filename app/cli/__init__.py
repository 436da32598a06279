"""Command-line entry points: ``flask worker``, ``jobs``, ``audit``, ``staff``."""

from __future__ import annotations

import functools
import logging
import os
import random
import signal
import socket
import sys
import time
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app import audit, fulfilment, intake
from app.casework import reminders
from app.extensions import db
from app.fulfilment import erasure, objection, packages, rectification
from app.models import Job, utcnow
from app.outbox import jobs, worker
from app.outbox.mailer import send_email_job
from app.rules import routing
from config import ConfigError

log = logging.getLogger(__name__)


def handlers(app: Flask) -> dict[str, worker.Handler]:
    return {
        jobs.SEND_EMAIL: functools.partial(send_email_job, app),
        jobs.ROUTE: functools.partial(route_job, app),
        jobs.REMINDERS: functools.partial(reminders_job, app),
        # Fulfilment handlers take the app: they need its services and settings.
        fulfilment.BUILD_PACKAGE: functools.partial(packages.build_package_job, app),
        fulfilment.ERASE: functools.partial(erasure.erase_job, app),
        fulfilment.RECORD_OBJECTION: functools.partial(objection.record_objection_job, app),
        fulfilment.RESTRICT: functools.partial(rectification.restrict_job, app),
    }


def route_job(app: Flask, session: Any, job: Job, now: datetime) -> None:
    """The worker's handler for ``route`` jobs."""
    if job.request_id is not None:
        routing.route_request(
            session, job.request_id, app.extensions["portal"]["routing"], now=now
        )


def reminders_job(app: Flask, session: Any, job: Job, now: datetime) -> None:
    """The worker's handler for ``reminders`` jobs: one email job per assignee."""
    reminders.send_reminders(
        session,
        now=now,
        days=app.config["REMINDER_DAYS"],
        domain=app.extensions["portal"]["mail"].domain,
    )


def check_sources(app: Flask) -> None:
    """Compare the catalogue with the live sources; raise ConfigError naming each problem."""
    services: routing.RoutingServices = app.extensions["portal"]["routing"]
    problems = services.warehouse.check()
    if problems:
        raise ConfigError(
            "The sources do not match the catalogue:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def housekeeping(app: Flask) -> None:
    """Periodic duties the worker does between batches."""
    intake.expire_unverified(
        db.session(),
        now=utcnow(),
        ttl_seconds=app.config["UNVERIFIED_TTL"],
        mail=app.extensions["portal"]["mail"],
    )
    db.session.commit()
    reminders.queue_daily(
        db.session(),
        now=utcnow(),
        hour=app.config["REMINDER_HOUR"],
        days=app.config["REMINDER_DAYS"],
    )
    db.session.commit()
    # An access package's content goes when its download link expires (SECURITY.md).
    packages.expire_packages(db.session(), utcnow())
    db.session.commit()
    audit.seal(db.session())
    db.session.commit()


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit.")
@click.option("--batch", default=10, show_default=True, help="Jobs claimed at a time.")
@with_appcontext
def worker_command(once: bool, batch: int) -> None:
    """Send queued emails and run background jobs until stopped (Ctrl-C or SIGTERM)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_sources(app)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    # smtplib waits forever by default; a dead server must only delay a job.
    socket.setdefaulttimeout(30)
    name = f"{socket.gethostname()}:{os.getpid()}"
    policy = jobs.RetryPolicy(
        max_attempts=app.config["JOB_MAX_ATTEMPTS"],
        backoff_seconds=app.config["JOB_BACKOFF_SECONDS"],
        backoff_max_seconds=app.config["JOB_BACKOFF_MAX_SECONDS"],
    )
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    table = handlers(app)
    rng = random.SystemRandom()
    click.echo(f"worker {name} started", err=True)
    while not stopping:
        try:
            housekeeping(app)
            ran = worker.run_batch(
                db.session(),
                table,
                worker=name,
                clock=utcnow,
                lease_seconds=app.config["JOB_LEASE_SECONDS"],
                policy=policy,
                rng=rng,
                limit=batch,
            )
        except Exception as error:  # the database may be away: wait, never die
            db.session.rollback()
            log.error("worker pass failed: %s", type(error).__name__)
            ran = 0
            if once:
                raise
        if ran:
            click.echo(f"worker {name}: ran {ran} job(s)", err=True)
        if once and ran == 0:
            break
        if not ran:
            time.sleep(app.config["WORKER_POLL_SECONDS"])
    db.session.remove()
    click.echo(f"worker {name} stopped", err=True)


@click.group("jobs", cls=AppGroup)
def jobs_group() -> None:
    """Inspect the job queue and retry parked jobs."""


@jobs_group.command("list")
@click.option("--state", type=click.Choice(["pending", "done", "parked"]), default="parked")
def jobs_list(state: str) -> None:
    """List jobs in a state (parked by default), with their last error."""
    rows = db.session.scalars(select(Job).where(Job.state == state).order_by(Job.id)).all()
    for job in rows:
        click.echo(f"{job.id}\t{job.kind}\tattempts={job.attempts}\t{job.last_error or ''}")
    click.echo(f"{len(rows)} {state} job(s)", err=True)


@jobs_group.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Put a parked job back in the queue."""
    if not jobs.retry(db.session(), job_id, utcnow()):
        db.session.rollback()
        click.echo(f"job {job_id} is not parked; nothing changed", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"job {job_id} queued again")


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Check the audit trail."""


@audit_group.command("seal")
def audit_seal() -> None:
    """Chain the audit events written since the last pass (the worker does it too)."""
    total = 0
    while sealed := audit.seal(db.session()):
        db.session.commit()
        total += sealed
    db.session.commit()
    click.echo(f"{total} event(s) sealed")


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain of audit events; exit 1 naming the first broken link."""
    report = audit.verify(db.session())
    if report.ok:
        click.echo(
            f"audit chain intact: {report.checked} event(s); "
            f"{report.unsealed} recent event(s) waiting to be sealed"
        )
        return
    click.echo(
        f"audit chain broken at event {report.broken_at}: {report.reason} "
        f"({report.checked} event(s) checked before it)",
        err=True,
    )
    sys.exit(1)


def init_app(app: Flask) -> None:
    from app.cli.purge import purge_command
    from app.cli.research import research_extract_command
    from app.cli.rules import plan_group, rules_group
    from app.cli.staff import staff_group
    from app.demo.cli import demo_data_command
    from app.demo.requests import demo_requests_command

    app.cli.add_command(demo_data_command)
    app.cli.add_command(demo_requests_command)
    app.cli.add_command(rules_group)
    app.cli.add_command(plan_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(staff_group)
    app.cli.add_command(research_extract_command)
    app.cli.add_command(purge_command)

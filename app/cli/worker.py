"""``flask worker`` runs the jobs; ``flask jobs`` lists and retries them."""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models import Job, utcnow
from app.outbox import jobs, worker
from app.outbox.handlers import HANDLERS
from app.services import check_sources, services_of
from config import ConfigError


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit.")
@click.option("--batch", default=10, show_default=True, help="Jobs claimed at a time.")
@with_appcontext
def worker_command(once: bool, batch: int) -> None:
    """Send queued emails and run background jobs until stopped (Ctrl-C or SIGTERM)."""
    config = current_app.config
    services = services_of(current_app)
    try:
        check_sources(services)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    # smtplib waits forever by default; a dead server must only delay a job.
    socket.setdefaulttimeout(30)
    settings = worker.Settings(
        name=f"{socket.gethostname()}:{os.getpid()}",
        lease_seconds=config["JOB_LEASE_SECONDS"],
        poll_seconds=config["WORKER_POLL_SECONDS"],
        housekeeping_seconds=config["WORKER_HOUSEKEEPING_SECONDS"],
        retry=jobs.RetryPolicy.of(config),
        batch=batch,
    )
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"worker {settings.name} started", err=True)
    try:
        worker.run(
            db.session(),
            HANDLERS,
            services,
            settings,
            stopping=lambda: stopping,
            once=once,
            on_batch=lambda ran: click.echo(f"worker {settings.name}: ran {ran} job(s)", err=True),
        )
    finally:
        db.session.remove()
    click.echo(f"worker {settings.name} stopped", err=True)


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

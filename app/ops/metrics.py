"""Prometheus metrics: HTTP counts and latencies per process, the rest read from the database.

HTTP metrics are counted in each gunicorn worker; with ``PROMETHEUS_MULTIPROC_DIR``
set (the systemd units and the container set it) every worker writes them to
files there and ``/metrics`` sums them (prometheus-client's multi-process
mode; ``app.serving`` empties the folder at start and marks dead workers).
The queue, the parked jobs, the requests and the workers' heartbeats are read
from the database at each scrape, so any instance gives the same figures.
Labels are codes only: a route's pattern, a right, a status, a job kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.casework.queue import OPEN_STATUSES
from app.deadlines import receipt_date
from app.models import Job, Request
from app.outbox import heartbeat, jobs

HTTP_REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by route pattern, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(route=route).observe(seconds)


class DatabaseCollector(Collector):
    """Figures read from the portal's database at scrape time."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def collect(self) -> Iterator[Metric]:
        session, now = self.session, self.now
        requests = GaugeMetricFamily(
            "portal_requests", "Requests by right and status.", labels=["kind", "status"]
        )
        for kind, status, count in session.execute(
            select(Request.kind, Request.status, func.count()).group_by(
                Request.kind, Request.status
            )
        ):
            requests.add_metric([kind, status], count)
        yield requests

        overdue = GaugeMetricFamily(
            "portal_overdue_requests", "Open requests past their due date.", labels=["kind"]
        )
        for kind, count in session.execute(
            select(Request.kind, func.count())
            .where(
                Request.status.in_(OPEN_STATUSES),
                Request.due_on < receipt_date(now),
                Request.paused_at.is_(None),  # a paused clock is not late
            )
            .group_by(Request.kind)
        ):
            overdue.add_metric([kind], count)
        yield overdue

        depth = GaugeMetricFamily(
            "portal_jobs", "Jobs by kind and state (pending, parked).", labels=["kind", "state"]
        )
        age = GaugeMetricFamily(
            "portal_job_oldest_due_seconds",
            "How long the oldest due pending job of a kind has waited (the workers' lag).",
            labels=["kind"],
        )
        for kind, state, count, oldest_due in session.execute(
            select(
                Job.kind,
                Job.state,
                func.count(),
                func.min(case((Job.run_after <= now, Job.run_after))),
            )
            .where(Job.state.in_(("pending", "parked")))
            .group_by(Job.kind, Job.state)
        ):
            depth.add_metric([kind, state], count)
            if state == "pending":
                waited = 0.0 if oldest_due is None else _seconds_since(oldest_due, now)
                age.add_metric([kind], waited)
        yield depth
        yield age

        parked = session.scalar(select(func.count(Job.id)).where(Job.state == "parked")) or 0
        yield GaugeMetricFamily(
            "portal_parked_jobs", "Jobs parked after too many attempts.", parked
        )

        emails = GaugeMetricFamily(
            "portal_emails",
            "Email jobs by outcome: sent, failing (being retried), failed (parked).",
            labels=["outcome"],
        )
        outcome = case(
            (Job.state == "done", "sent"),
            (Job.state == "parked", "failed"),
            else_="failing",
        )
        for name, count in session.execute(
            select(outcome, func.count())
            .where(
                Job.kind == jobs.SEND_EMAIL,
                (Job.state != "pending") | Job.last_error.is_not(None),
            )
            .group_by(outcome)
        ):
            emails.add_metric([name], count)
        yield emails

        seen, rows = heartbeat.latest(session)
        yield GaugeMetricFamily(
            "portal_workers", "Workers with a heartbeat row (running or recently so).", rows
        )
        if seen is not None:
            yield GaugeMetricFamily(
                "portal_worker_heartbeat_age_seconds",
                "Seconds since any worker was last seen.",
                _seconds_since(seen, now),
            )


def _seconds_since(moment: datetime | str, now: datetime) -> float:
    if isinstance(moment, str):  # an expression's result, untyped on SQLite
        moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return max((now - moment).total_seconds(), 0.0)


def exposition(
    session: Session, now: datetime, env: Callable[[str], str | None] = os.environ.get
) -> bytes:
    """The text Prometheus scrapes: this host's HTTP metrics, then the database's figures."""
    if env("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    figures = CollectorRegistry(auto_describe=False)
    figures.register(DatabaseCollector(session, now))
    return generate_latest(registry) + generate_latest(figures)

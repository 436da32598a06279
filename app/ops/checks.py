"""What readiness checks: the database, the sources, Redis, the workers, parked jobs.

Plain functions over a Session: each returns a ``Check`` holding codes and
counts only (no personal data, no connection string, no error message, which
could quote one). ``/readyz`` fails when any check that gates it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.models import Job
from app.outbox import heartbeat
from app.rules.sources import Warehouse


@dataclass(frozen=True)
class Check:
    """One readiness check: its verdict and figures safe to publish."""

    ok: bool
    details: dict[str, Any] = field(default_factory=dict)
    # A check that only informs (parked jobs need a person, not a restart).
    gates: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "fail", **self.details}


def database(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:
        session.rollback()
        return Check(False, {"error": type(error).__name__})
    return Check(True)


def sources(warehouse: Warehouse) -> Check:
    """Each source of the catalogue answers (its schema is checked at start-up)."""
    down = []
    for source in warehouse.catalogue.sources:
        try:
            with warehouse.engine(source).connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            down.append(source.name)
    return Check(not down, {"down": down} if down else {"count": len(warehouse.catalogue.sources)})


def redis(ping: Callable[[], bool] | None) -> Check:
    """The rate limits' storage; None when limits are kept in memory (demo, tests)."""
    if ping is None:
        return Check(True, {"storage": "memory"})
    try:
        answered = bool(ping())
    except Exception as error:
        return Check(False, {"error": type(error).__name__})
    return Check(answered)


def workers(session: Session, now: datetime, stale_after: int) -> Check:
    """At least one worker touched its heartbeat in the last ``stale_after`` seconds."""
    seen, _ = heartbeat.latest(session)
    alive = heartbeat.fresh(session, now, stale_after)
    details: dict[str, Any] = {"alive": alive}
    if seen is not None:
        details["last_seen_seconds"] = round((now - seen).total_seconds(), 1)
    return Check(alive > 0, details)


def parked_jobs(session: Session) -> Check:
    """Parked jobs wait for a person (``flask jobs list``): reported, never gating."""
    count = session.scalar(select(func.count(Job.id)).where(Job.state == "parked")) or 0
    return Check(count == 0, {"count": int(count)}, gates=False)


def queue_lag(session: Session, now: datetime) -> Check:
    """How long the oldest due job has waited: the workers' lag. Informs only."""
    oldest = session.scalar(
        select(func.min(Job.run_after)).where(Job.state == "pending", Job.run_after <= now)
    )
    lag = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return Check(True, {"seconds": round(lag, 1)}, gates=False)


def ready(results: dict[str, Check]) -> bool:
    return all(check.ok for check in results.values() if check.gates)

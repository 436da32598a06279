"""Each worker's heartbeat: one row per running worker, touched as it works.

Readiness (``/readyz``) and the metrics read it: no fresh row means no worker
is running, which a quiet queue alone would never show. The row lives beside
the worker that writes it rather than in ``app/models.py``; it is imported by
``app.outbox`` so that the metadata always holds it. A worker that stops
cleanly deletes its row; one killed leaves it to go stale, and rows silent for
a day are cleared by the next beat of any worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.models import Base, UTCDateTime

FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(Base):
    """A running worker (``host:pid``) and when it was last seen working."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def beat(session: Session, name: str, now: datetime) -> None:
    """Record that ``name`` is alive now; the caller commits."""
    touched = session.execute(
        update(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .values(seen_at=now)
        .execution_options(synchronize_session=False)
    )
    if not touched.rowcount:  # type: ignore[attr-defined]
        session.add(WorkerHeartbeat(name=name, started_at=now, seen_at=now))
    session.execute(
        delete(WorkerHeartbeat)
        .where(WorkerHeartbeat.seen_at < now - FORGET_AFTER)
        .execution_options(synchronize_session=False)
    )


def stop(session: Session, name: str) -> None:
    """A worker that stops cleanly says so at once; the caller commits."""
    session.execute(
        delete(WorkerHeartbeat)
        .where(WorkerHeartbeat.name == name)
        .execution_options(synchronize_session=False)
    )


def latest(session: Session) -> tuple[datetime | None, int]:
    """The last time any worker was seen, and how many rows there are."""
    seen, count = session.execute(
        select(func.max(WorkerHeartbeat.seen_at), func.count(WorkerHeartbeat.name))
    ).one()
    return seen, int(count)


def fresh(session: Session, now: datetime, within: int) -> int:
    """How many workers were seen in the last ``within`` seconds."""
    return int(
        session.scalar(
            select(func.count(WorkerHeartbeat.name)).where(
                WorkerHeartbeat.seen_at >= now - timedelta(seconds=within)
            )
        )
        or 0
    )

"""Periodic duties the worker does between batches of jobs.

Each duty commits on its own, so one that fails leaves the others done. Each
first takes a try-lock of its own (``app.locks.try_duty``, an advisory lock on
PostgreSQL) and is skipped when another worker holds it: that worker is doing
it, and this one goes back to its jobs instead of waiting for it (issue 19).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import audit, intake, locks
from app.audit import daily
from app.casework import reminders
from app.fulfilment import package_download
from app.services import Services


def run(session: Session, now: datetime, services: Services) -> None:
    """Expire unconfirmed filings, queue the daily reminder, expire packages, seal the audit.

    Then queue the day's audit anchor: after the seal, so that the first pass of
    a day anchors everything sealed up to it.
    """
    duties = (
        (
            "expire_unverified",
            lambda: intake.expire_unverified(
                session, now=now, ttl_seconds=services.limits.unverified_ttl, mail=services.mail
            ),
        ),
        (
            "reminders",
            lambda: reminders.queue_daily(
                session,
                now=now,
                hour=services.limits.reminder_hour,
                days=services.limits.reminder_days,
            ),
        ),
        # An access package's content goes when its download link expires (docs/security.md).
        ("expire_packages", lambda: package_download.expire_packages(session, now)),
        # The chain head's row lock keeps two sealers apart; the try-lock keeps a
        # second worker from waiting on it. The anchor locks the head too: same duty,
        # and `flask audit seal` takes it as well (locks.SEAL_DUTY).
        ("audit", lambda: audit.seal(session, services.audit.keyring)),
        ("audit", lambda: daily.queue_daily(session, now=now)),
    )
    for name, duty in duties:
        if locks.try_duty(session, f"housekeeping:{name}"):
            duty()
        session.commit()

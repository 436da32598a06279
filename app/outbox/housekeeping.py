"""Periodic duties the worker does between batches of jobs.

Each duty commits on its own, so one that fails leaves the others done.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import audit, intake
from app.audit import daily
from app.casework import reminders
from app.fulfilment import package_download
from app.services import Services


def run(session: Session, now: datetime, services: Services) -> None:
    """Expire unconfirmed filings, queue the daily reminder, expire packages, seal the audit.

    Then queue the day's audit anchor: after the seal, so that the first pass of
    a day anchors everything sealed up to it.
    """
    intake.expire_unverified(
        session, now=now, ttl_seconds=services.limits.unverified_ttl, mail=services.mail
    )
    session.commit()
    reminders.queue_daily(
        session, now=now, hour=services.limits.reminder_hour, days=services.limits.reminder_days
    )
    session.commit()
    # An access package's content goes when its download link expires (docs/security.md).
    package_download.expire_packages(session, now)
    session.commit()
    audit.seal(session, services.audit.keyring)
    session.commit()
    daily.queue_daily(session, now=now)
    session.commit()

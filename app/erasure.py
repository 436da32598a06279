"""Erasure (Art. 17): delete exactly the rows the approved plan names, per source, idempotently."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Job


def erase_job(services: Any, session: Session, job: Job, now: datetime) -> None:
    """The worker's handler (to be written)."""
    raise NotImplementedError("erasure is not built yet")

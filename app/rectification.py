"""Rectification (Art. 16) and restriction (Art. 18): flag, correct, lift."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Job


def restrict_job(services: Any, session: Session, job: Job, now: datetime) -> None:
    """The worker's handler (to be written)."""
    raise NotImplementedError("rectification is not built yet")

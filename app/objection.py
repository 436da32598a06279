"""Objection (Art. 21): the objection registry, honoured by research extracts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Job


def record_objection_job(services: Any, session: Session, job: Job, now: datetime) -> None:
    """The worker's handler (to be written)."""
    raise NotImplementedError("objection is not built yet")

"""Access packages (Art. 15) and portable copies (Art. 20): built, encrypted, downloaded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Job


def build_package_job(services: Any, session: Session, job: Job, now: datetime) -> None:
    """The worker's handler (to be written)."""
    raise NotImplementedError("packages is not built yet")

"""The job handler table: each kind of job and the function that runs it.

Every handler has one signature, ``fn(session, job, now, services)``, and runs
in the worker's transaction for that job (``app.outbox.worker``): its writes
and the job's completion commit together. A handler lives beside the domain it
serves; this table only names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.orm import Session

from app import fulfilment
from app.audit import daily
from app.casework import reminders
from app.fulfilment import erasure, objection, package_build, package_release, rectification
from app.models import Job
from app.outbox import jobs
from app.outbox.worker import Handler
from app.rules import plans
from app.services import Services


def send_email(session: Session, job: Job, now: datetime, services: Services) -> None:
    """``send_email`` jobs: rendered and sent by the mail transport the factory built."""
    services.postman.send(session, job, now)


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        jobs.SEND_EMAIL: send_email,
        jobs.ROUTE: plans.route_job,
        jobs.REMINDERS: reminders.reminders_job,
        daily.AUDIT_ANCHOR: daily.anchor_job,
        fulfilment.BUILD_PACKAGE: package_build.build_package_job,
        package_release.RELEASE_PACKAGE: package_release.release_package_job,
        fulfilment.ERASE: erasure.erase_job,
        fulfilment.RECORD_OBJECTION: objection.record_objection_job,
        fulfilment.RESTRICT: rectification.restrict_job,
    }
)

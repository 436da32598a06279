"""The package's release, held back by the Public Health Code's 48-hour reflection period.

CSP L.1111-7: a medical record is communicated no sooner than 48 hours after
the request (a reflection period the law gives the person), and within the
8 days of its track. The package is prepared as soon as the request is
approved (``package_build``); what waits is its release: the download link,
the ``package_ready`` email and the completion. A package built before the
request's ``release_not_before`` is kept encrypted, with its report, and a
``release_package`` job is queued for that moment; one built after it is
released at once. Before its release a package has no ``ready_at``, so no
download can start (``package_download.availability``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, fulfilment
from app.models import AccessPackage, FulfilmentReport, Job, Request
from app.outbox import jobs
from app.services import Services

RELEASE_PACKAGE = "release_package"
REFLECTION = timedelta(hours=48)
ACTOR = "system:packages"


def not_before(request: Request, communicates_medical_record: bool) -> datetime | None:
    """When a package may be released: 48 hours after receipt for a medical record."""
    if not communicates_medical_record or request.verified_at is None:
        return None
    return request.verified_at + REFLECTION


def held(request: Request, now: datetime) -> bool:
    """True while the reflection period still runs."""
    return request.release_not_before is not None and now < request.release_not_before


def hold(
    session: Session,
    request: Request,
    package: AccessPackage,
    lines: list[dict[str, Any]],
    now: datetime,
) -> None:
    """Keep a built package and its report until ``release_not_before``; queue the release."""
    assert request.release_not_before is not None
    report = session.scalar(
        select(FulfilmentReport).where(FulfilmentReport.request_id == request.id)
    )
    if report is None:
        report = FulfilmentReport(request_id=request.id, kind=request.kind, created_at=now)
        session.add(report)
    report.lines = [dict(line) for line in lines]
    package.ready_at = None
    package.expires_at = None
    key = f"release:{request.id}"
    # A build rerun after a crash finds its release already queued.
    if session.scalar(select(Job.id).where(Job.dedupe_key == key)) is None:
        job = jobs.enqueue(
            session, RELEASE_PACKAGE, now=now, request_id=request.id, dedupe_key=key
        )
        job.run_after = request.release_not_before
    audit.record(
        session,
        actor=ACTOR,
        action="package.held",
        now=now,
        request_id=request.id,
        details={"not_before": request.release_not_before.isoformat()},
    )


def release(
    session: Session,
    request: Request,
    package: AccessPackage,
    lines: list[dict[str, Any]],
    services: Services,
    now: datetime,
) -> None:
    """Open the download and complete the request, together: the completion email is the
    download link (``package_ready``), the one email of this step, so that it is not lost
    among others (issue 14)."""
    package.ready_at = now
    package.expires_at = now + timedelta(seconds=services.limits.download_link_max_age)
    # How long the link works and which copy is given: never how many records or categories.
    codes: dict[str, Any] = {
        "hours": services.limits.download_link_max_age // 3600,
        "portability_refused": package.portability_refused,
    }
    fulfilment.complete(
        session, request, lines, now, services.mail, email=codes, template="package_ready"
    )


def release_package_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``release_package`` jobs, due when the reflection period ends.

    Safe to run twice: a request already completed (or no longer fulfilling) is left alone.
    """
    request = session.get(Request, job.request_id) if job.request_id else None
    if request is None or request.status != "fulfilling":
        return
    package = session.scalar(select(AccessPackage).where(AccessPackage.request_id == request.id))
    report = request.report
    if package is None or report is None or package.json_encrypted is None:
        return
    audit.record(session, actor=ACTOR, action="package.released", now=now, request_id=request.id)
    release(session, request, package, list(report.lines), services, now)

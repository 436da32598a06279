"""Carrying out an approved request: which job does the work, and how it ends.

Approval queues one job in the approval's own transaction (``start``); the
job moves the request to ``fulfilling`` when it begins and ``complete`` moves
it to ``completed`` with its report and the completion email, in the job's
transaction. Every job is idempotent: run twice, it finds its work done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, deadlines, lifecycle
from app.models import FulfilmentReport, Job, Request
from app.outbox import emails, jobs
from app.rules.catalogue import Catalogue

BUILD_PACKAGE = "build_package"  # access, portability
ERASE = "erase"
RECORD_OBJECTION = "record_objection"
RESTRICT = "restrict"  # rectification: flag the records while staff correct them
JOB_FOR_KIND = {
    "access": BUILD_PACKAGE,
    "portability": BUILD_PACKAGE,
    "erasure": ERASE,
    "objection": RECORD_OBJECTION,
    "rectification": RESTRICT,
}
ACTOR = "system:fulfilment"


def start(session: Session, request: Request, now: datetime) -> None:
    """Queue the job that carries out an approved request (same transaction as the approval)."""
    jobs.enqueue(
        session,
        JOB_FOR_KIND[request.kind],
        now=now,
        request_id=request.id,
        dedupe_key=f"fulfil:{request.id}",
    )


def begin(session: Session, request: Request, now: datetime, mail: emails.MailSettings) -> bool:
    """Move an approved request to ``fulfilling``; False if it is no longer to be done.

    A job rerun after a crash finds the request already ``fulfilling`` and
    goes on; one that finds it withdrawn or completed does nothing.
    """
    if request.status == "approved":
        lifecycle.change_status(session, request, "fulfilling", actor=ACTOR, now=now, mail=mail)
        return True
    return request.status == "fulfilling"


def complete(
    session: Session,
    request: Request,
    lines: Sequence[dict[str, Any]],
    now: datetime,
    mail: emails.MailSettings,
    email: dict[str, Any] | None = None,
    template: str | None = None,
) -> FulfilmentReport:
    """Close a fulfilled request: its report, the status, the completion email, together.

    The email is ``completed_<kind>`` unless the caller names another (the download link).
    """
    report = session.scalar(
        select(FulfilmentReport).where(FulfilmentReport.request_id == request.id)
    )
    if report is None:
        report = FulfilmentReport(request_id=request.id, kind=request.kind, created_at=now)
        session.add(report)
    report.lines = [dict(line) for line in lines]
    lifecycle.change_status(
        session,
        request,
        "completed",
        actor=ACTOR,
        now=now,
        mail=mail,
        details={"report_lines": len(lines)},
        email=email,
        template=template or f"completed_{request.kind}",
    )
    return report


def notify_recipients(
    session: Session,
    request: Request,
    categories: Iterable[tuple[str, str]],
    action: str,
    catalogue: Catalogue,
    now: datetime,
    domain: str,
) -> int:
    """Queue one Art. 19 notice per recipient of these (source, category) pairs; each logged.

    The notice goes to an organisation listed in the catalogue and names the
    request's reference and what was done (``erased``, ``rectified``,
    ``restricted``): never the person, nor the categories, which an email
    forwarded or read in a shared mailbox must not reveal and a stored payload
    must not keep. The recipient asks our DPO for them, and for the records'
    identifiers, through its usual secure channel; the audit event keeps the
    categories' codes for that answer. The dedupe key makes a rerun queue
    nothing twice. Returns how many were queued.
    """
    wanted: dict[str, tuple[str, set[str]]] = {}
    for source, category in categories:
        for recipient in catalogue.info(source, category).recipients:
            email = recipient.email.strip().lower()
            wanted.setdefault(email, (recipient.name, set()))[1].add(category)
    queued = 0
    for email, (name, found) in sorted(wanted.items()):
        # An address may be long: the key holds its digest.
        digest = hashlib.sha256(email.encode()).hexdigest()[:24]
        dedupe = f"art19:{request.id}:{action}:{digest}"
        if session.scalar(select(Job.id).where(Job.dedupe_key == dedupe)) is not None:
            continue
        listed = sorted(found)
        jobs.enqueue(
            session,
            jobs.SEND_EMAIL,
            now=now,
            request_id=request.id,
            payload={
                "template": "recipient_notice",
                "recipient_email": email,
                "recipient_name": name,
                "action": action,
                "reference": request.reference,
                "done_on": deadlines.receipt_date(now).isoformat(),
            },
            message_id=jobs.new_message_id(domain),
            dedupe_key=dedupe,
        )
        audit.record(
            session,
            actor=ACTOR,
            action="recipient.notified",
            now=now,
            request_id=request.id,
            details={"recipient": name, "email": email, "action": action, "categories": listed},
        )
        queued += 1
    return queued

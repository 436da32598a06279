"""The ``build_package`` job: an approved access or portability request becomes its package.

The job reads the sources without holding the portal database: it commits
once it has begun, so the status page can show the progress written on a
separate short connection (``ProgressWriter``). It then encrypts both
documents (``app.fulfilment.package_document``) with the Vault and, in the
job's transaction, queues the download email and completes the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app import audit, fulfilment
from app.fulfilment import package_release, third_parties
from app.fulfilment.package_document import Built, Snapshot, build, snapshot
from app.fulfilment.report import report_line
from app.models import AccessPackage, Job, Request
from app.services import Services

ACTOR = "system:packages"


def prepare(session: Session, request: Request, plan_id: int, now: datetime) -> AccessPackage:
    """The request's one package row (reused by a rerun), reset to "being built"."""
    package = session.scalar(select(AccessPackage).where(AccessPackage.request_id == request.id))
    plan = request.plan
    total = sum(li.record_count for li in (plan.lines if plan else []) if li.action == "disclose")
    fmt = "portability" if request.kind == "portability" else "access"
    if package is None:
        package = AccessPackage(request_id=request.id, created_at=now, format=fmt)
        session.add(package)
    package.plan_id = plan_id
    package.records_total = total
    package.records_done = 0
    session.flush()
    return package


class ProgressWriter:
    """Writes ``records_done`` in its own short transaction, for the status page."""

    def __init__(self, engine: Engine, package_id: int) -> None:
        self.engine, self.package_id = engine, package_id

    def __call__(self, done: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(AccessPackage)
                .where(AccessPackage.id == self.package_id)
                .values(records_done=done)
            )


def report_lines(snap: Snapshot, built: Built | None) -> list[dict[str, Any]]:
    """What was done per category: counts and bases, never data."""
    lines = []
    for line in snap.lines:
        if line.action == "disclose" and built is not None:
            key = (line.source, line.category)
            found = built.disclosed.get(key, 0)
            lines.append(report_line(line, count=found, not_found=built.missing.get(key, 0)))
        else:
            lines.append(report_line(line, not_found=0))
    return lines


def store(
    session: Session,
    request: Request,
    package: AccessPackage,
    snap: Snapshot,
    built: Built,
    services: Services,
    now: datetime,
) -> None:
    """Encrypt and keep the package, then release it, or hold it for the reflection period."""
    vault = services.vault
    package.format = built.format
    package.portability_refused = built.portability_refused
    package.json_encrypted = (vault.encrypt(built.json_text) or "").encode()
    package.html_encrypted = (vault.encrypt(built.html_text) or "").encode()
    package.sha256 = built.sha256
    package.records_total = built.records
    package.records_done = built.records
    package.failed_checks = 0
    package.downloaded_at = None
    package.deleted_at = None
    audit.record(
        session,
        actor=ACTOR,
        action="package.built",
        now=now,
        request_id=request.id,
        details={"records": built.records, "format": built.format, "sha256": built.sha256},
    )
    lines = report_lines(snap, built)
    # CSP L.1111-7: prepared now, released no sooner than the reflection period's end.
    if package_release.held(request, now):
        package_release.hold(session, request, package, lines, now)
    else:
        package_release.release(session, request, package, lines, services, now)


def build_package_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``build_package`` jobs (access and portability).

    It commits once after ``begin`` so that neither the status page nor a
    progress update waits on this transaction while the sources are read; a
    rerun after a crash finds the request ``fulfilling`` and rebuilds the same
    package in the same row. The final write is the worker's commit.
    """
    request = session.get(Request, job.request_id) if job.request_id else None
    if request is None or not fulfilment.begin(session, request, now, services.mail):
        return
    plan = request.plan
    if plan is None or not any(line.action == "disclose" for line in plan.lines):
        # Nothing to copy (no data found, or referred elsewhere): the report is the answer.
        lines = report_lines(snapshot(request, None), None)
        fulfilment.complete(session, request, lines, now, services.mail)
        return
    # Approval already required it; a package is never built from unreviewed free text.
    third_parties.check_reviewed(session, request, services.catalogue)
    package = prepare(session, request, plan.id, now)
    snap = snapshot(request, package)
    package_id = package.id
    engine = session.get_bind()
    session.commit()
    built = build(snap, services, ProgressWriter(engine, package_id))  # type: ignore[arg-type]
    request = session.get_one(Request, snap.request_id)
    package = session.get_one(AccessPackage, package_id)
    store(session, request, package, snap, built, services, now)

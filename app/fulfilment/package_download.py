"""A built package's life after the job: the download link's checks, the download, expiry.

The requester downloads through a link that also asks for the birth date
(``check_birth_date``; each wrong date counts against the link); once the
link expires, housekeeping deletes the content and keeps the row as proof
(``expire_packages``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import audit
from app.crypto import Vault
from app.fulfilment.package_build import ACTOR
from app.models import AccessPackage, Request


def expire_packages(session: Session, now: datetime) -> int:
    """Delete the content of packages whose link has expired; the row stays as proof.

    Called by the worker between batches (``app.outbox.housekeeping``) and by ``flask purge``.
    """
    ids = session.scalars(
        select(AccessPackage.id).where(
            AccessPackage.expires_at <= now, AccessPackage.deleted_at.is_(None)
        )
    ).all()
    for package_id in ids:
        package = session.get_one(AccessPackage, package_id)
        package.json_encrypted = None
        package.html_encrypted = None
        package.deleted_at = now
        audit.record(
            session,
            actor=ACTOR,
            action="package.deleted",
            now=now,
            request_id=package.request_id,
            details={"reason": "expired"},
        )
    session.flush()
    return len(ids)


def decrypt(vault: Vault, blob: bytes | None) -> str | None:
    """The plain text of a stored file, or None when it has been deleted."""
    return vault.decrypt(blob.decode()) if blob is not None else None


class PackageFacts(Protocol):
    """What ``availability`` reads: an ``AccessPackage`` or the status page's plain row."""

    @property
    def ready_at(self) -> datetime | None: ...
    @property
    def deleted_at(self) -> datetime | None: ...
    @property
    def json_encrypted(self) -> bytes | None: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def failed_checks(self) -> int: ...


def availability(package: PackageFacts | None, now: datetime, attempts: int) -> str | None:
    """Why a package cannot be downloaded (missing, gone, locked), or None if it can."""
    if package is None or package.ready_at is None:
        return "missing"
    if (
        package.deleted_at is not None
        or package.json_encrypted is None
        or (package.expires_at is not None and package.expires_at <= now)
    ):
        return "gone"
    if package.failed_checks >= attempts:
        return "locked"
    return None


def check_birth_date(
    session: Session,
    package: AccessPackage,
    request: Request,
    given: date,
    now: datetime,
    attempts: int,
    expected: date | None = None,
) -> str:
    """The second check of a download: ``unlocked``, ``wrong`` or ``locked``.

    ``expected``: the date to compare with, when it is not the request's (a
    request made for someone else: the requester's own date of birth).

    A wrong date counts against the link. The package's row is locked first
    (``SELECT ... FOR UPDATE``), so checks made at once wait for each other
    and each reads the count the previous one left: at most ``attempts``
    dates are ever compared, however many arrive together. A count checked
    in the view and then incremented let 16 simultaneous guesses through.
    """
    failed = session.scalar(
        select(AccessPackage.failed_checks).where(AccessPackage.id == package.id).with_for_update()
    )
    set_committed_value(package, "failed_checks", failed)
    if failed is None or failed >= attempts:
        return "locked"
    if given == (expected or request.birth_date):
        audit.record(
            session, actor="requester", action="package.unlocked", now=now, request_id=request.id
        )
        return "unlocked"
    session.execute(
        update(AccessPackage)
        .where(AccessPackage.id == package.id)
        .values(failed_checks=failed + 1)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(package, "failed_checks", failed + 1)
    audit.record(
        session,
        actor="requester",
        action="package.check_failed",
        now=now,
        request_id=request.id,
        details={"failed_checks": failed + 1},
    )
    return "wrong"


def record_download(session: Session, package: AccessPackage, kind: str, now: datetime) -> None:
    """Note a download (the first one's time on the package) and audit it: no data."""
    if package.downloaded_at is None:
        package.downloaded_at = now
    audit.record(
        session,
        actor="requester",
        action="package.downloaded",
        now=now,
        request_id=package.request_id,
        details={"file": kind},
    )

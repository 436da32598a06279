"""What the requester's status page reads, as plain rows (issue 19).

One statement gives the columns of the request the page shows, the head of its
plan in force, its report's lines and what the page says of its access package; the
timeline is a second one (``app.public.routes.TIMELINE``). No ``Request``
entity is built for a view, and nothing is left for the template to
lazy-load: ``tests/test_status_queries.py`` counts the statements.

The package is read without its content (``json_encrypted`` is megabytes of
ciphertext): the page only needs to know whether it is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from app.models import AccessPackage, FulfilmentReport, Plan, Request
from app.public import fragments


@dataclass(frozen=True)
class PackageView:
    """What the status page says of an access package (``download.package_state``)."""

    ready_at: datetime | None
    records_total: int
    records_done: int
    has_content: bool
    expires_at: datetime | None
    downloaded_at: datetime | None
    deleted_at: datetime | None
    failed_checks: int
    portability_refused: str | None

    @property
    def json_encrypted(self) -> bytes | None:
        """A marker for ``package_download.availability``: the content is never read here."""
        return b"" if self.has_content else None


@dataclass(frozen=True)
class StatusView:
    """The request as its status page shows it: codes, dates, no personal data beyond."""

    id: int
    reference: str | None
    kind: str
    status: str
    created_at: datetime
    received_on: date | None
    due_on: date | None
    extended_on: date | None
    extension_ground: str | None
    paused_at: datetime | None
    refusal_ground: str | None
    refusal_message_encrypted: str | None
    disputed_at: datetime | None
    assurance: str
    release_not_before: datetime | None
    medical_deadline: bool
    medical_newest_on: date | None
    acts_as: str
    heir_reason: str | None
    relationship_proof: str | None
    report: fragments.ReportHead | None
    package: PackageView | None


REQUEST_COLUMNS = (
    Request.id,
    Request.reference,
    Request.kind,
    Request.status,
    Request.created_at,
    Request.received_on,
    Request.due_on,
    Request.extended_on,
    Request.extension_ground,
    Request.paused_at,
    Request.refusal_ground,
    Request.refusal_message_encrypted,
    Request.disputed_at,
    Request.assurance,
    Request.release_not_before,
    Request.medical_deadline,
    Request.medical_newest_on,
    Request.acts_as,
    Request.heir_reason,
    Request.relationship_proof,
)
PACKAGE_COLUMNS = (
    AccessPackage.id,
    AccessPackage.ready_at,
    AccessPackage.records_total,
    AccessPackage.records_done,
    AccessPackage.json_encrypted.is_not(None),
    AccessPackage.expires_at,
    AccessPackage.downloaded_at,
    AccessPackage.deleted_at,
    AccessPackage.failed_checks,
    AccessPackage.portability_refused,
)
_NAMES = tuple(column.key for column in REQUEST_COLUMNS)
_REQUEST = len(REQUEST_COLUMNS)
_PLAN = _REQUEST + len(fragments.PLAN_HEAD_COLUMNS)
_REPORT = _PLAN + len(fragments.REPORT_COLUMNS)

STATUS_PAGE = (
    select(
        *REQUEST_COLUMNS,
        *fragments.PLAN_HEAD_COLUMNS,
        *fragments.REPORT_COLUMNS,
        *PACKAGE_COLUMNS,
    )
    .select_from(Request)
    .outerjoin(
        Plan,
        and_(
            Plan.request_id == Request.id,
            Plan.number
            == select(func.max(Plan.number))
            .where(Plan.request_id == Request.id)
            .correlate(Request)
            .scalar_subquery(),
        ),
    )
    .outerjoin(FulfilmentReport, FulfilmentReport.request_id == Request.id)
    .outerjoin(AccessPackage, AccessPackage.request_id == Request.id)
    .where(Request.id == bindparam("request_id"))
)


def load(session: Session, request_id: int) -> tuple[StatusView, fragments.PlanHead | None] | None:
    """The page's request and the head of its plan in force, in one statement; None: no such.

    Plain columns only, run on the session's connection (its transaction) without
    the ORM's result machinery; the caller flushes first if it wrote in the session.
    """
    row: Any = session.connection().execute(STATUS_PAGE, {"request_id": request_id}).first()
    if row is None:
        return None
    report = row[_PLAN:_REPORT]
    package_id, *package = row[_REPORT:]
    view = StatusView(
        **dict(zip(_NAMES, row[:_REQUEST], strict=True)),
        report=fragments.ReportHead(*report) if report[0] is not None else None,
        package=PackageView(*package) if package_id is not None else None,
    )
    head = row[_REQUEST:_PLAN]
    return view, fragments.PlanHead(*head) if head[0] is not None else None

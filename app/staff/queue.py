"""The triage queue and its CSV export.

Both read the filter from the query string (a GET form: nothing changes, so
no CSRF token), call ``app.casework.queue`` and render. Invalid filter values are
named on the page and ignored, never an error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from urllib.parse import urlencode

from flask import Response, current_app, render_template, request, stream_with_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app import audit
from app.casework import bulk, queue, saved_filters
from app.casework import export as csv_export
from app.deadlines import receipt_date
from app.extensions import db
from app.models import utcnow
from app.services import services_of
from app.staff.access import can, me, requires
from app.staff.routes import bp
from app.staffing import roles

PROBLEMS = {
    "status": _l("The status filter was not understood; it is ignored."),
    "kind": _l("The right filter was not understood; it is ignored."),
    "due": _l(
        "The due date filter was not understood (overdue, or a number of days up to 366); "
        "it is ignored."
    ),
    "assignee": _l(
        "The assignee filter does not name a member of staff who works cases; it is ignored."
    ),
    "identity": _l("The identity review filter was not understood; it is ignored."),
    "retained": _l("The retained categories filter was not understood; it is ignored."),
    "proof": _l("The proof of relationship filter was not understood; it is ignored."),
    "after": _l("The page link was not understood; showing the first page."),
    "approval": _l("The approval filter was not understood; it is ignored."),
    "received_from": _l("The first day received was not understood (a date); it is ignored."),
    "received_to": _l("The last day received was not understood (a date); it is ignored."),
    "sort": _l("The order was not understood; the requests are shown soonest due first."),
}
# The columns a person may sort by, in the table's order.
SORTABLE = ("kind", "status", "received", "due", "assignee")
DUE_CHOICES = ("overdue", "5", "10", "30")


def _filter(
    args: Mapping[str, str] | None = None,
) -> tuple[queue.QueueFilter, list[str], list[queue.StaffOption]]:
    staff = queue.assignable_staff(db.session())
    given = request.args if args is None else args
    flt, problems = queue.parse_filter(given, me().id, {s.id for s in staff})
    return queue.with_names(flt, services_of(current_app).names), problems, staff


def _seen(value: str | None) -> int:
    """Rows on the previous pages, carried by the "next" link only for display."""
    return int(value) if value and value.isascii() and value.isdigit() else 0


@bp.get("/queue", endpoint="queue")
@requires(roles.VIEW_CASES)
def queue_view() -> str:
    page, _code = render_queue()
    return page


def render_queue(
    args: Mapping[str, str] | None = None,
    *,
    filter_error: str | None = None,
    filter_name: str = "",
    code: int = 200,
) -> tuple[str, int]:
    """The queue page for ``args`` (the query string by default), with a save form's error."""
    given = request.args if args is None else args
    flt, problems, staff = _filter(given)
    after = queue.parse_key(given.get("after"), flt.sort)
    if given.get("after") and after is None:
        problems.append("after")
    today = receipt_date(utcnow())
    session = db.session()
    counted = queue.counts(session, today)
    shown = queue.page(session, flt, today, after, counted=counted)
    seen = _seen(given.get("seen")) if after else 0
    return render_template(
        "staff/queue.html",
        flt=flt,
        args=flt.args(),
        problems=[PROBLEMS[name] for name in dict.fromkeys(problems)],
        page=shown,
        first=seen + 1 if shown.rows else 0,
        last=seen + len(shown.rows),
        counts=counted,
        staff=staff,
        me_id=me().id,
        statuses=queue.OPEN_STATUSES,
        assurance_filters=queue.ASSURANCE_FILTERS,
        due_choices=DUE_CHOICES,
        soon_days=queue.SOON_DAYS,
        sortable=SORTABLE,
        filter_args={k: v for k, v in flt.args().items() if k not in ("sort", "dir")},
        can_approve=can(roles.APPROVE_SENSITIVE),
        can_assign=can(roles.ASSIGN),
        bulk_max=bulk.MAX_CASES,
        back_query=urlencode(flt.args()),
        saved=saved_filters.listed(session, me().id),
        saved_max=saved_filters.MAX_PER_PERSON,
        saved_query=saved_filters.canonical(urlencode(flt.args()), me().id, {s.id for s in staff}),
        filter_error=filter_error,
        filter_name=filter_name,
        waiting_for_me=queue.waiting_for(session, me().id) if can(roles.APPROVE_SENSITIVE) else 0,
    ), code


def csv_text(session: Session, batches: Iterator[list[list[str]]]) -> Iterator[str]:
    """Each batch as CSV text, the read transaction ended before the client gets it.

    ``session`` is the one the batches are read with: once the view has
    returned, ``db.session`` may name another session than the one reading.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for batch in batches:
        # Read only: ending it frees the connection (and SQLite's lock) while
        # the client downloads; the next batch opens a new transaction.
        session.rollback()
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.get("/queue.csv")
@requires(roles.VIEW_CASES)
def queue_export() -> Response:
    flt, _problems, _staff = _filter()  # ignored values are dropped, as on the page
    now = utcnow()
    today = receipt_date(now)
    session = db.session()
    # A bulk read of cases is recorded like a case view. The search term may be
    # an email address: only whether one was given goes into the trail.
    details = {k: v for k, v in flt.args().items() if k not in ("q", "search")}
    audit.record(
        session,
        actor=f"staff:{me().id}",
        action="queue.exported",
        now=now,
        details=details | ({"search": True} if flt.search else {}),
    )
    session.commit()
    batches = csv_export.export_batches(session, flt, today)
    # A generator: the export is written batch by batch as the client reads,
    # never whole in memory. The request context stays for its duration.
    response = Response(
        stream_with_context(csv_text(session, batches)), content_type="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="queue-{today.isoformat()}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response

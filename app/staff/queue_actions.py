"""Acting on the queue: several cases at once (claim, release, assign), saved filters.

The bulk action runs ``app.casework.bulk``: each ticked case as if done alone, and
a page that says, case by case, what was done and what was refused and why.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import abort, current_app, flash, redirect, render_template, request
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.casework import bulk, case_page, cases, saved_filters
from app.casework import queue as casework_queue
from app.extensions import db
from app.models import StaffUser, utcnow
from app.services import services_of
from app.staff import refusals
from app.staff.access import can, me, requires
from app.staff.forms import REQUIRED
from app.staff.queue import render_queue
from app.staff.routes import bp
from app.staffing import roles

BULK_REFUSALS = {
    "malformed": _l("The list of requests was not understood: nothing was done."),
    "none_chosen": _l("Tick at least one request first: nothing was done."),
    "too_many": _l("At most %(num)d requests at once: nothing was done."),
    "unknown_action": _l("Choose claim, release or assign: nothing was done."),
    "no_assignee": _l("Choose who receives the requests: nothing was done."),
}
# Why one case was not done (beside refusals.REASONS and refusals.FORBIDDEN).
CASE_REASONS = {
    "not_found": _l("No request has this reference."),
    "changed": _l("The case changed after the queue was shown: open it and decide again."),
}
ACTION_TITLES = {
    "claim": _l("Claim the ticked requests"),
    "release": _l("Release the ticked requests"),
    "assign": _l("Assign the ticked requests"),
}


class SaveFilterForm(FlaskForm):
    """Keep the filter the queue shows under a name (its query string, without the search)."""

    name = StringField(
        _l("Name of this filter"),
        validators=[DataRequired(REQUIRED), Length(max=saved_filters.NAME_MAX)],
    )
    query = HiddenField()


class DeleteFilterForm(FlaskForm):
    """Only the CSRF token: the filter is in the address."""


FILTER_REFUSALS = {
    "empty_name": _l("Give the filter a name."),
    "name_too_long": _l("The name is too long (at most 60 characters)."),
    "query_too_long": _l("This filter is too long to keep."),
    "too_many": _l(
        "You already keep %(num)d filters: delete one before saving another. Nothing was saved."
    ),
}


class BulkForm(FlaskForm):
    """The queue's bulk form: the action, who receives (assign), where to go back to.

    The ticked cases are the repeated ``case`` values ("reference:version").
    """

    action = HiddenField()
    assignee = SelectField(_l("Give them to"), coerce=int, validators=[Optional()])
    back = HiddenField()


def bulk_form() -> BulkForm:
    form = BulkForm()
    form.assignee.choices = [(0, "—")] + [
        (person.id, person.email) for person in case_page.workers(db.session())
    ]
    return form


def back_link(value: str | None) -> str:
    """The queue with the filter it was acted from; only a query string, never a path."""
    staff_ids = {person.id for person in casework_queue.assignable_staff(db.session())}
    args, _problems = casework_queue.parse_filter(_pairs(value or ""), me().id, staff_ids)
    query = urlencode(args.args())
    return f"/staff/queue?{query}" if query else "/staff/queue"


def _pairs(query: str) -> dict[str, str]:
    return dict(parse_qsl(query[:2000], keep_blank_values=False))


def _why(outcome: bulk.Outcome) -> str:
    if outcome.done:
        return ""
    if outcome.reason == "changed" and outcome.changed_at:
        return _(
            "The case changed at %(when)s, after the queue was shown: open it and decide again.",
            when=format_datetime(outcome.changed_at, "short"),
        )
    text = (
        CASE_REASONS.get(outcome.reason)
        or refusals.REASONS.get(outcome.reason)
        or refusals.FORBIDDEN.get(outcome.reason)
        or outcome.reason
    )
    return str(text)


@bp.post("/queue/bulk")
@requires(roles.WORK_CASES)
def queue_bulk() -> tuple[str, int]:
    form = bulk_form()
    action = (request.form.get("action") or "").strip()
    back = back_link(form.back.data)
    title = str(ACTION_TITLES.get(action, _("Act on the ticked requests")))

    def refused(reason: str, code: int = 422) -> tuple[str, int]:
        message = str(BULK_REFUSALS[reason])
        if reason == "too_many":
            message = message % {"num": bulk.MAX_CASES}
        return render_template(
            "staff/bulk_result.html", title=title, error=message, outcomes=[], back=back
        ), code

    if not form.validate():
        return refused("malformed")
    if action not in bulk.ACTIONS:
        return refused("unknown_action")
    if action == "assign" and not can(roles.ASSIGN):
        return render_template(
            "errors/error.html",
            code=403,
            title=_("Forbidden"),
            message=str(refusals.FORBIDDEN["role"]),
        ), 403
    try:
        items = bulk.parse_items(request.form.getlist("case"))
    except bulk.BulkError as error:
        return refused(error.reason)
    assignee = None
    if action == "assign":
        assignee = db.session.get(StaffUser, form.assignee.data or 0)
        if assignee is None:
            return refused("no_assignee")
    session = db.session()
    try:
        outcomes = bulk.apply(
            session,
            me(),
            action,
            items,
            assignee=assignee,
            now=utcnow(),
            mail=services_of(current_app).mail,
            commit=session.commit,
            rollback=session.rollback,
        )
    except cases.Forbidden as error:
        session.rollback()
        return refusals.forbidden_page(error)
    except bulk.BulkError as error:
        session.rollback()
        return refused(error.reason)
    shown = [(outcome, _why(outcome)) for outcome in outcomes]
    return render_template(
        "staff/bulk_result.html",
        title=title,
        error=None,
        outcomes=shown,
        done=sum(1 for o in outcomes if o.done),
        back=back,
    ), 200


@bp.post("/queue/filters")
@requires(roles.VIEW_CASES)
def queue_filter_save() -> Response | tuple[str, int]:
    form = SaveFilterForm()
    staff_ids = {person.id for person in casework_queue.assignable_staff(db.session())}
    query = saved_filters.canonical(form.query.data or "", me().id, staff_ids)
    shown = _pairs(query)
    if not form.validate():
        message = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return render_queue(
            shown, filter_error=message, filter_name=form.name.data or "", code=422
        )
    session = db.session()
    try:
        saved = saved_filters.save(session, me(), form.name.data or "", query, now=utcnow())
    except saved_filters.FilterError as error:
        session.rollback()
        return render_queue(
            shown,
            filter_error=str(FILTER_REFUSALS[error.reason])
            % {"num": saved_filters.MAX_PER_PERSON},
            filter_name=form.name.data or "",
            code=422,
        )
    name = saved.name
    session.commit()
    flash(_("The filter “%(name)s” is saved.", name=name))
    return redirect(f"/staff/queue?{query}" if query else "/staff/queue", 303)


@bp.post("/queue/filters/<int:filter_id>/delete")
@requires(roles.VIEW_CASES)
def queue_filter_delete(filter_id: int) -> Response:
    form = DeleteFilterForm()
    if not form.validate():
        abort(400)
    session = db.session()
    if not saved_filters.remove(session, me(), filter_id):
        session.rollback()
        abort(404)
    session.commit()
    flash(_("The filter is deleted."))
    return redirect("/staff/queue", 303)

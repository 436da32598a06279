"""The rectification screen: correct each restricted record, then finish the request.

GET lists the records the ``restrict`` job flagged, with their current values
read from the sources (staff may see the data they correct). One POST serves
three buttons: save one record, finish (every record done), or close without
change because the data is accurate. Only the case's holder may save; the
domain (``app.fulfilment.rectification``) checks it, with the case's version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Date, DateTime, select
from werkzeug.wrappers import Response
from wtforms import HiddenField, IntegerField
from wtforms.validators import AnyOf, InputRequired
from wtforms.widgets import HiddenInput

from app import lifecycle
from app.casework import cases
from app.extensions import db
from app.fulfilment import rectification
from app.models import Request, Restriction, utcnow
from app.staff.access import me, requires
from app.staff.case_views import FORBIDDEN, REASONS, case_or_404, routing_services
from app.staff.routes import bp
from app.staffing import roles

FIELD_PREFIX = "field_"
MESSAGES = {
    "required": _l("“%(field)s” cannot be empty."),
    "invalid_date": _l("“%(field)s” must be a date written YYYY-MM-DD."),
    "invalid_number": _l("“%(field)s” must be a number."),
    "too_long": _l("“%(field)s” is too long."),
    "unknown_field": _l("“%(field)s” cannot be corrected here."),
    "unknown_record": _l("This record is not one of this request's restricted records."),
    "already_done": _l("This record has already been corrected or checked."),
    "record_gone": _l("This record no longer exists in its source: nothing was written."),
    "rejected": _l("The source refused this value: check it against what the field allows."),
    "records_pending": _l(
        "Some records are still restricted: correct or check each of them first, or close "
        "the request as accurate."
    ),
}


class RectifyForm(FlaskForm):
    """Each button of the screen: the case's version, the action, the record if one."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    action = HiddenField(validators=[AnyOf(("save", "finish", "accurate"))])
    restriction = IntegerField(widget=HiddenInput(), default=0)


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    is_date: bool


@dataclass(frozen=True)
class Shown:
    """A restricted record as the screen shows it."""

    restriction: Restriction
    source: str
    table: str
    key: str
    fields: list[Field]
    found: bool


# Any case answers (saying when it has nothing to correct); the domain refuses a
# correction outside a rectification being fulfilled.
def _shown(case: Request) -> tuple[list[Shown], list[Restriction]]:
    services = routing_services()
    records = db.session.scalars(
        select(Restriction).where(Restriction.request_id == case.id).order_by(Restriction.id)
    ).all()
    pending, done = [], []
    for restriction in records:
        if restriction.lifted_at is not None:
            done.append(restriction)
            continue
        source, spec = rectification.spec_of(
            services.catalogue, restriction.source, restriction.table_name
        )
        table = services.warehouse.table(source, spec.name)
        row = rectification.read(services.warehouse, source, spec, restriction.record_key)
        fields = [
            Field(
                column.name,
                "" if row is None or row[column.name] is None else str(row[column.name]),
                isinstance(column.type, Date) and not isinstance(column.type, DateTime),
            )
            for column in rectification.editable(table, spec)
        ]
        pending.append(
            Shown(
                restriction,
                restriction.source,
                restriction.table_name,
                restriction.record_key,
                fields,
                row is not None,
            )
        )
    return pending, done


def _page(
    case: Request,
    *,
    error: str | None = None,
    code: int = 200,
    posted: dict[str, Any] | None = None,
) -> tuple[str, int]:
    pending, done = _shown(case)
    return (
        render_template(
            "staff/rectify.html",
            case=case,
            pending=pending,
            done=done,
            error=error,
            mine=case.assignee_id == me().id,
            prefix=FIELD_PREFIX,
            posted=posted or {},
            form=RectifyForm(formdata=None, version=case.version),
        ),
        code,
    )


@bp.get("/cases/<reference>/rectify")
@requires(roles.WORK_CASES)
def case_rectify(reference: str) -> tuple[str, int]:
    found = case_or_404(reference)
    cases.record_view(db.session(), found, me(), utcnow())
    db.session.commit()
    return _page(found)


@bp.post("/cases/<reference>/rectify")
@requires(roles.WORK_CASES)
def case_rectify_post(reference: str) -> Response | tuple[str, int]:
    found = case_or_404(reference)
    form = RectifyForm()
    if not form.validate():
        return _page(found, error=_("Some of the information needs correcting."), code=422)
    services = routing_services()
    now, version = utcnow(), form.version.data or 0
    values = {
        name.removeprefix(FIELD_PREFIX): value
        for name, value in request.form.items()
        if name.startswith(FIELD_PREFIX)
    }

    def save() -> None:
        rectification.rectify(
            db.session(),
            found,
            form.restriction.data or 0,
            values,
            me(),
            catalogue=services.catalogue,
            warehouse=services.warehouse,
            version=version,
            now=now,
        )

    def finish() -> None:
        rectification.finish(
            db.session(),
            found,
            me(),
            accurate=form.action.data == "accurate",
            catalogue=services.catalogue,
            version=version,
            now=now,
            mail=services.mail,
        )

    saving = form.action.data == "save"
    act: Callable[[], None] = save if saving else finish
    if saving:
        done = _("The record is saved and no longer restricted.")
    else:
        done = _("The request is completed; the requester is told by email.")
    try:
        act()
    except cases.Forbidden as refusal:
        db.session.rollback()
        message = str(FORBIDDEN.get(refusal.reason, FORBIDDEN["role"]))
        return render_template(
            "errors/error.html", code=403, title=_("Forbidden"), message=message
        ), 403
    except rectification.RectifyError as refusal:
        db.session.rollback()
        text = MESSAGES.get(refusal.reason) or REASONS.get(refusal.reason) or refusal.reason
        message = str(text) % {"field": refusal.field or ""}
        posted = {"record": form.restriction.data, "values": values}
        return _page(case_or_404(reference), error=message, code=422, posted=posted)
    except cases.CaseError as refusal:
        db.session.rollback()
        return _page(
            case_or_404(reference),
            error=str(REASONS.get(refusal.reason, refusal.reason)),
            code=422,
        )
    except lifecycle.StaleRequest:
        db.session.rollback()
        return _page(
            case_or_404(reference),
            error=_(
                "This case changed after you opened it. Nothing was saved: check it and try again."
            ),
            code=409,
        )
    db.session.commit()
    flash(done)
    if saving:
        return redirect(url_for("staff.case_rectify", reference=reference), 303)
    return redirect(url_for("staff.case", reference=reference), 303)

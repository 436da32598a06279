"""The rectification screen: correct each restricted record, then finish the request.

GET lists the records the ``restrict`` job flagged, with their current values
read from the sources (``app.fulfilment.correction``): to the case's holder
and DPOs only, each read an audit event; anyone else who works cases sees how
many records are restricted, not what they hold. One POST serves
three buttons: save one record, finish (every record done), or close without
change because the data is accurate. Only the case's holder may save; the
domain (``app.fulfilment.rectification``) checks it, with the case's version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, IntegerField
from wtforms.validators import AnyOf, InputRequired
from wtforms.widgets import HiddenInput

from app import lifecycle
from app.casework import cases
from app.extensions import db
from app.fulfilment import correction, rectification
from app.models import Request, utcnow
from app.services import services_of
from app.staff import refusals
from app.staff.access import me, requires
from app.staff.case_views import case_or_404
from app.staff.routes import bp
from app.staffing import roles

FIELD_PREFIX = "field_"


class RectifyForm(FlaskForm):
    """Each button of the screen: the case's version, the action, the record if one."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    action = HiddenField(validators=[AnyOf(("save", "finish", "accurate"))])
    restriction = IntegerField(widget=HiddenInput(), default=0)


def _page(
    case: Request,
    *,
    error: str | None = None,
    code: int = 200,
    posted: dict[str, Any] | None = None,
) -> tuple[str, int]:
    services = services_of(current_app)
    screen = correction.correction_screen(
        db.session(),
        case,
        me(),
        catalogue=services.catalogue,
        warehouse=services.warehouse,
        now=utcnow(),
    )
    page = render_template(
        "staff/rectify.html",
        case=case,
        screen=screen,
        pending=screen.pending,
        done=screen.done,
        error=error,
        mine=case.assignee_id == me().id,
        prefix=FIELD_PREFIX,
        posted=posted or {},
        form=RectifyForm(formdata=None, version=case.version),
    )
    # The read of the sources is audited even when the page answers a refused decision.
    db.session.commit()
    return page, code


def _stale_message(_error: lifecycle.StaleRequest) -> str:
    return _("This case changed after you opened it. Nothing was saved: check it and try again.")


@bp.get("/cases/<reference>/rectify")
@requires(roles.WORK_CASES)
def case_rectify(reference: str) -> tuple[str, int]:
    found = case_or_404(reference)
    cases.record_view(db.session(), found, me(), utcnow())
    return _page(found)


@bp.post("/cases/<reference>/rectify")
@requires(roles.WORK_CASES)
def case_rectify_post(reference: str) -> Response | tuple[str, int]:
    found = case_or_404(reference)
    form = RectifyForm()
    if not form.validate():
        return _page(found, error=_("Some of the information needs correcting."), code=422)
    services = services_of(current_app)
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

    def reshow(refusal: Exception, message: str, status: int) -> tuple[str, int]:
        # A refused correction shows what was typed, to be fixed rather than retyped.
        posted = None
        if isinstance(refusal, rectification.RectifyError):
            posted = {"record": form.restriction.data, "values": values}
        return _page(case_or_404(reference), error=message, code=status, posted=posted)

    refused = refusals.attempt(act, reshow, _stale_message)
    if refused is not None:
        return refused
    db.session.commit()
    flash(done)
    if saving:
        return redirect(url_for("staff.case_rectify", reference=reference), 303)
    return redirect(url_for("staff.case", reference=reference), 303)

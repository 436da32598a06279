"""Approving a plan or a prepared decision: first what it will do, then the decision.

An approval cannot be taken back: it releases health data, erases records or
refuses the request. The case page's button therefore only asks: the first
POST (no ``confirm``) runs every check the approval makes
(``decisions.approval_checks``), writes nothing, and shows the confirmation
page (``app.casework.confirmation``: per category and count, to whom). Its
button POSTs again with ``confirm=yes`` and the same version, which approves,
through the same checks, CSRF and four eyes. A case changed in between is
refused as stale, as on the case page.
"""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app import deadlines
from app.casework import confirmation, decisions, refusal_window
from app.extensions import db
from app.fulfilment import third_parties
from app.labels import REFUSAL_LABELS
from app.models import Request, StaffUser, utcnow
from app.services import services_of
from app.staff import refusals
from app.staff.access import me, requires
from app.staff.case_forms import ApproveForm
from app.staff.case_views import _decide, _page, _stale_message, case_or_404
from app.staff.routes import bp
from app.staffing import roles


def _confirmation(reference: str, form: ApproveForm) -> Response | tuple[str, int]:
    """The checks of the approval, then what it will do; nothing is written."""
    found = case_or_404(reference)
    if not form.validate():
        return _page(found, error=_("Some of the information needs correcting."), code=422)
    decided: list[str] = []

    def run() -> None:
        decided.append(
            decisions.approval_checks(
                db.session(),
                found,
                me(),
                version=form.version.data or 0,
                assurance=services_of(current_app).assurance,
                catalogue=services_of(current_app).catalogue,
            )
        )

    def reshow(_refusal: Exception, message: str, status: int) -> tuple[str, int]:
        return _page(case_or_404(reference), error=message, code=status)

    refused = refusals.attempt(run, reshow, _stale_message)
    if refused is not None:
        return refused
    decision = decided[0]
    review = third_parties.review_of(db.session(), found)
    preview = confirmation.preview(
        found,
        decision,
        services_of(current_app).catalogue,
        masked=third_parties.passages(db.session(), found) if review is not None else 0,
    )
    form.confirm.data = "yes"
    return (
        render_template(
            "staff/confirm_approval.html",
            case=found,
            decision=decision,
            preview=preview,
            form=form,
            preparer=_preparer(found),
            late=_late(found, decision),
            ground_text=_ground_text(found, preview.ground),
            refusal_message=services_of(current_app).vault.decrypt(found.refusal_message_encrypted)
            if decision == "refuse"
            else None,
        ),
        200,
    )


def _preparer(case: Request) -> StaffUser | None:
    return db.session.get(StaffUser, case.prepared_by_id) if case.prepared_by_id else None


def _ground_text(case: Request, ground: str | None) -> str | None:
    """The refusal ground as the requester's email words it: in the requester's language."""
    if ground is None or ground not in REFUSAL_LABELS:
        return None
    with force_locale(case.locale):
        return str(REFUSAL_LABELS[ground])


def _late(case: Request, decision: str) -> bool:
    """A refusal past one month from receipt: the page asks for the written justification."""
    if decision != "refuse":
        return False
    window = refusal_window.window(case, deadlines.receipt_date(utcnow()))
    return bool(window and window.late)


@bp.post("/cases/<reference>/approve")
@requires(roles.WORK_CASES)
def case_approve(reference: str) -> Response | tuple[str, int]:
    form = ApproveForm()
    if form.confirm.data != "yes":
        return _confirmation(reference, form)
    services = services_of(current_app)
    return _decide(
        reference,
        form,
        lambda case: decisions.approve(
            db.session(),
            case,
            me(),
            version=form.version.data or 0,
            assurance=services.assurance,
            catalogue=services.catalogue,
            vault=services.vault,
            late_justification=form.late_justification.data,
            now=utcnow(),
            mail=services.mail,
        ),
        _("Decision approved. The requester is told by email."),
    )

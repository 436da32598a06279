"""The audit trail for people: events by request, actor or action; chain status.

Readable by the roles holding ``roles.VIEW_AUDIT`` (DPO, administrator).
The list is paged by id (``app.audit.trail``); checking the chain is a POST,
and is itself recorded as an audit event.
"""

from __future__ import annotations

import re

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from app import audit
from app.audit import anchors
from app.audit import trail as trail
from app.extensions import db
from app.models import StaffUser, utcnow
from app.services import services_of
from app.staff import timeline
from app.staff.access import me, requires
from app.staff.queue import csv_text
from app.staff.routes import bp
from app.staffing import roles

# "staff:3", "requester", "system:routing": a word, then an optional qualifier.
ACTOR_SHAPE = re.compile(r"[a-z_]+(:[A-Za-z0-9_.-]+)?")
REASONS = {
    audit.MISSING: _l("an event is missing"),
    audit.LINK_BROKEN: _l("the link to the previous event is broken"),
    audit.ALTERED: _l("the event was altered"),
    audit.END_MISSING: _l("events at the end of the chain are missing"),
    audit.UNKNOWN_KEY: _l("the event was sealed with a key that AUDIT_KEYS does not hold"),
    audit.DOWNGRADED: _l("the event has no key although an event before it has one"),
    audit.UNVOUCHED: _l("the event was sealed without a key and no anchor vouches for it"),
    audit.ANCHOR_DIFFERS: _l("the event differs from its anchor"),
    audit.ANCHOR_BEYOND: _l("an anchor names this event, which the chain does not hold"),
}


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class AuditFilterForm(FlaskForm):
    """The filters of the list, read from the query string."""

    class Meta:
        csrf = False  # a GET that changes nothing; the verify button has its own token

    reference = StringField(
        _l("Request reference"), validators=[Optional(), Length(max=20)], filters=[_strip]
    )
    # Pick-lists, filled by ``_choices``. A value typed in the address (an email, an
    # actor code, an action's first letters) still works: it is checked, then offered.
    actor = SelectField(
        _l("Who"),
        validators=[Optional(), Length(max=254)],
        filters=[_strip],
        validate_choice=False,
    )
    action = SelectField(
        _l("Kind of event"),
        validators=[Optional(), Length(max=60)],
        filters=[_strip],
        validate_choice=False,
    )
    date_from = DateField(_l("From (Paris date)"), validators=[Optional()])
    date_to = DateField(_l("To (Paris date, included)"), validators=[Optional()])
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])


# The kinds of event the pick-list offers: the first word of their action.
EVENT_KINDS = {
    "request.": _l("Requests filed or withdrawn"),
    "status.": _l("Status changes"),
    "case.": _l("Case work (views, claims, notes, decisions)"),
    "identity.": _l("Identity checks"),
    "plan.": _l("Plans computed"),
    "package.": _l("Access packages"),
    "erasure.": _l("Erasures"),
    "recipient.": _l("Recipients told (GDPR Art. 19)"),
    "staff.": _l("Staff accounts and sign-ins"),
    "queue.": _l("Queue exports"),
    "audit.": _l("Audit trail checks and exports"),
}


def _choices(form: AuditFilterForm) -> None:
    """The pick-lists: every account by its address, the fixed actors; the kinds of event."""
    people = [
        (f"staff:{staff_id}", email)
        for staff_id, email in db.session.execute(
            select(StaffUser.id, StaffUser.email).order_by(StaffUser.email)
        )
    ]
    fixed = [(code, str(name)) for code, name in timeline.ACTORS.items()]
    actors = [("", _("Anyone")), *people, *fixed]
    kinds = [("", _("Any kind")), *((code, str(name)) for code, name in EVENT_KINDS.items())]
    for field, options in ((form.actor, actors), (form.action, kinds)):
        if field.data and field.data not in {value for value, _label in options}:
            options.append((field.data, field.data))
        field.choices = options


def _filters(form: AuditFilterForm) -> trail.Filters | None:
    """The filters the form asks for; None, with the form's errors set, when it cannot be."""
    if not form.validate():
        return None
    session = db.session()
    request_id, actor = None, form.actor.data or None
    if form.reference.data:
        request_id = trail.request_id_of(session, form.reference.data.upper())
        if request_id is None:
            form.reference.errors = [_("No request has this reference.")]
    if actor and "@" in actor:
        actor = trail.staff_actor_of(session, actor)
        if actor is None:
            form.actor.errors = [_("No member of staff has this email address.")]
    elif actor and not ACTOR_SHAPE.fullmatch(actor):
        form.actor.errors = [_("Write an actor as staff:3, requester or system:routing.")]
    if form.date_from.data and form.date_to.data and form.date_from.data > form.date_to.data:
        form.date_to.errors = [_("The end date must not be before the start date.")]
    if any(field.errors for field in form):
        return None
    return trail.Filters(
        request_id=request_id,
        actor=actor,
        action_prefix=form.action.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def _query_args() -> dict[str, str]:
    """The filters as given, to carry into the next page's link (the cursor apart)."""
    return {k: v for k, v in request.args.items() if k != "before" and v}


def _filtered() -> tuple[AuditFilterForm, trail.Filters | None]:
    """The form read from the query string, its pick-lists filled, and the filters it asks for."""
    form = AuditFilterForm(request.args)
    _choices(form)
    return form, _filters(form)


def _refused(form: AuditFilterForm) -> tuple[str, int]:
    """The list page with the form's errors and no events."""
    return render_template("staff/audit.html", form=form, page=None, args=_query_args()), 400


@bp.get("/audit")
@requires(roles.VIEW_AUDIT)
def audit_log() -> str | tuple[str, int]:
    form, filters = _filtered()
    if filters is None:
        return _refused(form)
    page = trail.page(db.session(), filters, before=form.before.data)
    return render_template(
        "staff/audit.html",
        form=form,
        page=page,
        args=_query_args(),
        details_text=trail.details_text,
        staff_id_of=trail.staff_id_of,
    )


@bp.get("/audit.csv")
@requires(roles.VIEW_AUDIT)
def audit_export() -> Response | tuple[str, int]:
    """The filtered trail as CSV, streamed; the export is itself an audit event."""
    form, filters = _filtered()
    if filters is None:
        return _refused(form)
    now = utcnow()
    session = db.session()
    chosen = {
        "request_id": filters.request_id,
        "actor": filters.actor,
        "action": filters.action_prefix,
        "date_from": filters.date_from.isoformat() if filters.date_from else None,
        "date_to": filters.date_to.isoformat() if filters.date_to else None,
    }
    audit.record(
        session,
        actor=f"staff:{me().id}",
        action="audit.exported",
        now=now,
        details={key: value for key, value in chosen.items() if value is not None},
    )
    session.commit()
    batches = trail.export_batches(session, filters)
    response = Response(
        stream_with_context(csv_text(session, batches)), content_type="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="audit-{now.date().isoformat()}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/audit/verify")
@requires(roles.VIEW_AUDIT)
def audit_verify() -> Response:
    """Walk the chain, compare it with the anchors, record the check, say what was found."""
    # Read before verify: it empties the session as it walks the chain.
    actor = f"staff:{me().id}"
    session = db.session()
    settings = services_of(current_app).audit
    try:
        found = anchors.read(settings.anchor_file)
    except anchors.AnchorFileError:
        audit.record(
            session,
            actor=actor,
            action="audit.verified",
            now=utcnow(),
            details={"anchor_file": "unreadable"},
        )
        session.commit()
        flash(_("The anchor file cannot be read: run flask audit verify on the server."))
        return redirect(url_for("staff.audit_log"), 303)
    report = audit.verify(session, settings.keyring, found)
    audit.record(
        session,
        actor=actor,
        action="audit.verified",
        now=utcnow(),
        details={
            "checked": report.checked,
            "broken_at": report.broken_at,
            "anchors": report.anchors,
        },
    )
    session.commit()
    if not report.ok:
        flash(
            _(
                "The audit chain is broken at event %(seq)s: %(reason)s "
                "(%(count)s event(s) checked before it).",
                seq=report.broken_at,
                reason=REASONS.get(report.reason or "", report.reason),
                count=report.checked,
            )
        )
    else:
        flash(
            _(
                "The audit chain is intact: %(count)s event(s) checked; "
                "%(unsealed)s recent event(s) not yet sealed.",
                count=report.checked,
                unsealed=report.unsealed,
            )
        )
        if report.anchors is None:
            flash(
                _(
                    "There is no anchor file on this server: the chain was checked "
                    "against its keys only."
                )
            )
        else:
            flash(
                _(
                    "The chain matches the anchor file (%(count)s anchor(s) checked).",
                    count=report.anchors,
                )
            )
    return redirect(url_for("staff.audit_log"), 303)

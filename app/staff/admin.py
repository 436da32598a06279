"""Staff accounts: administrators create, change roles, disable; DPOs confirm a DPO role.

No page ever shows an enrolment link: it goes to the new account's own
mailbox (``app.staffing.notices``). A DPO role given here waits until another
DPO confirms it on this same page (``app.staffing.duties``). Disabling asks
for a confirmation first, and an administrator cannot disable or change their
own account (there would be no one left to undo a mistake).
``app.staffing`` writes the audit events and the emails.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length

from app.extensions import db
from app.labels import ROLE_LABELS
from app.models import STAFF_ROLES, StaffUser, utcnow
from app.services import services_of
from app.staff.access import can, me, requires
from app.staff.forms import REQUIRED
from app.staff.routes import bp
from app.staffing import accounts as staff_accounts
from app.staffing import duties, notices, roles

ROLE_REQUIRED = _l("Choose one of the roles in the list.")
# Domain refusals of ``duties.invite`` (reason codes): the field and the message.
CREATE_REFUSALS = {
    "email_taken": (
        "email",
        _l(
            "An account already reaches this mailbox (the same address, perhaps written with "
            "other capitals or a +tag). One person holds one account: change its role instead."
        ),
    ),
    "invalid_email": ("email", _l("Enter an email address such as name@example.org.")),
    "unknown_role": ("role", ROLE_REQUIRED),
}
# Domain refusals of the other actions: the HTTP status and the message.
REFUSALS = {
    "own_account": (403, _l("You cannot change your own account. Ask another administrator.")),
    "disabled": (409, _l("This account is disabled: nothing can be changed on it.")),
    "unknown_role": (422, ROLE_REQUIRED),
    "not_invitable": (
        409,
        _l("Only an active account that holds a role and has not enrolled yet gets a link."),
    ),
    "nothing_pending": (409, _l("Nothing waits for a confirmation on this account any more.")),
    "second_person": (
        403,
        _l(
            "Another data protection officer must decide: neither the account's holder nor "
            "the person who asked for the role can."
        ),
    ),
    "not_allowed": (403, _l("Your role does not allow this.")),
}


def _role_field() -> SelectField:
    return SelectField(
        _l("Role"),
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in STAFF_ROLES],
        # Checked below with our own message rather than WTForms' "Not a valid choice".
        validate_choice=False,
        validators=[AnyOf(STAFF_ROLES, message=ROLE_REQUIRED)],
    )


class CreateStaffForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(REQUIRED),
            Length(max=254, message=_l("Use at most 254 characters.")),
        ],
    )
    role = _role_field()


class RoleForm(FlaskForm):
    role = _role_field()


class ButtonForm(FlaskForm):
    """A button of the list (send a new link, confirm, refuse): its CSRF token only."""


class DisableStaffForm(FlaskForm):
    """The list's button sends it without ``confirm``; the confirmation page sends ``yes``."""

    confirm = HiddenField()


def _page(
    form: CreateStaffForm | None = None,
    error: str | None = None,
    confirm: StaffUser | None = None,
) -> str:
    session = db.session()
    staff = staff_accounts.list_staff(session)
    return render_template(
        "staff/accounts.html",
        staff=staff,
        by_id={user.id: user for user in staff},
        waiting=duties.waiting(session),
        dpos=len(notices.active_dpos(session)),
        form=form or CreateStaffForm(),
        disable_form=DisableStaffForm(),
        role_labels=ROLE_LABELS,
        roles=STAFF_ROLES,
        manages=can(roles.MANAGE_STAFF),
        confirms=can(roles.CONFIRM_DPO),
        me=me(),
        now=utcnow(),
        error=error,
        confirm=confirm,
    )


def _refused(error: staff_accounts.AccountError) -> tuple[str, int]:
    db.session.rollback()
    status, message = REFUSALS.get(error.reason, (409, _l("Please check this field.")))
    return _page(error=str(message)), status


def _account(staff_id: int) -> StaffUser:
    user = db.session.get(StaffUser, staff_id)
    if user is None:
        abort(404)
    return user


def _domain() -> str:
    return services_of(current_app).mail.domain


def _who_confirms() -> None:
    """Say who can confirm a waiting DPO role: the DPOs, told by email, or none yet."""
    if notices.active_dpos(db.session()):
        flash(_("Every data protection officer has been told by email."))
    else:
        flash(
            _(
                "No data protection officer can confirm it yet: the first one is created on "
                "the server, with flask staff create."
            )
        )


@bp.get("/accounts")
@requires(roles.MANAGE_STAFF, roles.CONFIRM_DPO)
def accounts() -> str:
    return _page()


@bp.post("/accounts")
@requires(roles.MANAGE_STAFF)
def accounts_create() -> Response | tuple[str, int]:
    form = CreateStaffForm()
    if not form.validate():
        return _page(form=form), 422
    session = db.session()
    try:
        user = duties.invite(
            session,
            form.email.data or "",
            form.role.data or "",
            services_of(current_app).vault,
            utcnow(),
            by=me(),
            domain=_domain(),
        )
    except staff_accounts.AccountError as error:
        db.session.rollback()
        name, message = CREATE_REFUSALS.get(
            error.reason, ("email", _l("Please check this field."))
        )
        form[name].errors = [str(message)]
        return _page(form=form), 422
    session.commit()
    if user.pending_role:
        flash(
            _(
                "The account %(email)s is created. It holds no role and receives nothing until "
                "another data protection officer confirms the role.",
                email=user.email,
            )
        )
        _who_confirms()
    else:
        flash(
            _(
                "The account %(email)s is created. Its one-time enrolment link, valid 72 hours, "
                "is on its way to that address, and to no one else.",
                email=user.email,
            )
        )
    return redirect(url_for("staff.accounts"), 303)


@bp.post("/accounts/<int:staff_id>/role")
@requires(roles.MANAGE_STAFF)
def accounts_role(staff_id: int) -> Response | tuple[str, int]:
    form = RoleForm()
    if not form.validate():
        return _page(error=str(ROLE_REQUIRED)), 422
    user = _account(staff_id)
    role = form.role.data or ""
    try:
        done = duties.change_role(db.session(), user, role, utcnow(), by=me(), domain=_domain())
    except staff_accounts.AccountError as error:
        return _refused(error)
    db.session.commit()
    label = ROLE_LABELS[role]
    if done == duties.PENDING:
        flash(
            _(
                "The role of %(role)s for %(email)s waits for another data protection officer "
                "to confirm it.",
                role=label,
                email=user.email,
            )
        )
        _who_confirms()
    elif done == duties.CHANGED:
        flash(_("%(email)s now holds the role of %(role)s.", email=user.email, role=label))
    return redirect(url_for("staff.accounts"), 303)


@bp.post("/accounts/<int:staff_id>/enrolment")
@requires(roles.MANAGE_STAFF)
def accounts_enrolment(staff_id: int) -> Response | tuple[str, int]:
    if not ButtonForm().validate():
        abort(400)
    user = _account(staff_id)
    try:
        duties.resend_enrolment(db.session(), user, utcnow(), by=me(), domain=_domain())
    except staff_accounts.AccountError as error:
        return _refused(error)
    db.session.commit()
    flash(_("A new enrolment link is on its way to %(email)s.", email=user.email))
    return redirect(url_for("staff.accounts"), 303)


def _decide(staff_id: int, grant: bool) -> Response | tuple[str, int]:
    if not ButtonForm().validate():
        abort(400)
    user = _account(staff_id)
    role = ROLE_LABELS.get(user.pending_role or "", "")
    try:
        if grant:
            duties.confirm(db.session(), user, utcnow(), by=me(), domain=_domain())
        else:
            duties.refuse(db.session(), user, utcnow(), by=me())
    except staff_accounts.AccountError as error:
        return _refused(error)
    db.session.commit()
    if grant:
        flash(_("%(email)s now holds the role of %(role)s.", email=user.email, role=role))
    else:
        flash(_("The role of %(role)s for %(email)s is refused.", email=user.email, role=role))
    return redirect(url_for("staff.accounts"), 303)


@bp.post("/accounts/<int:staff_id>/confirm")
@requires(roles.CONFIRM_DPO)
def accounts_confirm(staff_id: int) -> Response | tuple[str, int]:
    return _decide(staff_id, grant=True)


@bp.post("/accounts/<int:staff_id>/refuse")
@requires(roles.CONFIRM_DPO)
def accounts_refuse(staff_id: int) -> Response | tuple[str, int]:
    return _decide(staff_id, grant=False)


@bp.post("/accounts/<int:staff_id>/disable")
@requires(roles.MANAGE_STAFF)
def accounts_disable(staff_id: int) -> Response | str | tuple[str, int]:
    form = DisableStaffForm()
    if not form.validate():
        abort(400)
    user = _account(staff_id)
    if user.id == me().id:
        error = _("You cannot disable your own account. Ask another administrator to do it.")
        return _page(error=error), 403
    if not user.is_active:
        flash(_("The account %(email)s is already disabled.", email=user.email))
        return redirect(url_for("staff.accounts"), 303)
    if form.confirm.data != "yes":
        return _page(confirm=user)
    staff_accounts.disable(db.session(), user.email, utcnow(), actor=f"staff:{me().id}")
    db.session.commit()
    flash(_("The account %(email)s is disabled; its sessions have ended.", email=user.email))
    return redirect(url_for("staff.accounts"), 303)

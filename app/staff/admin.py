"""Staff accounts for administrators: list, create with an enrolment link, disable.

The enrolment link is shown once, on the page that answers the creation, and
never stored: only its hash is kept. Disabling asks for a confirmation first,
and an administrator cannot disable their own account (there would be no one
left to undo a mistake). ``app.staffing.accounts`` writes the audit events.
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
from app.models import STAFF_ROLES, StaffUser, utcnow
from app.services import services_of
from app.staff.access import me, requires
from app.staff.forms import REQUIRED, ROLE_LABELS
from app.staff.routes import bp
from app.staffing import accounts as staff_accounts
from app.staffing import roles

# Domain refusals of ``create_staff`` (reason codes): the field and the message.
CREATE_REFUSALS = {
    "email_taken": ("email", _l("An account with this email address already exists.")),
    "invalid_email": ("email", _l("Enter an email address such as name@example.org.")),
    "unknown_role": ("role", _l("Choose one of the roles in the list.")),
}


class CreateStaffForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(REQUIRED),
            Length(max=254, message=_l("Use at most 254 characters.")),
        ],
    )
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in STAFF_ROLES],
        # Checked below with our own message rather than WTForms' "Not a valid choice".
        validate_choice=False,
        validators=[AnyOf(STAFF_ROLES, message=_l("Choose one of the roles in the list."))],
    )


class DisableStaffForm(FlaskForm):
    """The list's button sends it without ``confirm``; the confirmation page sends ``yes``."""

    confirm = HiddenField()


def _page(
    form: CreateStaffForm | None = None,
    created: StaffUser | None = None,
    link: str | None = None,
    error: str | None = None,
    confirm: StaffUser | None = None,
) -> str:
    return render_template(
        "staff/accounts.html",
        staff=staff_accounts.list_staff(db.session()),
        form=form or CreateStaffForm(),
        disable_form=DisableStaffForm(),
        role_labels=ROLE_LABELS,
        me=me(),
        now=utcnow(),
        created=created,
        link=link,
        error=error,
        confirm=confirm,
    )


@bp.get("/accounts")
@requires(roles.MANAGE_STAFF)
def accounts() -> str:
    return _page()


@bp.post("/accounts")
@requires(roles.MANAGE_STAFF)
def accounts_create() -> str | tuple[str, int]:
    form = CreateStaffForm()
    if not form.validate():
        return _page(form=form), 422
    vault = services_of(current_app).vault
    try:
        user, token = staff_accounts.create_staff(
            db.session(), form.email.data, form.role.data, vault, utcnow(), f"staff:{me().id}"
        )
    except staff_accounts.AccountError as error:
        db.session.rollback()
        name, message = CREATE_REFUSALS.get(
            error.reason, ("email", _l("Please check this field."))
        )
        form[name].errors = [str(message)]
        return _page(form=form), 422
    db.session.commit()
    # Built from PORTAL_BASE_URL, never from the Host header, as `flask staff create` does.
    link = f"{current_app.config['PORTAL_BASE_URL']}/staff/enrol/{token}"
    # A fresh, empty form under the link: the next account starts from blank.
    return _page(form=CreateStaffForm(formdata=None), created=user, link=link)


@bp.post("/accounts/<int:staff_id>/disable")
@requires(roles.MANAGE_STAFF)
def accounts_disable(staff_id: int) -> Response | str | tuple[str, int]:
    form = DisableStaffForm()
    if not form.validate():
        abort(400)
    user = db.session.get(StaffUser, staff_id)
    if user is None:
        abort(404)
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

"""The forms staff fill in: sign-in, enrolment, change of password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

REQUIRED = _l("This field is required.")
# Domain refusals (app.staffing.accounts reason codes) as messages staff understand.
REASONS = {
    "password_too_short": _l("Use at least 12 characters."),
    "password_too_long": _l("Use at most 1024 characters."),
    "wrong_code": _l("This code is not valid: enter the code your app shows now."),
    "wrong_password": _l("This is not your current password."),
}


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)])
    code = StringField(_l("Code from your authenticator app"), validators=[DataRequired(REQUIRED)])


class EnrolForm(FlaskForm):
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("Type the password again"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
    )
    code = StringField(_l("Code from your authenticator app"), validators=[DataRequired(REQUIRED)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("Type the new password again"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", message=_l("The two passwords differ.")),
        ],
    )


class LogoutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST."""

"""The forms citizens fill in; every message is one a citizen understands, in their language."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from app.deadlines import receipt_date
from app.models import utcnow
from app.nir import NirError, normalize_nir
from app.public.memorable_date import MemorableDateField

KIND_CHOICES = [
    SelectChoice("access", _l("See my data")),
    SelectChoice("erasure", _l("Delete my data")),
    SelectChoice("objection", _l("Object to the reuse of my data for research")),
    SelectChoice("rectification", _l("Correct my data")),
    SelectChoice("portability", _l("Receive my data to take it elsewhere")),
]
KINDS = frozenset(choice.value for choice in KIND_CHOICES)
KIND_HELP = {
    "access": _l(
        "Get a copy of the health data held about you, where it comes from and who receives it."
    ),
    "erasure": _l(
        "Ask for your data to be deleted, except what the law obliges us to keep; "
        "we tell you what is kept and why."
    ),
    "objection": _l("Stop your data from being used in future research extracts."),
    "rectification": _l("Ask for data about you that is wrong or incomplete to be corrected."),
    "portability": _l("Receive the data you provided in a machine-readable file."),
}
NIR_MESSAGES = {
    "length": _l("A social security number has 15 characters, key included."),
    "characters": _l("A social security number holds only digits (and 2A or 2B for Corsica)."),
    "key": _l("This social security number is not valid: check the last two digits (the key)."),
    "sex": _l("This social security number is not valid: check its first digit."),
    "month": _l("This social security number is not valid: check the month of birth."),
}
NAME_PATTERN = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '’.\-])*$")
DETAILS_MAX = 2000


def _has_control_characters(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(c) in {"Cc", "Cf"} and c not in allowed for c in text)


def valid_name(form: FlaskForm, field: StringField) -> None:
    value = unicodedata.normalize("NFC", (field.data or "").strip())
    if _has_control_characters(value) or not NAME_PATTERN.match(value):
        raise ValidationError(
            _l("Use letters only, with spaces, hyphens or apostrophes if your name has them.")
        )
    field.data = value


def safe_email(form: FlaskForm, field: EmailField) -> None:
    # Line breaks in an address are how headers get injected into an email.
    if _has_control_characters(field.data or ""):
        raise ValidationError(_l("Enter an email address such as name@example.fr."))


def _paris_today() -> date:
    # The requester's calendar is Paris's, whatever zone the server runs in.
    return receipt_date(utcnow())


def valid_nir(form: FlaskForm, field: StringField) -> None:
    if not field.data:
        field.data = None
        return
    try:
        field.data = normalize_nir(field.data)
    except NirError as error:
        raise ValidationError(NIR_MESSAGES[error.code]) from None


def plain_text(form: FlaskForm, field: TextAreaField) -> None:
    if _has_control_characters(field.data or "", allowed="\n\r\t"):
        raise ValidationError(_l("Remove special characters from this text."))


def email_validators() -> list[object]:
    """The checks every email field makes, in the order a citizen should hear them."""
    return [
        DataRequired(_l("Enter your email address.")),
        Length(max=254, message=_l("Enter at most %(max)d characters.")),
        safe_email,
        Email(_l("Enter an email address such as name@example.fr."), check_deliverability=False),
    ]


class RequestForm(FlaskForm):
    """The public form: which right, and what we need to find the person in our sources."""

    kind = RadioField(
        _l("What do you want to do?"),
        choices=KIND_CHOICES,
        validators=[InputRequired(_l("Choose what you want to do."))],
        validate_choice=False,
    )
    first_name = StringField(
        _l("First name"),
        validators=[
            DataRequired(_l("Enter your first name.")),
            Length(max=100, message=_l("Enter at most %(max)d characters.")),
            valid_name,
        ],
    )
    last_name = StringField(
        _l("Last name"),
        validators=[
            DataRequired(_l("Enter your last name.")),
            Length(max=100, message=_l("Enter at most %(max)d characters.")),
            valid_name,
        ],
    )
    birth_date = MemorableDateField(_l("Date of birth"), today=_paris_today)
    email = EmailField(
        _l("Email address"),
        validators=email_validators(),
    )
    nir = StringField(
        _l("Social security number (optional)"),
        validators=[
            Optional(),
            Length(max=25, message=_l("Enter at most %(max)d characters.")),
            valid_nir,
        ],
    )
    details = TextAreaField(
        _l("Anything that helps us find your data (optional)"),
        validators=[
            Optional(),
            Length(max=DETAILS_MAX, message=_l("Enter at most %(max)d characters.")),
            plain_text,
        ],
    )

    def validate_kind(self, field: RadioField) -> None:
        # WTForms' own message for an unknown choice is in English only.
        if field.data not in KINDS:
            raise ValidationError(_l("Choose what you want to do."))


class CheckForm(FlaskForm):
    """The check page: the signed answers, and the one to change (none: send them)."""

    answers = HiddenField(validators=[DataRequired(), Length(max=20_000)])
    change = StringField(validators=[Optional(), Length(max=50)])


class ConfirmForm(FlaskForm):
    """A button that performs the action a link announced (GET shows, POST acts)."""


class DocumentForm(FlaskForm):
    """One identity document; what it is, is decided from its content (app.identity.documents)."""

    document = FileField(
        _l("Your identity document"),
        validators=[FileRequired(_l("Select the file of your identity document."))],
    )


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand that my request will be closed and not answered."),
        validators=[DataRequired(_l("Tick the box to confirm that you want to withdraw."))],
    )


class EmailOnlyForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=email_validators(),
    )


class ResendForm(FlaskForm):
    """Sent from the page of an expired link: the link itself says which request."""

    token = StringField(validators=[DataRequired(), Length(max=500)])


class AnswerForm(FlaskForm):
    answer = TextAreaField(
        _l("Your answer"),
        validators=[
            DataRequired(_l("Write your answer before sending it.")),
            Length(max=5000, message=_l("Your answer is too long: at most 5,000 characters.")),
        ],
    )


class BirthDateForm(FlaskForm):
    """The second check before a download: the requester's date of birth."""

    birth_date = MemorableDateField(_l("Your date of birth"), today=_paris_today)

"""The forms citizens fill in; every message is one a citizen understands, in their language."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

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
    StopValidation,
    ValidationError,
)

from app.deadlines import receipt_date
from app.models import HEIR_REASONS, utcnow
from app.nir import NirError, normalize_nir
from app.public.memorable_date import DEATH, MemorableDateField

KIND_CHOICES = [
    SelectChoice("access", _l("See my data")),
    SelectChoice("erasure", _l("Delete my data")),
    SelectChoice("objection", _l("Object to the reuse of my data for research")),
    SelectChoice("rectification", _l("Correct my data")),
    SelectChoice("portability", _l("Receive my data to take it elsewhere")),
]
KINDS = frozenset(choice.value for choice in KIND_CHOICES)
# The same answers as the check page reads them back for a request made for someone else.
KIND_FOR_OTHER = {
    "access": _l("See the data of the person you act for"),
    "erasure": _l("Delete the data of the person you act for"),
    "objection": _l("Object to research reuse of the data of the person you act for"),
    "rectification": _l("Correct the data of the person you act for"),
    "portability": _l("Receive the data of the person you act for to take it elsewhere"),
}
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
FOR_WHOM_CHOICES = [
    SelectChoice("self", _l("For myself")),
    SelectChoice("other", _l("For someone else")),
]
RELATIONSHIP_CHOICES = [
    SelectChoice("parent", _l("Parent of a minor child")),
    SelectChoice("guardian", _l("Guardian of a protected adult (tutelle)")),
    SelectChoice("mandatary", _l("Holder of a written mandate from the person")),
    SelectChoice("heir", _l("Heir of a deceased person")),
    SelectChoice("partner", _l("Spouse, civil partner (Pacs) or cohabitant of a deceased person")),
]
REPRESENTATIVES = frozenset(choice.value for choice in RELATIONSHIP_CHOICES)
# The relationships of a deceased person's relatives: a date of death and a reason.
DECEASED = frozenset({"heir", "partner"})
REASON_CHOICES = [
    SelectChoice("causes_of_death", _l("To know the causes of death")),
    SelectChoice("defend_memory", _l("To defend the memory of the deceased person")),
    SelectChoice("assert_rights", _l("To assert your own rights")),
]
ADULT_AGE = 18
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


def _for_other(form: FlaskForm) -> bool:
    return bool(getattr(form, "for_other", False))


def _for_deceased(form: FlaskForm) -> bool:
    return _for_other(form) and form.acts_as.data in DECEASED


def requester_name(message: Any) -> Any:
    """A name of the requester's own: read only when the request is for someone else."""

    def check(form: FlaskForm, field: StringField) -> None:
        if not _for_other(form):
            field.errors = []
            field.data = None
            raise StopValidation()
        if not (field.data or "").strip():
            raise StopValidation(message)
        if len(field.data) > 100:
            raise StopValidation(_l("Enter at most %(max)d characters.") % {"max": 100})
        valid_name(form, field)

    return check


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


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
    # Who asks (docs/legal.md, "Requests made for someone else"): the fields are always on
    # the page, in a fieldset of their own, and read only when it is for someone else.
    for_whom = RadioField(
        _l("Who is this request for?"),
        choices=FOR_WHOM_CHOICES,
        default="self",
        validate_choice=False,
    )
    acts_as = RadioField(
        _l("How are you related to the person?"),
        choices=RELATIONSHIP_CHOICES,
        validate_choice=False,
    )
    died_on = MemorableDateField(
        _l("Date of death"), today=_paris_today, messages=DEATH, applies=_for_deceased
    )
    heir_reason = RadioField(
        _l("Why do you ask for the deceased person's data?"),
        choices=REASON_CHOICES,
        validate_choice=False,
    )
    requester_first_name = StringField(
        _l("Your first name"), validators=[requester_name(_l("Enter your first name."))]
    )
    requester_last_name = StringField(
        _l("Your last name"), validators=[requester_name(_l("Enter your last name."))]
    )
    requester_birth_date = MemorableDateField(
        _l("Your date of birth"), today=_paris_today, applies=_for_other
    )
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

    @property
    def for_other(self) -> bool:
        return self.for_whom.data == "other"

    def validate_kind(self, field: RadioField) -> None:
        # WTForms' own message for an unknown choice is in English only.
        if field.data not in KINDS:
            raise ValidationError(_l("Choose what you want to do."))

    def validate_for_whom(self, field: RadioField) -> None:
        if not field.data:
            field.data = "self"
        if field.data not in ("self", "other"):
            raise ValidationError(_l("Choose who this request is for."))

    def validate_birth_date(self, field: MemorableDateField) -> None:
        minor = field.data is None or _age_on(field.data, _paris_today()) < ADULT_AGE
        if self.for_other and self.acts_as.data == "parent" and not minor:
            raise ValidationError(
                _l(
                    "A parent can ask only for a child under 18. An adult makes their own "
                    "request, or gives you a written mandate."
                )
            )

    def validate_acts_as(self, field: RadioField) -> None:
        if not self.for_other:
            field.data = None
            return
        if field.data not in REPRESENTATIVES:
            raise ValidationError(_l("Choose how you are related to the person."))
        # A right the relationship may not exercise is refused here, with the reason.
        from flask import current_app
        from flask_babel import get_locale

        from app.services import services_of

        representation = services_of(current_app).representation
        if self.kind.data in KINDS and not representation.may_exercise(field.data, self.kind.data):
            relationship = representation.of(field.data)
            assert relationship is not None
            raise ValidationError(relationship.refusal.in_(str(get_locale() or "fr")))

    def validate_died_on(self, field: MemorableDateField) -> None:
        born = self.birth_date.data
        if field.data is not None and isinstance(born, date) and field.data < born:
            raise ValidationError(_l("The date of death cannot be before the date of birth."))

    def validate_heir_reason(self, field: RadioField) -> None:
        if not _for_deceased(self):
            field.data = None
            return
        if field.data not in HEIR_REASONS:
            raise ValidationError(_l("Choose why you ask for the deceased person's data."))


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


class ProofForm(FlaskForm):
    """One document proving a relationship: which proof (a code), and the file."""

    proof = HiddenField(
        validators=[DataRequired(_l("Choose which document you are sending.")), Length(max=40)]
    )
    document = FileField(
        _l("The document"),
        validators=[FileRequired(_l("Select the file of the document."))],
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

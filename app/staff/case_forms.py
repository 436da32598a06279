"""The forms on the case page. Each carries the case's version (stale-form check)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from app.casework import cases, decisions
from app.staff.forms import REQUIRED

QUESTION_LABELS = {
    "information": _l("Information needed to answer the request"),
    "identity": _l("Proof of identity (the deadline is suspended until the answer)"),
}


class CaseForm(FlaskForm):
    """A decision button: only the CSRF token and the version the page showed."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class ApproveForm(CaseForm):
    # Required by the domain only past one month from receipt (app.casework.refusal_window).
    late_justification = TextAreaField(
        _l(
            "Why this refusal goes out after the month (written justification, kept with the case)"
        ),
        validators=[Length(max=cases.NOTE_MAX)],
    )
    # Empty on the case page's button, which shows what the approval will do;
    # "yes" on the confirmation page's, which does it (app.staff.approval_views).
    confirm = HiddenField()


class AssignForm(CaseForm):
    assignee = SelectField(_l("Give the case to"), coerce=int, validators=[InputRequired()])


class NoteForm(FlaskForm):
    text = TextAreaField(
        _l("Internal note (never shown to the requester)"),
        validators=[DataRequired(REQUIRED), Length(max=cases.NOTE_MAX)],
    )


class RefuseForm(CaseForm):
    ground = SelectField(_l("Ground for refusal"), validators=[DataRequired(REQUIRED)])
    message = TextAreaField(
        _l("Message to the requester (optional)"),
        validators=[Length(max=decisions.REFUSAL_MESSAGE_MAX)],
    )


class AskForm(CaseForm):
    kind = SelectField(
        _l("What you ask for"),
        choices=[SelectChoice(k, v) for k, v in QUESTION_LABELS.items()],
        validators=[DataRequired(REQUIRED)],
    )
    question = TextAreaField(
        _l("Your question, as the requester will read it on their page"),
        validators=[DataRequired(REQUIRED), Length(max=2000)],
    )


class ExtendForm(CaseForm):
    ground = SelectField(_l("Reason told to the requester"), validators=[DataRequired(REQUIRED)])


class UnfoundedForm(CaseForm):
    ground = SelectField(_l("Decision"), validators=[DataRequired(REQUIRED)])
    justification = TextAreaField(
        _l("Written justification (kept with the case)"),
        validators=[DataRequired(REQUIRED), Length(max=cases.NOTE_MAX)],
    )


class DocumentForm(CaseForm):
    """A decision on the identity document the page showed (its id, the case's version)."""

    document_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class DocumentRefuseForm(DocumentForm):
    """Another file is asked for, with a reason the requester reads (its choices: the view's)."""

    reason = SelectField(
        _l("Why another document is needed (the requester reads it)"),
        validators=[DataRequired(REQUIRED)],
    )


class ThirdPartyForm(CaseForm):
    """The third-party review: mask a passage of one record, unmask one, or finish."""

    action = HiddenField(validators=[AnyOf(("mask", "unmask", "done"))])
    source = HiddenField(validators=[Length(max=80)])
    table = HiddenField(validators=[Length(max=80)])
    key = HiddenField(validators=[Length(max=80)])
    column = HiddenField(validators=[Length(max=80)])
    # Its length is checked by the domain, which says so (third_parties.PASSAGE_MAX).
    passage = TextAreaField(_l("Passage to mask, copied exactly from the text"))
    # Set by selecting the passage in the text (scripts on); empty: every occurrence.
    start = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(min=0)])
    redaction = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(min=1)])

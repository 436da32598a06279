"""Domain refusals as staff read them: one mapping from reason codes to messages.

The case page and the correction screen run their decisions through
``attempt``: a role or holder refusal is a 403 page, a refusal by the rules
re-shows the page with the reason (422), a lost race re-shows it with the
view's own explanation (409). Every message is in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app import lifecycle
from app.casework import cases
from app.extensions import db
from app.fulfilment import rectification

# app.casework.cases reason codes.
REASONS = {
    "not_open": _l("This request is closed: nothing more can be decided on it."),
    "already_held": _l("Someone else holds this case."),
    "already_yours": _l("You already hold this case."),
    "not_held": _l("Nobody holds this case."),
    "cannot_hold": _l("This person cannot work on cases."),
    "decision_pending": _l(
        "A decision is waiting for approval: approve it or send it back first."
    ),
    "wrong_status": _l("This action is not possible in the case's current status."),
    "identity_in_doubt": _l("The requester's identity is still in doubt: resolve it first."),
    "plan_refuses": _l(
        "The plan refuses this request (a request made for someone else that the law does "
        "not allow): it can only be refused, with the ground the plan gives."
    ),
    "identity_not_proven": _l(
        "The requester's identity is not proven to the level this right needs: it can be "
        "approved once they sign in with FranceConnect or a document is accepted."
    ),
    "disputed": _l(
        "The person on file said this request was not theirs: it can only be refused or withdrawn."
    ),
    "no_document": _l(
        "This identity document is no longer waiting: someone decided on it meanwhile."
    ),
    "no_proof": _l("This document is no longer waiting: someone decided on it meanwhile."),
    "not_for_someone_else": _l(
        "This request is the person's own: it takes no proof of relationship."
    ),
    "unknown_document_reason": _l("Choose why another document is needed from the list."),
    "unknown_ground": _l("Choose a ground from the list."),
    "unknown_decision": _l("Choose a decision from the list."),
    "unknown_question": _l("Choose what you ask for from the list."),
    "nothing_prepared": _l("No decision is waiting for approval."),
    "needs_preparation": _l(
        "An erasure is approved by a data protection officer after someone prepares it."
    ),
    "empty_text": _l("Write the text first."),
    "text_too_long": _l("The text is too long."),
    "already_extended": _l("The deadline has already been extended once."),
    "medical_deadline": _l(
        "This request follows the Public Health Code's deadline, which cannot be extended."
    ),
    "extension_too_late": _l(
        "The first month has ended: the law no longer allows an extension (GDPR Art. 12(3))."
    ),
    "refusal_late": _l(
        "More than one month has passed since receipt: a refusal now needs a data protection "
        "officer's written justification (GDPR Art. 12(4))."
    ),
    "third_parties_unreviewed": _l(
        "Letters and notes in this plan may name other people: read them in “Other "
        "people in the records” below, mask what concerns third parties, and say that the "
        "review is done. The package can be approved after that."
    ),
    "passage_empty": _l("Copy the passage to mask from the text first."),
    "passage_too_long": _l(
        "This passage is too long: mask a sentence or a paragraph at a time (at most 2,000 "
        "characters)."
    ),
    "passage_not_found": _l(
        "This passage is not in the record's text: copy it exactly as it is written there "
        "(same letters, accents and spaces). Nothing was masked."
    ),
    "unknown_review_record": _l("This record is not one of the plan’s records to review."),
    "unknown_redaction": _l("This masked passage is no longer recorded: nothing was changed."),
    "nothing_to_review": _l("This plan discloses no letter or note that needs a review."),
    "already_reviewed": _l("The review is already done for this plan."),
    "still_ambiguous": _l(
        "Several people in the sources still fit this identity: ask the requester for "
        "information or refuse the request."
    ),
}
# app.fulfilment.rectification reason codes; ``%(field)s`` names the input at fault.
CORRECTION_REASONS = {
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
# app.casework.cases.Forbidden reason codes.
FORBIDDEN = {
    "four_eyes": _l("You prepared this decision: another data protection officer approves it."),
    "dpo_required": _l("Only a data protection officer can approve this decision."),
    "not_holder": _l("Only the person who holds this case can do this."),
    "not_preparer": _l(
        "Only who prepared this decision, or a data protection officer, can withdraw it."
    ),
    "role": _l("Your role does not allow this action."),
}


def message(refusal: cases.CaseError) -> str:
    """What a refusal by the rules says to staff; an unknown code is shown as it is."""
    if isinstance(refusal, rectification.RectifyError):
        text = CORRECTION_REASONS.get(refusal.reason) or REASONS.get(refusal.reason)
        return str(text or refusal.reason) % {"field": refusal.field or ""}
    return str(REASONS.get(refusal.reason, refusal.reason))


def forbidden_page(refusal: cases.Forbidden) -> tuple[str, int]:
    text = str(FORBIDDEN.get(refusal.reason, FORBIDDEN["role"]))
    return render_template("errors/error.html", code=403, title=_("Forbidden"), message=text), 403


# What re-shows the page after a refusal: the refusal, its message, the status code.
Reshow = Callable[[Exception, str, int], tuple[str, int]]


def attempt(
    act: Callable[[], object],
    reshow: Reshow,
    stale: Callable[[lifecycle.StaleRequest], str],
) -> Response | tuple[str, int] | None:
    """Run one decision; None when done (the caller commits), else the answer to give.

    Any refusal rolls the session back first: nothing of the decision is kept.
    """
    try:
        act()
    except cases.Forbidden as refusal:
        db.session.rollback()
        return forbidden_page(refusal)
    except cases.CaseError as refusal:
        db.session.rollback()
        return reshow(refusal, message(refusal), 422)
    except lifecycle.StaleRequest as error:
        db.session.rollback()
        return reshow(error, stale(error), 409)
    return None

"""Words shown to people for the portal's codes, in their language."""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

KIND_LABELS = {
    "access": _l("Access to my data"),
    "portability": _l("Portability of my data"),
    "erasure": _l("Erasure of my data"),
    "objection": _l("Objection to research reuse"),
    "rectification": _l("Rectification of my data"),
}
# The same rights as a parent, a guardian, a mandatary or an heir reads them: the data is
# the person's, not the requester's (app.rules.representation).
KIND_LABELS_FOR_OTHER = {
    "access": _l("Access to the data of the person you act for"),
    "portability": _l("Portability of the data of the person you act for"),
    "erasure": _l("Erasure of the data of the person you act for"),
    "objection": _l("Objection to research reuse of the data of the person you act for"),
    "rectification": _l("Rectification of the data of the person you act for"),
}


def kind_label(kind: str, acts_as: str | None) -> LazyString:
    """The right as the requester reads it: theirs, or that of the person they act for."""
    table = KIND_LABELS if acts_as in (None, "self") else KIND_LABELS_FOR_OTHER
    return table[kind]


STATUS_LABELS = {
    "unverified": _l("Waiting for email confirmation"),
    "received": _l("Received"),
    "awaiting_identity": _l("Waiting for proof of your identity"),
    # Not a status (app.identity.assurance.shown_status): identity proven, relationship not.
    "awaiting_relationship": _l(
        "Waiting for the documents proving your relationship to the person"
    ),
    "identity_review": _l("Identity being checked"),
    "triage": _l("Being examined"),
    "in_review": _l("Being examined"),
    "awaiting_requester": _l("Waiting for information from you"),
    "approved": _l("Approved, being carried out"),
    "fulfilling": _l("Being carried out"),
    "completed": _l("Completed"),
    "denied": _l("Refused"),
    "expired": _l("Expired (email never confirmed)"),
    "withdrawn": _l("Withdrawn"),
}
# Staff roles (app.staffing.roles), as staff pages and staff emails name them.
ROLE_LABELS = {
    "agent": _l("agent"),
    "dpo": _l("data protection officer"),
    "admin": _l("administrator"),
}
ACTION_LABELS = {
    "disclose": _l("A copy will be given to you"),
    "erase": _l("Will be erased"),
    "retain": _l("Kept"),
    "exclude_from_reuse": _l("Left out of research reuse"),
    "rectify": _l("Corrected where inaccurate"),
    "refer": _l("Handled by another organisation"),
    "withhold": _l("Not sent to you: it does not serve the reason you gave"),
    "secret": _l("Not sent to you"),
}
# Refusal grounds (app.casework.cases.REFUSAL_GROUNDS): the reason given to the
# requester, with the article it rests on.
REFUSAL_LABELS = {
    "identity_not_established": _l(
        "We could not establish that the data we hold is about you (GDPR Art. 11(2) and 12(6))."
    ),
    "manifestly_unfounded": _l(
        "Your request is manifestly unfounded, as our data protection officer has "
        "decided and recorded (GDPR Art. 12(5))."
    ),
    "excessive": _l(
        "Your request is excessive, in particular because of its repetitive character, as "
        "our data protection officer has decided and recorded (GDPR Art. 12(5))."
    ),
    "legal_obligation": _l(
        "The law obliges us to keep this data, or we hold it for a task in the public "
        "interest (GDPR Art. 17(3)(b))."
    ),
    "public_health": _l(
        "We hold this data for reasons of public interest in the area of public health "
        "(GDPR Art. 17(3)(c))."
    ),
    "research": _l(
        "Erasing this data would make research in the public interest impossible or "
        "seriously impair it (GDPR Art. 17(3)(d) and 21(6))."
    ),
    "legal_claims": _l(
        "We need this data to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))."
    ),
    "third_party_rights": _l(
        "Giving this data would adversely affect the rights and freedoms of other people "
        "(GDPR Art. 15(4))."
    ),
    "data_accurate": _l(
        "After checking, the data you asked us to correct is accurate (GDPR Art. 16)."
    ),
    "representative_not_entitled": _l(
        "The law does not let you exercise this right for the person you act for "
        "(GDPR Art. 12(2); Public Health Code, L.1110-4 V and R.1111-7)."
    ),
    "refused_during_life": _l(
        "During their lifetime the person refused to let their relatives see their health "
        "data after their death (Public Health Code, L.1110-4 V)."
    ),
}
EXTENSION_LABELS = {
    "complexity": _l("your request is complex"),
    "number_of_requests": _l("we have received a large number of requests"),
}
# Identity assurance levels (app.identity), as the case page and the queue name them.
ASSURANCE_LABELS = {
    "none": _l("Not verified"),
    "email": _l("Email address only"),
    "contact_match": _l("Address on file"),
    "oidc": _l("FranceConnect sign-in"),
    "document": _l("Identity document checked"),
}
# Why staff ask for another identity document (app.identity.documents.REFUSAL_REASONS),
# as the requester reads it on the page and in the email.
DOCUMENT_REASON_LABELS = {
    "unreadable": _l("the document cannot be read (blurred, too dark, or cut off)"),
    "expired": _l("the document has expired"),
    "other_person": _l("the document is in another person's name"),
    "not_identity": _l("the file is not an identity document"),
    "incomplete": _l("part of the document is missing (for example the other side of the card)"),
}
# Why staff ask for another document proving a relationship (app.identity.relationship).
PROOF_REASON_LABELS = {
    "unreadable": _l("the document cannot be read (blurred, too dark, or cut off)"),
    "incomplete": _l("part of the document is missing (for example a page)"),
    "wrong_document": _l("the file is not the document asked for"),
    "other_person": _l("the document does not name you or the person you ask for"),
    "expired": _l(
        "the document is no longer valid (for example a mandate or a judgment that has ended)"
    ),
}
# Where a proof of a relationship (or the relationship as a whole) stands.
PROOF_STATE_LABELS = {
    "awaited": _l("Awaited"),
    "submitted": _l("Sent, to be checked"),
    "accepted": _l("Accepted"),
    "refused": _l("Refused, another document asked for"),
}
# The same codes as staff pages word them: about the requester, not as the requester,
# and every status told apart from the others (the public pages keep the labels above).
STAFF_KIND_LABELS = {
    "access": _l("Right of access"),
    "portability": _l("Right to data portability"),
    "erasure": _l("Right to erasure"),
    "objection": _l("Right to object to research reuse"),
    "rectification": _l("Right to rectification"),
}
STAFF_STATUS_LABELS = {
    "unverified": _l("Email address not confirmed yet"),
    "received": _l("Received, plan being computed"),
    "awaiting_identity": _l("Waiting for the requester's proof of identity"),
    "awaiting_relationship": _l(
        "Waiting for the documents proving the requester's relationship to the person"
    ),
    "identity_review": _l("Identity to check"),
    "triage": _l("Waiting to be claimed"),
    "in_review": _l("In review"),
    "awaiting_requester": _l("Waiting for the requester's answer"),
    "approved": _l("Approved, about to be carried out"),
    "fulfilling": _l("Being carried out"),
    "completed": _l("Completed"),
    "denied": _l("Refused"),
    "expired": _l("Expired (email never confirmed)"),
    "withdrawn": _l("Withdrawn by the requester"),
}
STAFF_ACTION_LABELS = {
    "disclose": _l("Released to the requester"),
    "erase": _l("Erased"),
    "retain": _l("Kept"),
    "exclude_from_reuse": _l("Left out of research reuse"),
    "rectify": _l("Corrected where inaccurate"),
    "refer": _l("Handled by another organisation"),
    "withhold": _l("Not sent: outside the requester's stated reason (heir or partner)"),
    "secret": _l("Not sent: kept secret from the parents by the minor (CSP L.1111-5)"),
}

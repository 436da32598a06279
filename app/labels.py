"""Words shown to people for the portal's codes, in their language."""

from flask_babel import lazy_gettext as _l

KIND_LABELS = {
    "access": _l("Access to my data"),
    "portability": _l("Portability of my data"),
    "erasure": _l("Erasure of my data"),
    "objection": _l("Objection to research reuse"),
    "rectification": _l("Rectification of my data"),
}
STATUS_LABELS = {
    "unverified": _l("Waiting for email confirmation"),
    "received": _l("Received"),
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
ACTION_LABELS = {
    "disclose": _l("A copy will be given to you"),
    "erase": _l("Will be erased"),
    "retain": _l("Kept"),
    "exclude_from_reuse": _l("Left out of research reuse"),
    "rectify": _l("Corrected where inaccurate"),
    "refer": _l("Handled by another organisation"),
}

"""The "check your answers" step: the form's answers carried to the page that sends them.

Nothing is written before the requester presses "Send": the answers travel in a
hidden field of the check page, signed (itsdangerous, a salt of their own, an
age limit) so that a changed value is refused rather than filed, and read again
through the same form, with the same checks, when they come back. The page is
served ``no-store`` like every page (app.security_headers).
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

SALT = "check-answers"
# Long enough to read the page and fetch a card from a drawer; the form is filled again after.
MAX_AGE = 3600
# What the public form sends, the three boxes of the date of birth included.
FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "birth_date-day",
    "birth_date-month",
    "birth_date-year",
    "email",
    "nir",
    "details",
    # A request made for someone else (read only when ``for_whom`` is "other").
    "for_whom",
    "acts_as",
    "died_on-day",
    "died_on-month",
    "died_on-year",
    "heir_reason",
    "requester_first_name",
    "requester_last_name",
    "requester_birth_date-day",
    "requester_birth_date-month",
    "requester_birth_date-year",
)


def _serializer(secret_key: str, fallbacks: Any = ()) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer([*reversed(list(fallbacks)), secret_key], salt=SALT)


def seal(answers: MultiDict[str, str], secret_key: str) -> str:
    """The signed text of the form's answers, for the check page's hidden field."""
    return _serializer(secret_key).dumps({name: answers.get(name, "") for name in FIELDS})


def unseal(
    text: str, secret_key: str, fallbacks: Any = (), max_age: int = MAX_AGE
) -> MultiDict[str, str] | None:
    """The answers, as a form would send them; None if changed, too old or not ours."""
    try:
        data = _serializer(secret_key, fallbacks).loads(text, max_age=max_age)
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or set(data) != set(FIELDS):
        return None
    if not all(isinstance(value, str) for value in data.values()):
        return None
    return MultiDict(data)

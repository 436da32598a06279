"""Validation and masking of the French social-security number (NIR).

The NIR (numéro d'inscription au répertoire) has 13 characters followed by a
2-digit control key: sex/status digit, birth year, birth month, department
(``2A``/``2B`` for Corsica), commune and order number.

A well-formed NIR is never proof of identity on its own: it is printed on the
carte Vitale and shared with dependants (children or a spouse may be covered
under the insured person's number), so others in the household can know it.
Use it to locate records, never to authenticate a requester.

Error messages never contain the number, so a NirError may be logged safely.
"""

from typing import Literal

NirErrorCode = Literal["length", "characters", "key", "sex", "month"]

_MESSAGES: dict[NirErrorCode, str] = {
    "length": "a social-security number has 15 characters",
    "characters": "a social-security number has only digits, and 2A or 2B for Corsica",
    "key": "the control key does not match the number",
    "sex": "the first digit must be 1, 2, 3, 4, 7 or 8",
    "month": "the birth month is not valid",
}

# Only ASCII digits: str.isdigit() would also accept "²" or Arabic-Indic digits.
_DIGITS = frozenset("0123456789")
_ALLOWED = _DIGITS | {"A", "B"}
# Corsica was split into 2A and 2B in 1976; INSEE reads them as 19 and 18 for
# the key, so the body can still be taken as a number.
_CORSICA = {"2A": "19", "2B": "18"}
_SEX_DIGITS = frozenset("123478")
# INSEE uses 20-42 and 50-99 as fictitious months when the birth month is
# unknown; rejecting them would lock real people out, so the check stays
# permissive and refuses only 00, 13-19 and 43-49.
_VALID_MONTHS = frozenset([*range(1, 13), *range(20, 43), *range(50, 100)])


class NirError(ValueError):
    """An invalid NIR; ``code`` tells the form layer which message to show."""

    def __init__(self, code: NirErrorCode) -> None:
        super().__init__(_MESSAGES[code])
        self.code: NirErrorCode = code


def _is_digits(text: str) -> bool:
    return bool(text) and all(char in _DIGITS for char in text)


def _body_as_int(first13: str) -> int:
    body = first13.upper()
    if len(body) != 13:
        raise NirError("length")
    department = body[5:7]
    department = _CORSICA.get(department, department)
    digits = body[:5] + department + body[7:]
    if not _is_digits(digits):
        raise NirError("characters")
    return int(digits)


def nir_key(first13: str) -> int:
    """Return the control key (1-97) of the first 13 characters of a NIR.

    Accepts ``2A``/``2B`` (either case) in the department position; raises
    NirError for anything else that is not 13 digits.
    """
    return 97 - _body_as_int(first13) % 97


def normalize_nir(raw: str) -> str:
    """Return the canonical 15-character upper-case NIR, or raise NirError.

    Spaces are ignored, as people copy the number from the carte Vitale where
    it is printed in groups; any other separator is an error.
    """
    compact = raw.replace(" ", "").upper()
    # Checked before the length so that "2.55.08..." is reported as a bad
    # character rather than as a confusing wrong length.
    if not set(compact) <= _ALLOWED:
        raise NirError("characters")
    if len(compact) != 15:
        raise NirError("length")
    key_text = compact[13:]
    if not _is_digits(key_text):
        raise NirError("characters")
    # Also rejects letters outside the department, before any field is read
    # as a number below.
    expected_key = nir_key(compact[:13])
    if compact[0] not in _SEX_DIGITS:
        raise NirError("sex")
    if int(compact[3:5]) not in _VALID_MONTHS:
        raise NirError("month")
    if int(key_text) != expected_key:
        raise NirError("key")
    return compact


def mask_nir(nir: str) -> str:
    """Return a display form such as ``2 55 08 ** *** *** 38``.

    Shows the sex digit, birth year, birth month and key, enough for a person
    to recognise their own number; department, commune and order number are
    hidden. Raises NirError if ``nir`` is not a valid NIR.
    """
    canonical = normalize_nir(nir)
    return f"{canonical[0]} {canonical[1:3]} {canonical[3:5]} ** *** *** {canonical[13:]}"

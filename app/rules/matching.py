"""Strict subject matching: find the requester in a source, never by a guess.

Rules (docs/legal.md, "Identity"):

* with a social-security number: the number plus the birth date, and the
  names must agree; a number also held by someone born on another day (a
  dependant covered under it) sends the request to a person, never to a
  choice made here;
* without one, or when the source holds no such number: the normalised last
  and first names, the birth date and the email address;
* nothing found is the "no data found" answer; more than one candidate, or a
  candidate that agrees on some identifiers and not others, goes to manual
  identity review with a reason code.

``choose`` is pure, so every case is tested without a database. Reason codes
name the situation only: identity values never leave this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from app.identity.addresses import same_address

MATCHED, NO_MATCH, REVIEW = "matched", "no_match", "review"
REASONS = (
    "shared_number",  # the number is also held by someone born on another day
    "number_birth_date_mismatch",  # the number exists, but not with this birth date
    "name_mismatch",  # number and birth date agree, the names do not
    "several_candidates",  # more than one person fits every identifier
    "number_mismatch",  # names, birth date and email agree, the number differs
    "email_unconfirmed",  # names and birth date agree; the source has no email to confirm
    "email_differs",  # names and birth date agree; the source has another email
)
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—'’ʼ`´.]+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


@dataclass(frozen=True)
class Applicant:
    """Who the requester says they are."""

    last_name: str
    first_name: str
    birth_date: date
    email: str
    nir: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A person of a source's identity table."""

    key: Any
    last_name: str | None
    first_name: str | None
    birth_date: date | None
    email: str | None = None
    nir: str | None = None


@dataclass(frozen=True)
class Match:
    outcome: str
    key: Any = None
    reason: str | None = None
    # The contact address the source holds for the person found (routing compares
    # it with the proven one, ``app.identity.contact``); it never leaves the worker.
    contact: str | None = None


@lru_cache(maxsize=4096)
def normalize_name(name: str | None) -> str:
    """Fold case, accents, ligatures, spaces, hyphens, apostrophes: "N’Diaye" == "NDIAYE"."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _SEPARATORS.sub("", text.casefold())


def _names_agree(candidate: Candidate, applicant: Applicant) -> bool:
    return normalize_name(candidate.last_name) == normalize_name(
        applicant.last_name
    ) and normalize_name(candidate.first_name) == normalize_name(applicant.first_name)


def choose(
    applicant: Applicant,
    by_number: Sequence[Candidate],
    by_birth_date: Sequence[Candidate],
    *,
    confirmed: bool = False,
) -> Match:
    """Decide from the candidates a source returned.

    ``by_number``: every person holding the applicant's number (empty without
    one). ``by_birth_date``: every person born on the applicant's birth date.
    ``confirmed``: a member of staff has checked the requester's identity
    (identity review); a doubt about one single candidate is then lifted, but
    a choice between several people, or nobody born that day, stays a doubt.
    """
    if applicant.nir and by_number:
        same_day = [c for c in by_number if c.birth_date == applicant.birth_date]
        if not same_day:
            return Match(REVIEW, reason="number_birth_date_mismatch")
        if len(same_day) > 1:
            return Match(REVIEW, reason="several_candidates")
        # One person holds the number with this birth date: a doubt remains for staff,
        # but their contact address can already be compared (``Match.contact``).
        contact = same_day[0].email or None
        if not confirmed and not _names_agree(same_day[0], applicant):
            return Match(REVIEW, reason="name_mismatch", contact=contact)
        if not confirmed and len(by_number) > 1:
            return Match(REVIEW, reason="shared_number", contact=contact)
        return Match(MATCHED, key=same_day[0].key, contact=contact)

    named = [
        c
        for c in by_birth_date
        if c.birth_date == applicant.birth_date and _names_agree(c, applicant)
    ]
    if not named:
        return Match(NO_MATCH)
    by_email = [c for c in named if same_address(c.email, applicant.email)]
    if len(by_email) > 1:
        return Match(REVIEW, reason="several_candidates")
    if len(by_email) == 1:
        found = by_email[0]
        if not confirmed and applicant.nir and found.nir and found.nir != applicant.nir:
            return Match(REVIEW, reason="number_mismatch")
        return Match(MATCHED, key=found.key, contact=found.email)
    if confirmed and len(named) == 1:
        return Match(MATCHED, key=named[0].key, contact=named[0].email or None)
    if any(not c.email for c in named):
        return Match(REVIEW, reason="email_unconfirmed")
    return Match(REVIEW, reason="email_differs")

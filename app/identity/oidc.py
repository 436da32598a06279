"""A sign-in with an OpenID Connect provider (FranceConnect) as a proof of identity.

The web layer (``app.public.oidc_views``) runs the protocol with Authlib and
hands the verified claims here; this module only compares them with who the
request says the requester is, with the folding of matching
(``app.rules.matching.normalize_name``), and raises the request's level or
refers it to staff. The claims themselves are never stored, logged or put in
an audit event: only codes (which field differed, the ``acr`` reached).

FranceConnect's claims: ``given_name`` holds every first name separated by
spaces ("Jean-Baptiste Pierre Marie"), ``family_name`` the birth name
(``preferred_name``, when released, the name in use), ``birthdate``
``YYYY-MM-DD``, ``gender`` ``male``/``female``, ``birthplace`` the INSEE code
of the commune of birth (empty when born abroad) and ``birthcountry`` the
INSEE code of the country (``99100`` for France). The request holds no sex nor
place of birth, but its social-security number encodes both: they are compared
only where the request has a number that encodes them plainly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import audit
from app.crypto import Vault
from app.identity import assurance
from app.identity.policy import AssurancePolicy
from app.models import Request
from app.outbox import emails
from app.rules.matching import normalize_name

CLAIMS = ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry")
# Why the claims do not fit the request (audit codes: no value ever goes with them).
REASONS = (
    "claims_missing",
    "given_name_differs",
    "family_name_differs",
    "birthdate_differs",
    "gender_differs",
    "birthplace_differs",
    "birthcountry_differs",
)
FRANCE = "99100"
# The number's first digit for people registered at birth (3, 4, 7, 8: provisional numbers).
_SEX_DIGITS = {"1": "male", "2": "female"}
# Departments 91 to 96 in a number: born in Algeria, Tunisia or Morocco before their
# independence, which the provider gives as a country instead of a commune.
_OLD_DEPARTMENTS = frozenset({"91", "92", "93", "94", "95", "96"})


@dataclass(frozen=True)
class Claims:
    """What the provider says of the person who signed in (userinfo, merged with the ID token)."""

    given_name: str = ""
    family_name: str = ""
    birthdate: str = ""
    gender: str = ""
    birthplace: str = ""
    birthcountry: str = ""
    preferred_name: str = ""

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Claims:
        def text(name: str) -> str:
            value = raw.get(name)
            return value.strip() if isinstance(value, str) else ""

        return cls(**{name: text(name) for name in (*CLAIMS, "preferred_name")})

    def __repr__(self) -> str:
        # Never printed whole: a traceback or a log line must not carry someone's identity.
        return "Claims(…)"


@dataclass(frozen=True)
class Identity:
    """Who the request names, as the requester typed it."""

    first_name: str
    last_name: str
    birth_date: str  # ISO
    nir: str | None = None

    def __repr__(self) -> str:
        return "Identity(…)"


def identity_of(request: Request, vault: Vault) -> Identity:
    nir = vault.decrypt(request.nir_encrypted) if request.nir_encrypted else None
    return Identity(request.first_name, request.last_name, request.birth_date.isoformat(), nir)


def first_names_agree(typed: str, given_name: str) -> bool:
    """The first name typed is the provider's first one, or all of them together."""
    folded = normalize_name(typed)
    if not folded:
        return False
    names = given_name.split()
    return bool(names) and folded in {normalize_name(names[0]), normalize_name(given_name)}


def compare(claims: Claims, identity: Identity) -> str | None:
    """None when the claims fit the request, else the code of the first thing that differs."""
    if not (claims.given_name and claims.family_name and claims.birthdate):
        return "claims_missing"
    if not first_names_agree(identity.first_name, claims.given_name):
        return "given_name_differs"
    last = normalize_name(identity.last_name)
    if last not in {normalize_name(claims.family_name), normalize_name(claims.preferred_name)}:
        return "family_name_differs"
    if claims.birthdate != identity.birth_date:
        return "birthdate_differs"
    return _compare_with_number(claims, identity.nir)


def _compare_with_number(claims: Claims, nir: str | None) -> str | None:
    """Sex and place of birth against what the social-security number encodes, where it does."""
    if not nir or len(nir) < 10:
        return None
    number = nir.upper()
    sex = _SEX_DIGITS.get(number[0])
    if sex is None:
        # A provisional number: what it encodes is not the person's birth record.
        return None
    if claims.gender in ("male", "female") and claims.gender != sex:
        return "gender_differs"
    department, place = number[5:7], number[5:10]
    if department == "99":
        country = claims.birthcountry
        if country and country != FRANCE and country != place:
            return "birthcountry_differs"
    elif (
        department not in _OLD_DEPARTMENTS
        and claims.birthplace
        and claims.birthplace.upper() != place
    ):
        return "birthplace_differs"
    return None


def prove(
    session: Session,
    request: Request,
    claims: Claims,
    *,
    vault: Vault,
    acr: str | None,
    now: datetime,
    mail: emails.MailSettings,
    policy: AssurancePolicy,
) -> str | None:
    """A verified sign-in: raise the request to ``oidc``, or refer it to staff if it differs.

    Returns None on a match, else the code of what differed. Raises
    ``assurance.AssuranceRefused`` (nothing written) for a disputed or closed
    request.
    """
    if not assurance.can_prove(request):
        raise assurance.AssuranceRefused(
            "disputed" if request.disputed_at is not None else "not_open"
        )
    reason = compare(claims, identity_of(request, vault))
    audit.record(
        session,
        actor="requester",
        action="identity.oidc",
        now=now,
        request_id=request.id,
        details={"outcome": reason or "match", "acr": acr},
    )
    if reason is None:
        assurance.raise_level(
            session,
            request,
            "oidc",
            method="oidc",
            actor="requester",
            now=now,
            mail=mail,
            policy=policy,
        )
    else:
        assurance.refer_to_staff(
            session, request, reason="oidc_claims_differ", actor="requester", now=now, mail=mail
        )
    return reason


def failed(session: Session, request_id: int | None, reason: str, now: datetime) -> None:
    """A sign-in that proved nothing (cancelled, provider down, a token refused): a code only."""
    audit.record(
        session,
        actor="requester",
        action="identity.oidc_failed",
        now=now,
        request_id=request_id,
        details={"reason": reason},
    )

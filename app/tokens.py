"""Signed links sent to requesters: one salt per purpose, an age limit, single use.

The signed payload is a 256-bit random value from ``secrets``; the database
keeps only its SHA-256 and when it was used. A token of one purpose never
opens another, because each purpose signs with its own salt.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.models import LinkToken

VERIFY_EMAIL = "verify-email"
STATUS_PAGE = "status-page"
DOWNLOAD = "download"
# Sent to the contact address on file when someone else's address filed in that
# person's name: "this was not me" (app.identity.contact).
NOT_ME = "not-me"
SINGLE_USE = {VERIFY_EMAIL: True, STATUS_PAGE: False, DOWNLOAD: True, NOT_ME: True}


class LinkError(Exception):
    """A link that cannot be honoured; ``reason`` is invalid, expired or used."""

    def __init__(self, reason: str, token: LinkToken | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.token = token


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_link(
    session: Session, request_id: int, purpose: str, now: datetime, max_age: int
) -> tuple[LinkToken, str]:
    """Store a new link and return it with its random value (to sign when mailing).

    The value travels in the email job's payload until the email has left, then
    the job scrubs it: a retried email carries the same working link.
    """
    row, value = link_values(request_id, purpose, now, max_age)
    token = LinkToken(**row)
    session.add(token)
    return token, value


def link_values(
    request_id: int | None, purpose: str, now: datetime, max_age: int
) -> tuple[dict[str, Any], str]:
    """The columns of a new link row and its random value (``create_link`` without a Session)."""
    if purpose not in SINGLE_USE:
        raise ValueError(f"unknown link purpose {purpose!r}")
    value = secrets.token_urlsafe(32)
    row = {
        "request_id": request_id,
        "purpose": purpose,
        "token_hash": _digest(value),
        "created_at": now,
        "expires_at": now + timedelta(seconds=max_age),
    }
    return row, value


class LinkSigner:
    """Issues and checks the links of every purpose with one application secret."""

    def __init__(self, secret_key: str, fallbacks: Sequence[str] = ()) -> None:
        # itsdangerous signs with the last key and checks with every one: old
        # secrets (SECRET_KEY_FALLBACKS, newest first) keep links working while
        # a new SECRET_KEY is rolled out.
        self._serializer = URLSafeTimedSerializer([*reversed(fallbacks), secret_key])

    def sign(self, value: str, purpose: str) -> str:
        """The URL-safe signed form of a link's random value, for one purpose."""
        return self._serializer.dumps(value, salt=purpose)

    def _value(self, signed: str, purpose: str, max_age: int | None) -> tuple[str, bool]:
        """The random value of an authentic link, and whether its signature is too old."""
        try:
            return str(self._serializer.loads(signed, salt=purpose, max_age=max_age)), False
        except SignatureExpired:
            # Authentic but old: read it anyway, so the page can offer a fresh
            # link for the same request.
            return self._value(signed, purpose, None)[0], True
        except BadSignature:
            raise LinkError("invalid") from None

    def find(self, session: Session, signed: str, purpose: str) -> LinkToken | None:
        """The row of an authentic link whatever its age or use, or None."""
        try:
            value, _ = self._value(signed, purpose, None)
        except LinkError:
            return None
        return self._row(session, value, purpose)

    @staticmethod
    def _row(session: Session, value: str, purpose: str) -> LinkToken | None:
        return session.scalar(
            select(LinkToken).where(
                LinkToken.token_hash == _digest(value), LinkToken.purpose == purpose
            )
        )

    def resolve(
        self, session: Session, signed: str, purpose: str, now: datetime, max_age: int
    ) -> LinkToken:
        """Find the link's row, or raise LinkError saying why it cannot be used.

        Reading a link consumes nothing (mail scanners open links); see ``consume``.
        """
        value, too_old = self._value(signed, purpose, max_age)
        token = self._row(session, value, purpose)
        if token is None:
            raise LinkError("invalid")
        if too_old or token.expires_at <= now:
            raise LinkError("expired", token)
        if SINGLE_USE[purpose] and token.used_at is not None:
            raise LinkError("used", token)
        return token


def consume(session: Session, token: LinkToken, now: datetime) -> None:
    """Mark a single-use link used; of two simultaneous uses exactly one succeeds."""
    result = session.execute(
        update(LinkToken)
        .where(LinkToken.id == token.id, LinkToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkError("used", token)
    set_committed_value(token, "used_at", now)

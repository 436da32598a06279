"""Staff sessions: who is signed in, and whether that session is still alive.

The session cookie holds the user id with the account's session version, the
time of sign-in and the time of the last request. A bumped version (logout,
password change, disable) or an elapsed timeout ends the session.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import current_app, session
from flask_login import UserMixin, login_user, logout_user

from app.extensions import db, login_manager
from app.models import StaffUser, utcnow
from app.staffing import accounts

IDLE_SECONDS = 15 * 60
ABSOLUTE_SECONDS = 12 * 3600
LOGIN_AT = "staff_login_at"
SEEN_AT = "staff_seen_at"


class StaffPrincipal(UserMixin):
    """Flask-Login's view of a staff user; its id carries the session version."""

    def __init__(self, user: StaffUser) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)


@login_manager.user_loader
def _load(identity: str) -> StaffPrincipal | None:
    try:
        user_id, version = (int(part) for part in identity.split(":"))
    except ValueError:
        return None
    user = accounts.session_user(db.session(), user_id, version)
    return StaffPrincipal(user) if user else None


def _fresh_session() -> None:
    """Drop everything the session held (fixation), keeping only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def start(user: StaffUser, login_at: float | None = None) -> None:
    _fresh_session()
    login_user(StaffPrincipal(user))
    now = utcnow().timestamp()
    session[LOGIN_AT] = login_at or now
    session[SEEN_AT] = now


def end() -> None:
    logout_user()
    _fresh_session()


def timed_out() -> bool:
    """True when the session was idle too long or is too old; otherwise note this request."""
    now = utcnow().timestamp()
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if not isinstance(login_at, float) or not isinstance(seen_at, float):
        return True
    if now - seen_at > IDLE_SECONDS or now - login_at > ABSOLUTE_SECONDS:
        return True
    session[SEEN_AT] = now
    return False


def safe_next(target: str | None) -> str | None:
    """A staff page of this site to go to after sign-in; anything else is dropped."""
    if not target or any(c in target for c in "\\\r\n\t"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None
    if parts.path != "/staff" and not parts.path.startswith("/staff/"):
        return None
    return target


def address_key() -> bytes:
    """The key of the digests that stand for typed addresses in failed sign-ins.

    Derived from ``SECRET_KEY``, which lives outside the database; a new secret
    starts new digests, which only matters for comparing events across it.
    """
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"staff-login-address", hashlib.sha256).digest()

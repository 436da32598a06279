"""Staff accounts: creation, enrolment, sign-in with a second factor, password and disable.

Plain Python (no Flask): every function takes a ``Session`` and ``now``, adds
and flushes, and leaves the commit to the caller. Audit details never hold a
password, a code or a token.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import audit
from app.crypto import Vault
from app.models import STAFF_ROLES, StaffUser

# argon2id with OWASP's first recommended setting (docs/security.md, "Staff authentication").
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
MIN_PASSWORD = 12
# Long passphrases are welcome; the bound only stops a megabyte-sized "password".
MAX_PASSWORD = 1024
ENROLMENT_TTL = timedelta(hours=72)
ISSUER = "Health data rights portal"


class AccountError(Exception):
    """A staff account operation was refused; ``reason`` is a code, never personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoginFailed(AccountError):
    """One error for every failed sign-in, so that a guesser learns nothing."""

    def __init__(self) -> None:
        super().__init__("login_failed")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, made on first use, not at import."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _verify_password(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> None:
    """Length is the only rule (NIST SP 800-63B): no composition rules."""
    if len(password) < MIN_PASSWORD:
        raise AccountError("password_too_short")
    if len(password) > MAX_PASSWORD:
        raise AccountError("password_too_long")


def _code_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step a code belongs to (now, or one step either side for clock drift)."""
    code = code.replace(" ", "").strip()
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = now + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


def provisioning_uri(user: StaffUser, vault: Vault) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(totp_secret(user, vault)).provisioning_uri(
        name=user.email, issuer_name=ISSUER
    )


def totp_secret(user: StaffUser, vault: Vault) -> str:
    secret = vault.decrypt(user.totp_secret_encrypted)
    if secret is None:
        raise AccountError("no_secret")
    return secret


def create_staff(
    session: Session, email: str, role: str, vault: Vault, now: datetime, actor: str = "cli"
) -> tuple[StaffUser, str]:
    """A new account waiting for enrolment, and the raw token of its one-time link."""
    if role not in STAFF_ROLES:
        raise AccountError("unknown_role")
    email = normalise_email(email)
    if "@" not in email or session.scalar(select(StaffUser.id).where(StaffUser.email == email)):
        raise AccountError("email_taken" if "@" in email else "invalid_email")
    token = secrets.token_urlsafe(32)
    user = StaffUser(
        email=email,
        role=role,
        # Created now so the enrolment page and its confirmation see the same secret.
        totp_secret_encrypted=vault.encrypt(pyotp.random_base32()),
        enrolment_token_hash=_digest(token),
        enrolment_expires_at=now + ENROLMENT_TTL,
        session_version=1,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor=actor, action="staff.created", now=now, details={"staff_id": user.id}
    )
    return user, token


def pending_enrolment(session: Session, token: str, now: datetime) -> StaffUser:
    """The account a still-valid enrolment token belongs to."""
    user = session.scalar(
        select(StaffUser).where(StaffUser.enrolment_token_hash == _digest(token))
    )
    if user is None or not user.is_active:
        raise AccountError("invalid")
    if user.enrolment_expires_at is None or now >= user.enrolment_expires_at:
        raise AccountError("expired")
    return user


def enrol(
    session: Session, token: str, password: str, totp_code: str, vault: Vault, now: datetime
) -> StaffUser:
    """Set the password and confirm the authenticator; the link is spent."""
    user = pending_enrolment(session, token, now)
    check_password(password)
    step = _code_step(totp_secret(user, vault), totp_code, now)
    if step is None:
        raise AccountError("wrong_code")
    values = {
        "password_hash": HASHER.hash(password),
        "totp_last_step": step,
        "enrolment_token_hash": None,
        "enrolment_expires_at": None,
    }
    # Spending the link is one conditional UPDATE: of simultaneous enrolments
    # with one link, exactly one sets the password (the others wait for its
    # row lock, then find the hash gone).
    spent = session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            StaffUser.enrolment_token_hash == _digest(token),
            StaffUser.is_active.is_(True),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError("invalid")
    for key, value in values.items():
        set_committed_value(user, key, value)
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="staff.enrolled",
        now=now,
        details={"staff_id": user.id},
    )
    return user


def address_digest(email: str, key: bytes) -> str:
    """A keyed hash standing for a typed address in the audit: failures against one address
    can be counted, but without the key (outside the database) nobody can tell which it was."""
    typed = normalise_email(email).encode("utf-8", "surrogatepass")
    return hmac.new(key, typed, hashlib.sha256).hexdigest()[:32]


def _fail(
    session: Session, user: StaffUser | None, reason: str, now: datetime, address: str = ""
) -> LoginFailed:
    """Audit a failed sign-in: the account when known, else the typed address's digest."""
    who = {"staff_id": user.id} if user else ({"address": address} if address else {})
    audit.record(
        session,
        actor=f"staff:{user.id}" if user else "anonymous",
        action="staff.login_failed",
        now=now,
        details={"reason": reason, **who},
    )
    return LoginFailed()


def refuse_login(session: Session, email: str, address_key: bytes, now: datetime) -> LoginFailed:
    """Audit a sign-in refused for its input (a field missing, a control character).

    No credential is checked; the account is looked up only by a printable
    address (a NUL must not reach PostgreSQL).
    """
    typed = normalise_email(email)
    user = None
    if typed and typed.isprintable():
        user = session.scalar(select(StaffUser).where(StaffUser.email == typed))
    address = address_digest(typed, address_key) if typed else ""
    return _fail(session, user, "bad_input", now, address)


def _spend_step(session: Session, user: StaffUser, step: int) -> bool:
    """Record ``step`` as the account's last used one, if it is later than the last; atomic.

    One conditional UPDATE: of simultaneous sign-ins with one code, the first
    holds the row until it commits and the others, re-reading the row, find
    the step spent. A read of ``totp_last_step`` followed by a write let one
    code open several sessions on PostgreSQL.
    """
    spent = session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def authenticate(
    session: Session,
    email: str,
    password: str,
    totp_code: str,
    vault: Vault,
    now: datetime,
    *,
    address_key: bytes,
) -> StaffUser:
    """The user these credentials belong to, or ``LoginFailed`` whatever went wrong.

    The caller commits in both cases: the failure's audit event and the spent
    time step must survive. ``address_key`` keys the digest that stands for an
    unknown address in the audit.
    """
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    # Always one argon2 verification, so an unknown address answers as slowly as a known one.
    password_ok = _verify_password(user.password_hash if user else None, password)
    if user is None or user.password_hash is None:
        reason = "unknown_user" if user is None else "not_enrolled"
        raise _fail(session, user, reason, now, address_digest(email, address_key))
    if not password_ok:
        raise _fail(session, user, "wrong_password", now)
    if not user.is_active:
        raise _fail(session, user, "disabled", now)
    step = _code_step(totp_secret(user, vault), totp_code, now)
    if step is None:
        raise _fail(session, user, "wrong_code", now)
    if not _spend_step(session, user, step):
        raise _fail(session, user, "code_reused", now)
    user.last_login_at = now
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    session.flush()
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="staff.login",
        now=now,
        details={"staff_id": user.id},
    )
    return user


def end_sessions(session: Session, user: StaffUser) -> None:
    """Every session holding the old version is refused from the next request on.

    Incremented in SQL, so two bumps at once (a sign-out and a password change)
    give two versions, never one lost update that keeps a session alive.
    """
    version = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(session_version=StaffUser.session_version + 1)
        .returning(StaffUser.session_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(user, "session_version", version)


def sign_out(session: Session, user: StaffUser, now: datetime) -> None:
    end_sessions(session, user)
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="staff.logout",
        now=now,
        details={"staff_id": user.id},
    )


def change_password(
    session: Session, user: StaffUser, current: str, new: str, now: datetime
) -> None:
    if not _verify_password(user.password_hash, current):
        raise AccountError("wrong_password")
    check_password(new)
    user.password_hash = HASHER.hash(new)
    end_sessions(session, user)
    audit.record(
        session,
        actor=f"staff:{user.id}",
        action="staff.password_changed",
        now=now,
        details={"staff_id": user.id},
    )


def disable(session: Session, email: str, now: datetime, actor: str = "cli") -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise AccountError("unknown_user")
    user.is_active = False
    user.enrolment_token_hash = None
    end_sessions(session, user)
    audit.record(
        session, actor=actor, action="staff.disabled", now=now, details={"staff_id": user.id}
    )
    return user


def session_user(session: Session, user_id: int, version: int) -> StaffUser | None:
    """The user a session belongs to, if that session is still valid."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))

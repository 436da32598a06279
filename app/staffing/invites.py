"""Creating staff accounts: one per mailbox, with a one-time link sent to that mailbox.

``create_staff`` is the operator's act on the server (``flask staff
create``): the account's role is in force at once. What an administrator does
on the accounts page goes through ``app.staffing.duties``, where the DPO role
takes a second person. Either way the enrolment link is emailed to the
account's own address (``notices.queue_enrolment``) and DPOs are told of a
new privileged account.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.crypto import Vault
from app.models import STAFF_ROLES, StaffUser
from app.staffing import notices, roles
from app.staffing.accounts import ENROLMENT_TTL, AccountError, digest, normalise_email
from app.staffing.mailbox import mailbox_key

ENROLMENT_HOURS = int(ENROLMENT_TTL.total_seconds() // 3600)


def email_key(email: str) -> str:
    """The mailbox ``email`` reaches (``mailbox_key``), or ``AccountError("invalid_email")``."""
    try:
        return mailbox_key(normalise_email(email))
    except ValueError:
        raise AccountError("invalid_email") from None


def new_account(
    session: Session,
    email: str,
    role: str | None,
    vault: Vault,
    now: datetime,
    *,
    actor: str,
    created_by: StaffUser | None = None,
) -> StaffUser:
    """An account with no enrolment link yet; refused if its mailbox already has one.

    One person, one account: the check gives the clear message, and the unique
    index on ``email_key`` settles two creations racing for the same mailbox.
    """
    if role is not None and role not in STAFF_ROLES:
        raise AccountError("unknown_role")
    email = normalise_email(email)
    key = email_key(email)
    if session.scalar(select(StaffUser.id).where(StaffUser.email_key == key)) is not None:
        raise AccountError("email_taken")
    user = StaffUser(
        email=email,
        email_key=key,
        role=role,
        created_by_id=created_by.id if created_by else None,
        # Created now so the enrolment page and its confirmation see the same secret.
        totp_secret_encrypted=vault.encrypt(pyotp.random_base32()),
        session_version=1,
        is_active=True,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AccountError("email_taken") from None
    audit.record(
        session,
        actor=actor,
        action="staff.created",
        now=now,
        details={
            "staff_id": user.id,
            "role": role,
            "created_by": created_by.id if created_by else None,
        },
    )
    return user


def issue_enrolment(user: StaffUser, now: datetime) -> str:
    """A fresh one-time enrolment link for ``user`` (any earlier one dies); its raw value.

    The caller hands the value to ``notices.queue_enrolment`` and nothing else.
    """
    if user.role is None or not user.is_active or user.password_hash is not None:
        raise AccountError("not_invitable")
    token = secrets.token_urlsafe(32)
    user.enrolment_token_hash = digest(token)
    user.enrolment_expires_at = now + ENROLMENT_TTL
    return token


def create_staff(
    session: Session,
    email: str,
    role: str,
    vault: Vault,
    now: datetime,
    actor: str = "cli",
    *,
    domain: str = "localhost",
) -> tuple[StaffUser, str]:
    """The operator's new account, in force at once, and its link's raw value.

    The link is emailed to the account's own address; DPOs are told of a new
    privileged account. Only ``flask staff`` calls this: in production it
    prints nothing of the link (the demo, with no real mailbox, does).
    """
    if role not in STAFF_ROLES:
        raise AccountError("unknown_role")
    user = new_account(session, email, role, vault, now, actor=actor)
    token = issue_enrolment(user, now)
    notices.queue_enrolment(session, user, token, ENROLMENT_HOURS, now, domain)
    if role in roles.PRIVILEGED:
        notices.tell_dpos(session, user, "created", now, domain, role=role, channel="server")
    return user, token


def send_enrolment(session: Session, user: StaffUser, now: datetime, domain: str) -> str:
    """A fresh link for ``user``, queued to their own mailbox; its raw value.

    Only the demo's command prints the value (it has no real mailbox): no page does.
    """
    token = issue_enrolment(user, now)
    notices.queue_enrolment(session, user, token, ENROLMENT_HOURS, now, domain)
    return token

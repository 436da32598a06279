"""Emails about staff accounts: the enrolment link to its invitee, the notice to DPOs.

The enrolment link goes to the invitee's mailbox and nowhere else: its raw
value travels in the job's payload (``secret_enrolment``) only until the
email has left, when ``jobs.finish`` scrubs it; no page shows it and no
production command prints it. The notice tells every active DPO that a
privileged account was created, enabled or changed role, so that no
administrator grants power unseen; it carries the account's address and
role, what changed and from where, nothing else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, StaffUser
from app.outbox import jobs

ENROLMENT = "staff_enrolment"
ACCOUNT_CHANGED = "staff_account_changed"
# What a notice to the DPOs reports (its template words each one).
CHANGES = ("created", "enabled", "role_changed", "dpo_requested", "dpo_confirmed")
# Where the change was made: the staff accounts page, or the server's command line.
CHANNELS = ("page", "server")


def queue_enrolment(
    session: Session, user: StaffUser, token: str, hours: int, now: datetime, domain: str
) -> Job:
    """The email that carries ``user``'s one-time enrolment link to their own mailbox."""
    return jobs.enqueue(
        session,
        jobs.SEND_EMAIL,
        now=now,
        payload={
            "template": ENROLMENT,
            "staff_id": user.id,
            "hours": hours,
            "secret_enrolment": token,
        },
        message_id=jobs.new_message_id(domain),
    )


def active_dpos(session: Session) -> list[StaffUser]:
    """DPOs who can act: active and enrolled (an address not yet proven is told nothing)."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(
                StaffUser.role == "dpo",
                StaffUser.is_active.is_(True),
                StaffUser.password_hash.is_not(None),
            )
            .order_by(StaffUser.id)
        )
    )


def tell_dpos(
    session: Session,
    account: StaffUser,
    change: str,
    now: datetime,
    domain: str,
    *,
    role: str | None,
    previous_role: str | None = None,
    channel: str = "page",
) -> int:
    """One notice per active DPO about ``account``; returns how many were queued.

    ``role`` is the role the change is about (the pending one for a request),
    written as a code so that the notice says what was true when it happened.
    """
    if change not in CHANGES or channel not in CHANNELS:
        raise ValueError(f"unknown change {change!r} or channel {channel!r}")
    session.flush()
    told = 0
    for dpo in active_dpos(session):
        jobs.enqueue(
            session,
            jobs.SEND_EMAIL,
            now=now,
            payload={
                "template": ACCOUNT_CHANGED,
                "staff_id": dpo.id,
                "account_id": account.id,
                "change": change,
                "role": role,
                "previous_role": previous_role,
                "channel": channel,
            },
            message_id=jobs.new_message_id(domain),
        )
        told += 1
    return told

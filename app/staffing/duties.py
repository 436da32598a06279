"""Separation of duties in account management (docs/security.md, "Staff accounts and duties").

Four eyes rest on DPOs, so no single person may make one. An administrator
creates accounts and changes roles, but a DPO role they give waits in
``pending_role`` until another active DPO, neither the administrator who asked
nor the account's holder, confirms it (``confirm``) or refuses it
(``refuse``). The operator on the server grants it directly (``flask staff
create`` and ``flask staff role``, ``by=None`` here): that is also how the
first DPO is made. Every active DPO is told of each privileged account
created, enabled or changing role (``notices.tell_dpos``).

An account created by an administrator for the DPO role holds no role at all
until the confirmation, and gets its enrolment link only then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import audit
from app.crypto import Vault
from app.models import STAFF_ROLES, StaffUser
from app.staffing import invites, notices, roles
from app.staffing.accounts import AccountError, end_sessions

# What ``change_role`` did.
CHANGED, PENDING, UNCHANGED = "changed", "pending", "unchanged"


def _actor(by: StaffUser | None) -> str:
    return f"staff:{by.id}" if by is not None else "cli"


def _channel(by: StaffUser | None) -> str:
    return "page" if by is not None else "server"


def _require(by: StaffUser, permission: str) -> None:
    if not by.is_active or not roles.allowed(by.role, permission):
        raise AccountError("not_allowed")


def invite(
    session: Session,
    email: str,
    role: str,
    vault: Vault,
    now: datetime,
    *,
    by: StaffUser,
    domain: str,
) -> StaffUser:
    """An administrator's new account: in force with its link, or waiting for a DPO."""
    _require(by, roles.MANAGE_STAFF)
    if role not in STAFF_ROLES:
        raise AccountError("unknown_role")
    held = None if role in roles.NEEDS_SECOND_PERSON else role
    user = invites.new_account(session, email, held, vault, now, actor=_actor(by), created_by=by)
    if held is None:
        _ask(session, user, role, by, now, domain)
        return user
    invites.send_enrolment(session, user, now, domain)
    if role in roles.PRIVILEGED:
        notices.tell_dpos(session, user, "created", now, domain, role=role, channel="page")
    return user


def _ask(
    session: Session, user: StaffUser, role: str, by: StaffUser, now: datetime, domain: str
) -> None:
    """Put ``role`` in waiting for a DPO's confirmation, and tell the DPOs it waits."""
    user.pending_role = role
    user.pending_by_id = by.id
    user.pending_since = now
    session.flush()
    audit.record(
        session,
        actor=_actor(by),
        action="staff.role_requested",
        now=now,
        details={"staff_id": user.id, "role": role, "from": user.role},
    )
    notices.tell_dpos(
        session, user, "dpo_requested", now, domain, role=role, previous_role=user.role
    )


def change_role(
    session: Session,
    user: StaffUser,
    role: str,
    now: datetime,
    *,
    by: StaffUser | None,
    domain: str,
) -> str:
    """Give ``user`` another role: ``CHANGED``, ``PENDING`` (a DPO confirms) or ``UNCHANGED``.

    ``by`` is the administrator on the page, or None for the operator on the
    server. A new choice replaces a role still waiting for confirmation.
    """
    if by is not None:
        _require(by, roles.MANAGE_STAFF)
        if by.id == user.id:
            raise AccountError("own_account")
    if role not in STAFF_ROLES:
        raise AccountError("unknown_role")
    if not user.is_active:
        raise AccountError("disabled")
    if by is not None and role in roles.NEEDS_SECOND_PERSON and role != user.role:
        if user.pending_role != role:
            _ask(session, user, role, by, now, domain)
        return PENDING
    if role == user.role and user.pending_role is None:
        return UNCHANGED
    previous, withdrawn = user.role, user.pending_role
    user.role = role
    user.pending_role = user.pending_by_id = user.pending_since = None
    session.flush()
    audit.record(
        session,
        actor=_actor(by),
        action="staff.role_changed",
        now=now,
        details={"staff_id": user.id, "from": previous, "to": role, "withdrawn": withdrawn},
    )
    _in_force(session, user, previous, "role_changed", now, domain, by)
    return CHANGED


def _in_force(
    session: Session,
    user: StaffUser,
    previous: str | None,
    change: str,
    now: datetime,
    domain: str,
    by: StaffUser | None,
) -> None:
    """What follows a role coming into force: the first link, the DPOs' notice."""
    if previous is None and user.password_hash is None:
        invites.send_enrolment(session, user, now, domain)
    if user.role != previous and {user.role, previous} & roles.PRIVILEGED:
        notices.tell_dpos(
            session,
            user,
            change,
            now,
            domain,
            role=user.role,
            previous_role=previous,
            channel=_channel(by),
        )


def _settle(session: Session, user: StaffUser, by: StaffUser, grant: bool) -> str:
    """Take the waiting role off ``user`` once, whoever else acts at the same moment.

    The update is conditional on the request the DPO saw, so two DPOs pressing
    at once, or an administrator changing it meanwhile, settle it only once.
    """
    _require(by, roles.CONFIRM_DPO)
    role, asked_by = user.pending_role, user.pending_by_id
    if role is None or not user.is_active:
        raise AccountError("nothing_pending")
    # Neither the account's holder nor the person who asked: a second person.
    if by.id in (user.id, asked_by):
        raise AccountError("second_person")
    values: dict[str, object] = {
        "pending_role": None,
        "pending_by_id": None,
        "pending_since": None,
    }
    if grant:
        values["role"] = role
    settled = session.scalar(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            StaffUser.is_active.is_(True),
            StaffUser.pending_role == role,
            StaffUser.pending_by_id == asked_by,
        )
        .values(**values)
        .returning(StaffUser.id)
        .execution_options(synchronize_session=False)
    )
    if settled is None:
        raise AccountError("nothing_pending")
    session.refresh(user)
    return role


def confirm(
    session: Session, user: StaffUser, now: datetime, *, by: StaffUser, domain: str
) -> None:
    """A second DPO confirms the DPO role an administrator gave ``user``."""
    previous, asked_by = user.role, user.pending_by_id
    role = _settle(session, user, by, grant=True)
    audit.record(
        session,
        actor=_actor(by),
        action="staff.role_confirmed",
        now=now,
        details={"staff_id": user.id, "from": previous, "to": role, "asked_by": asked_by},
    )
    _in_force(session, user, previous, "dpo_confirmed", now, domain, by)


def refuse(session: Session, user: StaffUser, now: datetime, *, by: StaffUser) -> None:
    """A DPO refuses the role waiting on ``user``, who keeps the role they had (if any)."""
    asked_by = user.pending_by_id
    role = _settle(session, user, by, grant=False)
    audit.record(
        session,
        actor=_actor(by),
        action="staff.role_refused",
        now=now,
        details={"staff_id": user.id, "role": role, "asked_by": asked_by},
    )


def enable(session: Session, user: StaffUser, now: datetime, *, domain: str) -> bool:
    """The operator enables a disabled account again (False: it was active)."""
    if user.is_active:
        return False
    user.is_active = True
    end_sessions(session, user)
    audit.record(
        session, actor="cli", action="staff.enabled", now=now, details={"staff_id": user.id}
    )
    if user.role in roles.PRIVILEGED:
        notices.tell_dpos(session, user, "enabled", now, domain, role=user.role, channel="server")
    return True


def resend_enrolment(
    session: Session, user: StaffUser, now: datetime, *, by: StaffUser | None, domain: str
) -> str:
    """A new enrolment link, to the account's own mailbox (the previous link dies); its value."""
    if by is not None:
        _require(by, roles.MANAGE_STAFF)
    token = invites.send_enrolment(session, user, now, domain)
    audit.record(
        session,
        actor=_actor(by),
        action="staff.enrolment_sent",
        now=now,
        details={"staff_id": user.id},
    )
    return token


def waiting(session: Session) -> list[StaffUser]:
    """Accounts whose role waits for a DPO's confirmation, the oldest request first."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.pending_role.is_not(None), StaffUser.is_active.is_(True))
            .order_by(StaffUser.pending_since, StaffUser.id)
        )
    )

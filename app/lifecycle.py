"""The request lifecycle: the only place that writes a request's status.

``change_status`` checks the move against the allowed transitions and, in
the caller's transaction, writes the status, the timeline event, the audit
event and the email to the requester. A version column makes a stale or
concurrent change fail instead of overwriting another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import audit, notify
from app.models import Request, StatusEvent

CLOSED = frozenset({"completed", "denied", "expired", "withdrawn"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "unverified": frozenset({"received", "expired"}),
    "received": frozenset({"triage", "identity_review", "withdrawn"}),
    # Matching was not sure who the requester is: a person decides.
    "identity_review": frozenset({"triage", "awaiting_requester", "denied", "withdrawn"}),
    "triage": frozenset({"in_review", "withdrawn"}),
    "in_review": frozenset({"triage", "approved", "denied", "awaiting_requester", "withdrawn"}),
    "awaiting_requester": frozenset({"in_review", "withdrawn"}),
    # Once fulfilment runs it finishes: an erasure is not stopped half-way.
    "approved": frozenset({"fulfilling", "withdrawn"}),
    "fulfilling": frozenset({"completed"}),
}
EMAIL_FOR = {
    "received": "acknowledgement",
    "identity_review": "identity_check",
    "withdrawn": "withdrawn",
}
# Moves whose email says more than "the status changed".
EMAIL_FOR_MOVE = {("received", "triage"): "plan_ready"}


class TransitionError(Exception):
    """The move is not allowed from the request's current status."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot move a request from {current} to {target}")
        self.current = current
        self.target = target


class StaleRequest(Exception):
    """Someone else changed the request since it was read."""


def is_open(status: str) -> bool:
    return status not in CLOSED


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def change_status(
    session: Session,
    request: Request,
    target: str,
    *,
    actor: str,
    now: datetime,
    mail: notify.MailSettings,
    details: dict[str, Any] | None = None,
) -> StatusEvent:
    """Move ``request`` to ``target`` with its event, audit event and email, atomically.

    The conditional UPDATE on (id, status, version) is what makes two
    simultaneous moves give exactly one success.
    """
    current = request.status
    if not can_move(current, target):
        raise TransitionError(current, target)
    values: dict[str, Any] = {"status": target, "version": request.version + 1}
    if target in CLOSED:
        values["closed_at"] = now
    result = session.execute(
        update(Request)
        .where(
            Request.id == request.id,
            Request.status == current,
            Request.version == request.version,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleRequest(request.id)
    for key, value in values.items():
        set_committed_value(request, key, value)
    event = StatusEvent(
        request_id=request.id, from_status=current, to_status=target, actor=actor, occurred_at=now
    )
    session.add(event)
    audit.record(
        session,
        actor=actor,
        action=f"status.{target}",
        now=now,
        request_id=request.id,
        details={"from": current, "to": target, **(details or {})},
    )
    # The address is unproven before verification: nothing but the
    # verification email itself ever goes to it.
    if current != "unverified" or target == "received":
        template = EMAIL_FOR_MOVE.get((current, target)) or EMAIL_FOR.get(target, "status_changed")
        notify.queue_email(session, request, template, now, mail)
    return event

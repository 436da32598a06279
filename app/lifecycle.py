"""The request lifecycle: the only place that writes a request's status.

``change_status`` checks the move against the allowed transitions and, in
the caller's transaction, writes the status, the timeline event, the audit
event and the email to the requester. A version column makes a stale or
concurrent change fail instead of overwriting another.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, cast, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import audit
from app.models import AuditEvent, Job, LinkToken, Request, StatusEvent
from app.outbox import emails, jobs

CLOSED = frozenset({"completed", "denied", "expired", "withdrawn"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "unverified": frozenset({"received", "expired"}),
    "received": frozenset({"triage", "identity_review", "awaiting_identity", "withdrawn"}),
    # Routed, but identity not proven to the level the right needs (app.identity):
    # once proven it is routed again; claims that disagree, or the person on file
    # saying "not me", send it to a person.
    "awaiting_identity": frozenset({"received", "identity_review", "denied", "withdrawn"}),
    # Matching was not sure who the requester is: a person decides.
    "identity_review": frozenset(
        {"triage", "awaiting_identity", "awaiting_requester", "denied", "withdrawn"}
    ),
    # denied straight from the queue: a DPO's "manifestly unfounded" (Art. 12(5)).
    # identity_review from any open case not yet approved: the person on file disputes it.
    "triage": frozenset({"in_review", "identity_review", "denied", "withdrawn"}),
    "in_review": frozenset(
        {"triage", "approved", "denied", "awaiting_requester", "identity_review", "withdrawn"}
    ),
    # The answer goes back to whoever asked: review of the case or of the identity.
    "awaiting_requester": frozenset({"in_review", "identity_review", "denied", "withdrawn"}),
    # Once fulfilment runs it finishes: an erasure is not stopped half-way.
    "approved": frozenset({"fulfilling", "withdrawn"}),
    "fulfilling": frozenset({"completed"}),
}
# Status -> the email (``app.outbox.registry``) a move into it sends the requester.
EMAIL_FOR = {
    "received": "acknowledgement",
    "awaiting_identity": "identity_needed",
    "identity_review": "identity_check",
    "in_review": "in_review",
    "approved": "approved",
    "denied": "refused",
    "awaiting_requester": "information_needed",
    "withdrawn": "withdrawn",
}
# Moves whose email says more than the target status does.
EMAIL_FOR_MOVE = {
    ("received", "triage"): "plan_ready",
    ("identity_review", "triage"): "plan_ready",
    ("awaiting_identity", "received"): "identity_confirmed",
    ("awaiting_requester", "in_review"): "answer_received",
    ("awaiting_requester", "identity_review"): "answer_received",
}


# One email per step the requester must know about or act on (issue 14: an access sent
# "approved", "updated", "ready to download" and "completed" in the same second, and the
# download link got lost among them). These moves are not written about: the email of
# the next step, seconds later, says it. tests/outbox/test_email_journeys.py counts them.
QUIET_MOVES = frozenset({("approved", "fulfilling")})
# Approval starts the work at once; the person hears of it when it is done (the download
# link, the completion). Only where the work then waits is the approval news of its own.
WAITS_AFTER_APPROVAL = frozenset({"rectification"})  # staff correct the records by hand


def approval_is_news(request: Request, now: datetime) -> bool:
    """Whether approving ``request`` is written about: the work after it takes time."""
    if request.kind in WAITS_AFTER_APPROVAL:
        return True
    # A copy of a medical record waits for the 48-hour reflection period (CSP L.1111-7).
    held = request.release_not_before
    if held is not None and held.tzinfo is None:
        held = held.replace(tzinfo=UTC)
    return request.kind in {"access", "portability"} and held is not None and now < held


def email_for(
    current: str, target: str, request: Request | None = None, now: datetime | None = None
) -> str | None:
    """The registered email a move sends the requester when its caller names none.

    None for a move the next email says again (``QUIET_MOVES``, ``approval_is_news``).
    """
    if (current, target) in QUIET_MOVES:
        return None
    approved = target == "approved" and request is not None and now is not None
    if approved and not approval_is_news(request, now):  # type: ignore[arg-type]
        return None
    return EMAIL_FOR_MOVE.get((current, target)) or EMAIL_FOR.get(target, "status_changed")


class TransitionError(Exception):
    """The move is not allowed from the request's current status."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot move a request from {current} to {target}")
        self.current = current
        self.target = target


class StaleRequest(Exception):
    """Someone else changed the request since it was read."""

    def __init__(
        self, request_id: int, changed_by: str | None = None, changed_at: datetime | None = None
    ) -> None:
        super().__init__(f"request {request_id} was changed by someone else")
        self.request_id = request_id
        self.changed_by = changed_by
        self.changed_at = changed_at


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
    mail: emails.MailSettings,
    details: dict[str, Any] | None = None,
    email: dict[str, Any] | None = None,
    template: str | None = None,
) -> None:
    """Move ``request`` to ``target`` with its event, audit event and email, atomically.

    The conditional UPDATE on (id, status, version) is what makes two
    simultaneous moves give exactly one success. ``email`` adds codes (never
    free text) the email template needs, such as a refusal ground; ``template``
    replaces the status's usual email (e.g. a completion email per right).

    The rows are written with Core inserts, not through the unit of work (the
    worker's routing spent a quarter of its time flushing them, docs/benchmarks.md);
    on PostgreSQL the UPDATE and the four inserts are one statement.
    """
    current = request.status
    if not can_move(current, target):
        raise TransitionError(current, target)
    values: dict[str, Any] = {
        "status": target,
        "version": request.version + 1,
        "changed_by": actor,
        "changed_at": now,
    }
    if target in CLOSED:
        values["closed_at"] = now
        # A decision prepared for a DPO dies with the case (a withdrawal, an expiry):
        # left in place, it kept an "approve" button on a closed case (bench/soak.py).
        values["pending_decision"] = None
        values["pending_ground"] = None
        if target != "denied":  # a refusal's message is shown with the refusal only
            values["refusal_message_encrypted"] = None
    event = {
        "from_status": current,
        "to_status": target,
        "actor": actor,
        "occurred_at": now,
    }
    dependents: list[tuple[Any, dict[str, Any]]] = [
        (StatusEvent, event),
        (
            AuditEvent,
            audit.event_values(
                actor,
                f"status.{target}",
                now,
                request.id,
                {"from": current, "to": target, **(details or {})},
            ),
        ),
    ]
    # The address is unproven before verification: nothing but the
    # verification email itself ever goes to it.
    if current != "unverified" or target == "received":
        template = template or email_for(current, target, request, now)
        if template is not None:
            link, job = emails.email_values(request.id, template, now, mail, email)
            dependents += [(LinkToken, link), (Job, jobs.job_values(**job))]
    if session.get_bind().dialect.name == "postgresql":
        moved = _move_on_postgresql(session, request, current, values, dependents)
    else:
        moved = _move(session, request, current, values, dependents)
    if not moved:
        raise stale(session, request.id)
    for key, value in values.items():
        set_committed_value(request, key, value)


def _move(
    session: Session,
    request: Request,
    current: str,
    values: dict[str, Any],
    dependents: list[tuple[Any, dict[str, Any]]],
) -> bool:
    """The conditional UPDATE, then each row with a Core insert (no unit of work)."""
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
        return False
    for model, row in dependents:
        session.execute(insert(model.__table__).values({**row, "request_id": request.id}))
    return True


def _move_on_postgresql(
    session: Session,
    request: Request,
    current: str,
    values: dict[str, Any],
    dependents: list[tuple[Any, dict[str, Any]]],
) -> bool:
    """The UPDATE and every insert in one statement (one round trip): the inserts read
    the id the UPDATE returns, so a lost race inserts nothing and returns no row."""
    # A Core statement does not autoflush: what the caller changed through the ORM
    # (the request's other fields, a plan) is written first, as before.
    session.flush()
    params: dict[str, Any] = {
        "m_id": request.id,
        "m_status": current,
        "m_version": request.version,
        **{f"u_{k}": v for k, v in values.items()},
    }
    for number, (_, row) in enumerate(dependents):
        params |= {f"d{number}_{k}": v for k, v in row.items() if k != "request_id"}
    shapes = tuple(
        (model, tuple(k for k in row if k != "request_id")) for model, row in dependents
    )
    statement = _move_statement(tuple(values), shapes)
    return session.execute(statement, params).first() is not None


def _typed(table: Any, prefix: str, names: tuple[str, ...]) -> list[Any]:
    # A parameter in a SELECT list has no type PostgreSQL can infer: cast each.
    return [
        cast(bindparam(f"{prefix}{k}", type_=table.c[k].type), table.c[k].type).label(k)
        for k in names
    ]


@functools.cache
def _move_statement(
    columns: tuple[str, ...], dependents: tuple[tuple[Any, tuple[str, ...]], ...]
) -> Any:
    """The status change as one PostgreSQL statement, built once per shape."""
    requests: Any = Request.__table__
    moved = (
        update(requests)
        .where(
            requests.c.id == bindparam("m_id"),
            requests.c.status == bindparam("m_status"),
            requests.c.version == bindparam("m_version"),
        )
        .values({k: bindparam(f"u_{k}", type_=requests.c[k].type) for k in columns})
        .returning(requests.c.id)
        .cte("moved")
    )
    ctes = []
    for number, (model, names) in enumerate(dependents):
        table = model.__table__
        rows = select(*_typed(table, f"d{number}_", names), moved.c.id.label("request_id"))
        ctes.append(insert(table).from_select([*names, "request_id"], rows).cte(f"d{number}"))
    return select(moved.c.id).add_cte(*ctes)


def stale(session: Session, request_id: int) -> StaleRequest:
    """The error for a lost race, naming who won it (read outside the failed update)."""
    row = session.execute(
        select(Request.changed_by, Request.changed_at).where(Request.id == request_id)
    ).first()
    return StaleRequest(request_id, *(row or (None, None)))


def touch(session: Session, request: Request, *, actor: str, now: datetime, **values: Any) -> None:
    """Change a case's fields other than its status, refused if it changed meanwhile.

    The same version check as ``change_status``: a form read before another
    person's change cannot overwrite it.
    """
    if "status" in values:
        raise ValueError("only change_status writes a status")
    values |= {"version": request.version + 1, "changed_by": actor, "changed_at": now}
    result = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.version == request.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise stale(session, request.id)
    for key, value in values.items():
        set_committed_value(request, key, value)

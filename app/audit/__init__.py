"""The audit trail: append-only events chained by SHA-256, and their verification.

Each event's hash covers its own fields and the previous event's hash, so
editing, deleting or reordering any event breaks the chain from that point.
Details must never hold health data: callers pass identifiers and codes only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import AuditChain, AuditEvent

GENESIS = "0" * 64


def event_hash(
    prev_hash: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    request_id: int | None,
    details: dict[str, Any],
) -> str:
    """The hash of one event, over a canonical JSON of every field."""
    body = json.dumps(
        [prev_hash, seq, occurred_at.isoformat(), actor, action, request_id, details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    request_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction; ``seal`` chains it soon after.

    Chaining at write time would make every state change of the portal wait
    for one lock on the chain head until it commits: the chain's position is
    given instead by a single sealer (the worker), as transparency logs do.
    """
    event = AuditEvent(**event_values(actor, action, now, request_id, details))
    session.add(event)
    return event


def event_values(
    actor: str,
    action: str,
    now: datetime,
    request_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of a new, unsealed event (``record`` without a Session)."""
    return {
        "occurred_at": now.astimezone(UTC),
        "actor": actor,
        "action": action,
        "request_id": request_id,
        "details": details or {},
    }


def seal(session: Session, batch: int = 1000) -> int:
    """Chain the committed events not yet chained, in the order of their ids.

    The UPDATE on the head row locks it, so two sealers never interleave. An
    event committed late (a lower id than one already sealed) is simply
    sealed in a later pass, after it: the chain order is the sealing order.
    """
    head = session.execute(
        update(AuditChain)
        .where(AuditChain.id == 1)
        .values(seq=AuditChain.seq)
        .returning(AuditChain.seq, AuditChain.last_hash)
        .execution_options(synchronize_session=False)
    ).one()
    seq, prev_hash = head.seq, head.last_hash
    pending = session.scalars(
        select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(batch)
    ).all()
    for event in pending:
        seq += 1
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = prev_hash = event_hash(
            prev_hash,
            seq,
            event.occurred_at,
            event.actor,
            event.action,
            event.request_id,
            event.details,
        )
    if pending:
        session.execute(
            update(AuditChain)
            .where(AuditChain.id == 1)
            .values(seq=seq, last_hash=prev_hash)
            .execution_options(synchronize_session=False)
        )
    return len(pending)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None
    reason: str | None
    unsealed: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _events(session: Session, batch: int = 1000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq.is_not(None), AuditEvent.seq > last)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq or 0
        session.expunge_all()


def verify(session: Session) -> ChainReport:
    """Walk the chain in order and name the first event that does not fit."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for event in _events(session):
        if event.seq != expected_seq:
            return ChainReport(checked, expected_seq, "an event is missing")
        if event.prev_hash != prev_hash:
            return ChainReport(checked, event.seq, "the link to the previous event is broken")
        digest = event_hash(
            prev_hash,
            expected_seq,
            event.occurred_at,
            event.actor,
            event.action,
            event.request_id,
            event.details,
        )
        if digest != event.hash:
            return ChainReport(checked, event.seq, "the event was altered")
        prev_hash, expected_seq, checked = digest, expected_seq + 1, checked + 1
    head = session.get(AuditChain, 1)
    if head is not None and head.seq != checked:
        return ChainReport(checked, checked + 1, "events at the end of the chain are missing")
    unsealed = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    )
    return ChainReport(checked, None, None, unsealed or 0)

"""The audit trail: append-only events chained by HMAC-SHA256, and their verification.

Each event's hash covers its own fields and the previous event's hash, so
editing, deleting or reordering any event breaks the chain from that point.
The hash is keyed (``AUDIT_KEYS``, held outside the database, see
``app.audit.keys``): someone who can write to the database but lacks the key
cannot recompute the chain after an edit. Each sealed event records the id of
the key that sealed it, so a rotated chain verifies event by event.

Events sealed before the chain was keyed have no key id and keep their plain
SHA-256 hash (never rewritten: a re-seal would launder whatever it covers and
break the anchors written since). They are accepted only as the start of the
chain, and only up to the first anchor (``app.audit.anchors``): whoever strips
the keys off later events to recompute them as plain SHA-256 is caught by the
keyed event before them or by the anchors.

Details must never hold health data: callers pass identifiers and codes only.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.anchors import Anchor
from app.audit.keys import Keyring
from app.models import AuditChain, AuditEvent

GENESIS = "0" * 64

# Why a chain does not verify; the staff page translates each (app/staff/audit_views.py).
MISSING = "an event is missing"
LINK_BROKEN = "the link to the previous event is broken"
ALTERED = "the event was altered"
END_MISSING = "events at the end of the chain are missing"
UNKNOWN_KEY = "the event was sealed with a key that AUDIT_KEYS does not hold"
DOWNGRADED = "the event has no key although an event before it has one"
UNVOUCHED = "the event was sealed without a key and no anchor vouches for it"
ANCHOR_DIFFERS = "the event differs from its anchor"
ANCHOR_BEYOND = "an anchor names this event, which the chain does not hold"


def event_hash(
    keyring: Keyring,
    key_id: str | None,
    prev_hash: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    request_id: int | None,
    details: dict[str, Any],
) -> str | None:
    """The hash of one event over a canonical JSON of every field; None: key not held.

    ``key_id`` None is the plain SHA-256 of the chains sealed before keys.
    """
    fields = [prev_hash, seq, occurred_at.isoformat(), actor, action, request_id, details]
    if key_id is None:
        return hashlib.sha256(_canonical(fields)).hexdigest()
    return keyring.mac(key_id, _canonical([key_id, *fields]))


def _canonical(values: list[Any]) -> bytes:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _hash_of(keyring: Keyring, event: AuditEvent, prev_hash: str, seq: int) -> str | None:
    return event_hash(
        keyring,
        event.key_id,
        prev_hash,
        seq,
        event.occurred_at,
        event.actor,
        event.action,
        event.request_id,
        event.details,
    )


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


def head(session: Session) -> tuple[int, str]:
    """The chain's length and last hash, with the head row locked until the caller commits.

    The no-op UPDATE takes the lock on every database: two sealers (or a
    sealer and an anchor) never interleave.
    """
    row = session.execute(
        update(AuditChain)
        .where(AuditChain.id == 1)
        .values(seq=AuditChain.seq)
        .returning(AuditChain.seq, AuditChain.last_hash)
        .execution_options(synchronize_session=False)
    ).one()
    return row.seq, row.last_hash


def seal(session: Session, keyring: Keyring, batch: int = 1000) -> int:
    """Chain the committed events not yet chained, in the order of their ids, with the first key.

    An event committed late (a lower id than one already sealed) is simply
    sealed in a later pass, after it: the chain order is the sealing order.
    """
    seq, prev_hash = head(session)
    pending = session.scalars(
        select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(batch)
    ).all()
    for event in pending:
        seq += 1
        event.seq, event.prev_hash, event.key_id = seq, prev_hash, keyring.signing_id
        digest = _hash_of(keyring, event, prev_hash, seq)
        assert digest is not None  # the signing key is in its own keyring
        event.hash = prev_hash = digest
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
    # Events sealed before the chain was keyed (the first ``legacy`` of the chain).
    legacy: int = 0
    # Events per key id; the anchors compared with the chain (None: no anchor file).
    keys: Mapping[str, int] = field(default_factory=dict)
    anchors: int | None = None
    # The unknown key id, or the anchor that does not fit, when that is the reason.
    key_id: str | None = None
    anchor: Anchor | None = None

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


def verify(session: Session, keyring: Keyring, anchors: Sequence[Anchor] | None) -> ChainReport:
    """Walk the chain, then compare it with the anchors; name the first thing that does not fit.

    ``anchors`` None means there is no anchor file to compare with: the chain
    is then checked against its keys only, and a start sealed before keys is
    vouched for by nothing.
    """
    report = _walk(session, keyring)
    if not report.ok:
        return report
    return _against_anchors(session, report, anchors)


def _walk(session: Session, keyring: Keyring) -> ChainReport:
    prev_hash, expected_seq, checked, legacy = GENESIS, 1, 0, 0
    keys: Counter[str] = Counter()
    for event in _events(session):
        if event.seq != expected_seq:
            return ChainReport(checked, expected_seq, MISSING)
        if event.prev_hash != prev_hash:
            return ChainReport(checked, event.seq, LINK_BROKEN)
        if event.key_id is None and keys:
            return ChainReport(checked, event.seq, DOWNGRADED)
        digest = _hash_of(keyring, event, prev_hash, expected_seq)
        if digest is None:
            return ChainReport(checked, event.seq, UNKNOWN_KEY, key_id=event.key_id)
        if digest != event.hash:
            return ChainReport(checked, event.seq, ALTERED)
        if event.key_id is None:
            legacy += 1
        else:
            keys[event.key_id] += 1
        prev_hash, expected_seq, checked = digest, expected_seq + 1, checked + 1
    chain = session.get(AuditChain, 1)
    if chain is not None and chain.seq != checked:
        return ChainReport(checked, checked + 1, END_MISSING)
    unsealed = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    )
    return ChainReport(checked, None, None, unsealed or 0, legacy, dict(keys))


def _against_anchors(
    session: Session, report: ChainReport, anchors: Sequence[Anchor] | None
) -> ChainReport:
    """Every anchor must name an event of the chain with that very hash.

    Since the walk passed, each stored hash is the right one for its event,
    so looking the anchored positions up is enough.
    """

    def broken(seq: int, reason: str, anchor: Anchor | None) -> ChainReport:
        checked = min(report.checked, seq - 1)
        return ChainReport(checked, seq, reason, legacy=report.legacy, anchor=anchor)

    wanted = sorted({a.seq for a in anchors or () if 0 < a.seq <= report.checked})
    stored: dict[int, str | None] = {0: GENESIS}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(chunk))
        )
        stored.update((seq, digest) for seq, digest in rows if seq is not None)
    for anchor in anchors or ():
        if anchor.seq > report.checked:
            return broken(anchor.seq, ANCHOR_BEYOND, anchor)
        if stored.get(anchor.seq) != anchor.hash:
            return broken(anchor.seq, ANCHOR_DIFFERS, anchor)
    # A start sealed before keys counts only if an anchor written since covers it
    # (the first one is written as soon as a worker runs the keyed code).
    if report.legacy and (not anchors or report.legacy > min(a.seq for a in anchors)):
        first = min(anchors or (), key=lambda a: a.seq, default=None)
        return broken((first.seq + 1) if first else 1, UNVOUCHED, first)
    return ChainReport(
        report.checked,
        None,
        None,
        report.unsealed,
        report.legacy,
        report.keys,
        len(anchors) if anchors is not None else None,
    )

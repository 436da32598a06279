"""The keyed audit chain: someone who can write to the database but lacks AUDIT_KEYS
cannot rewrite it, keys rotate, and chains sealed before keys still verify.

The attacker here writes to the database directly and knows the hash formula
the chain used before it was keyed (plain SHA-256 over a canonical JSON),
which is all that rewriting the chain took until then.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, update

from app import audit
from app.audit.keys import Keyring, key_id
from app.extensions import db
from app.models import AuditChain, AuditEvent, utcnow
from app.services import services_of
from config import MIN_SECRET_LENGTH

OLD_KEY = "old-audit-key-" + "o" * MIN_SECRET_LENGTH
NEW_KEY = "new-audit-key-" + "n" * MIN_SECRET_LENGTH
GENESIS = "0" * 64


def _append(app, count: int, start: int = 0) -> None:
    """``count`` events recorded and sealed by ``app`` (with its first audit key)."""
    with app.app_context():
        for i in range(start, start + count):
            audit.record(
                db.session(), actor="system", action="test.event", now=utcnow(), details={"n": i}
            )
        db.session.commit()
        while audit.seal(db.session(), services_of(app).audit.keyring):
            db.session.commit()
        db.session.remove()


def _sha256(prev: str, event: AuditEvent) -> str:
    """The chain's hash before it was keyed: anyone can compute it."""
    body = json.dumps(
        [
            prev,
            event.seq,
            event.occurred_at.isoformat(),
            event.actor,
            event.action,
            event.request_id,
            event.details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _rewrite_with_sha256(
    app, *, start: int = 1, edit: int | None = None, strip_keys: bool = False
) -> None:
    """Edit event ``edit``'s details, then recompute the chain with plain SHA-256 from ``start``.

    ``strip_keys``: also clear the key ids from ``start`` on, as someone would who wants
    the chain to read as sealed before keys.
    """
    with app.app_context():
        session = db.session()
        prev = GENESIS
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
        ).all()
        for event in events:
            if (event.seq or 0) < start:
                prev = event.hash or ""
                continue
            if event.seq == edit:
                event.details = {"n": 999, "rewritten": True}
            if strip_keys:
                event.key_id = None
            event.prev_hash = prev
            event.hash = prev = _sha256(prev, event)
        session.execute(update(AuditChain).values(seq=len(events), last_hash=prev))
        session.commit()
        db.session.remove()


def _verify(app):
    with app.app_context():
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
        db.session.remove()
    return report


def _cli_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_sealed_events_carry_the_id_of_the_first_key(make_app):
    """Each sealed event names the key that sealed it; the hash is not the plain SHA-256."""
    app = make_app(AUDIT_KEYS=[NEW_KEY, OLD_KEY])
    _append(app, 2)
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
        ).all()
        assert {e.key_id for e in events} == {key_id(NEW_KEY)}
        assert events[0].hash != _sha256(GENESIS, events[0])
        db.session.remove()


def test_rewriting_an_event_and_recomputing_the_sha256_chain_is_detected(app):
    """An edit followed by a recomputed plain SHA-256 chain verified before keys; now it
    breaks at the edited event, whether its key id is left or stripped."""
    _append(app, 5)
    _rewrite_with_sha256(app, start=3, edit=3)
    report = _verify(app)
    assert (report.broken_at, report.reason) == (3, audit.ALTERED)
    result = _cli_verify(app)
    assert result.exit_code == 1 and "broken at event 3: the event was altered" in result.output


def test_stripping_the_keys_after_an_edit_is_detected(app):
    """Clearing the key ids from the edited event on: the keyed event before it gives it away."""
    _append(app, 5)
    _rewrite_with_sha256(app, start=3, edit=3, strip_keys=True)
    report = _verify(app)
    assert (report.broken_at, report.reason) == (3, audit.DOWNGRADED)


def test_stripping_every_key_is_detected_without_an_anchor_too(app):
    """A whole chain recomputed as if sealed before keys is vouched for by no anchor."""
    _append(app, 5)
    _rewrite_with_sha256(app, edit=3, strip_keys=True)
    report = _verify(app)
    assert (report.broken_at, report.reason) == (1, audit.UNVOUCHED)
    result = _cli_verify(app)
    assert result.exit_code == 1 and "no anchor vouches for it" in result.output


def test_a_chain_checked_with_the_wrong_key_names_the_unknown_key(make_app):
    """Sealed with one key, verified by an app holding another: event 1, and its key id."""
    _append(make_app(AUDIT_KEYS=[OLD_KEY]), 3)
    other = make_app(AUDIT_KEYS=[NEW_KEY])
    report = _verify(other)
    assert (report.broken_at, report.reason) == (1, audit.UNKNOWN_KEY)
    assert report.key_id == key_id(OLD_KEY)
    result = _cli_verify(other)
    assert result.exit_code == 1 and f"(key {key_id(OLD_KEY)})" in result.output


def test_an_event_forged_under_a_guessed_key_is_detected(app):
    """Someone who recomputes with a key of their own, under the real key's id, is caught."""
    _append(app, 4)
    real = services_of(app).audit.keyring
    guessed = Keyring.of(["guessed-key-" + "g" * MIN_SECRET_LENGTH])
    with app.app_context():
        session = db.session()
        prev = GENESIS
        for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            if event.seq == 2:
                event.details = {"n": 999}
            digest = audit.event_hash(
                guessed,
                guessed.signing_id,
                prev,
                event.seq or 0,
                event.occurred_at,
                event.actor,
                event.action,
                event.request_id,
                event.details,
            )
            event.prev_hash, event.hash, event.key_id = prev, digest, real.signing_id
            prev = digest or ""
        session.execute(update(AuditChain).values(last_hash=prev))
        session.commit()
        db.session.remove()
    report = _verify(app)
    assert (report.broken_at, report.reason) == (1, audit.ALTERED)


def test_a_rotated_key_seals_new_events_and_the_old_one_still_verifies(make_app):
    """A new first key: new events carry it, old ones verify with theirs; drop the old key
    and its events no longer verify."""
    _append(make_app(AUDIT_KEYS=[OLD_KEY]), 3)
    rotated = make_app(AUDIT_KEYS=[NEW_KEY, OLD_KEY])
    _append(rotated, 2, start=3)
    report = _verify(rotated)
    assert report.ok and report.checked == 5
    assert report.keys == {key_id(OLD_KEY): 3, key_id(NEW_KEY): 2}
    result = _cli_verify(rotated)
    assert result.exit_code == 0, result.output
    assert f"key {key_id(NEW_KEY)}: 2 event(s), signs new events" in result.output
    assert f"key {key_id(OLD_KEY)}: 3 event(s), verifies only" in result.output
    report = _verify(make_app(AUDIT_KEYS=[NEW_KEY]))
    assert (report.broken_at, report.reason) == (1, audit.UNKNOWN_KEY)


def test_a_chain_sealed_before_keys_verifies_once_anchored_and_grows_keyed(app):
    """Events sealed with plain SHA-256 (no key id) verify as the start of the chain once an
    anchor covers them; events sealed since carry the key, and stripping theirs is caught."""
    with app.app_context():
        for i in range(3):
            audit.record(db.session(), actor="system", action="old.event", now=utcnow())
        db.session.commit()
        db.session.remove()
    # The sealer as it was before keys: plain SHA-256, no key id.
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        for seq, event in enumerate(events, 1):
            event.seq = seq
        db.session.commit()
        db.session.remove()
    _rewrite_with_sha256(app)
    report = _verify(app)
    assert (report.broken_at, report.reason) == (1, audit.UNVOUCHED)
    assert "flask audit anchor" in _cli_verify(app).output
    assert app.test_cli_runner().invoke(args=["audit", "anchor"]).exit_code == 0
    _append(app, 2)  # seals the audit.anchored event too, keyed
    result = _cli_verify(app)
    assert result.exit_code == 0, result.output
    assert "6 event(s) (3 sealed before the chain was keyed)" in result.output
    _rewrite_with_sha256(app, edit=5, strip_keys=True)
    result = _cli_verify(app)
    assert result.exit_code == 1
    assert "broken at event 4: the event was sealed without a key" in result.output

"""The audit trail: hash-chained, verifiable, and free of personal data."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select, update

from app import audit
from app.extensions import db
from app.models import AuditEvent, utcnow
from app.services import services_of
from tests.conftest import VALID_FILING, csrf_from, file_form, link_in, run_jobs


def _append(app, count: int, seal: bool = True) -> None:
    with app.app_context():
        for i in range(count):
            audit.record(
                db.session(),
                actor="system",
                action="test.event",
                now=utcnow(),
                request_id=i,
                details={"n": i},
            )
            db.session.commit()
        if seal:
            audit.seal(db.session(), services_of(app).audit.keyring)
            db.session.commit()
        db.session.remove()


def test_an_intact_chain_verifies(app):
    """Events appended in order verify, and the CLI says how many."""
    _append(app, 5)
    with app.app_context():
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
    assert report.ok and report.checked == 5
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "5 event(s)" in result.output


def test_an_altered_event_is_named(app):
    """Changing the details of event 3 breaks the chain exactly there; the CLI exits 1."""
    _append(app, 5)
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(details={"n": 99}))
        db.session.commit()
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
        db.session.remove()
    assert report.broken_at == 3 and report.reason == "the event was altered"
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "event 3" in result.output


def test_a_deleted_event_is_named(app):
    """Deleting an event in the middle, or the last one, is detected."""
    _append(app, 5)
    with app.app_context():
        db.session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == 2))
        db.session.commit()
        assert audit.verify(db.session(), services_of(app).audit.keyring, None).broken_at == 2
        db.session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq >= 2))
        db.session.commit()
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
        db.session.remove()
    assert report.broken_at == 2 and "end of the chain" in report.reason


def test_concurrent_appends_and_seals_never_fork_the_chain(app):
    """Appends and seals from several threads at once still form one valid chain."""
    threads = [threading.Thread(target=_append, args=(app, 10)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _append(app, 0)  # a last pass seals what a racing thread committed late
    with app.app_context():
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
    assert report.ok and report.checked == 40 and report.unsealed == 0


def test_events_wait_unsealed_until_the_sealer_passes(app):
    """Recorded events count as unsealed until `audit seal` (or the worker) chains them."""
    _append(app, 3, seal=False)
    with app.app_context():
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
    assert report.ok and report.checked == 0 and report.unsealed == 3
    result = app.test_cli_runner().invoke(args=["audit", "seal"])
    assert result.exit_code == 0 and "3 event(s) sealed" in result.output
    with app.app_context():
        report = audit.verify(db.session(), services_of(app).audit.keyring, None)
    assert report.checked == 3 and report.unsealed == 0


def test_audit_events_of_a_journey_hold_no_personal_data(app):
    """After filing and confirming, no audit event mentions the name, email, NIR or free text."""
    client = app.test_client()
    file_form(client, VALID_FILING)
    run_jobs(app)
    from email import message_from_bytes, policy
    from pathlib import Path

    [eml] = Path(app.config["MAIL_DIR"]).glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    path = link_in(message)
    client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    with app.app_context():
        events = db.session.scalars(select(AuditEvent)).all()
        dumped = json.dumps([[e.actor, e.action, e.details] for e in events], ensure_ascii=False)
    assert len(events) == 2
    for secret in ("Élodie", "Martin", "elodie", "255081416802538", "Lyon", "1980"):
        assert secret not in dumped

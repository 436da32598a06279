"""Uploads sent at once for one request: the database keeps one document, the rest are refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.identity import documents
from app.models import Request
from app.services import services_of
from tests.identity import files
from tests.identity.kit import count_documents, events, waiting_request

THREADS = 8


def _race(app: Flask, request_id: int) -> list[str]:
    """Each thread checks and stores its own file for the same request, all at once."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=THREADS)
    barrier = threading.Barrier(THREADS, timeout=60)
    outcomes: list[str] = []
    lock = threading.Lock()
    vault = services_of(app).vault
    checked = documents.inspect(files.png())

    def send() -> None:
        with Session(engine) as session:
            request = session.get(Request, request_id)
            assert request is not None
            barrier.wait()
            try:
                documents.store(session, request, checked, vault, datetime.now(UTC))
                session.commit()
                result = "stored"
            except documents.DocumentRefused as refusal:
                session.rollback()
                result = refusal.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return outcomes


@pytest.mark.postgres
def test_uploads_at_once_store_one_document(app: Flask) -> None:
    """On PostgreSQL, 8 threads upload for one request: one row, 7 ``already_waiting``."""
    request_id, _ = waiting_request(app)
    outcomes = _race(app, request_id)
    assert outcomes.count("stored") == 1, outcomes
    assert set(outcomes) == {"stored", "already_waiting"}
    assert count_documents(app) == 1
    received = [e for e in events(app, request_id) if e.action == "identity.document_received"]
    assert len(received) == 1


def test_the_database_refuses_a_second_document_whatever_writes_it(app: Flask) -> None:
    """The unique index holds even when the check before it is skipped."""
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db
    from app.models import IdentityDocument

    request_id, _ = waiting_request(app)
    with app.app_context():
        for _ in range(2):
            db.session.add(
                IdentityDocument(
                    request_id=request_id, media_type="image/png", size=1, content_encrypted=b"x"
                )
            )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()
    assert count_documents(app) == 0

"""Uploads sent at once for one request: the database keeps one file, the rest are refused.

An identity document and a proof of relationship are kept by the same code
(app.identity.proof_files.keep); each is raced here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.identity import documents, relationship
from app.models import AuditEvent, RelationshipProof, Request
from app.services import services_of
from tests.identity import files
from tests.identity.kit import count_documents, events, waiting_request
from tests.representation.kit import FILINGS, file_and_verify

THREADS = 8


def _race(app: Flask, request_id: int, store: Callable[..., Any] = documents.store) -> list[str]:
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
                store(session, request, checked, vault, datetime.now(UTC))
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


@pytest.mark.postgres
def test_proofs_sent_at_once_store_one(app: Flask) -> None:
    """On PostgreSQL, 8 threads send one proof for one request: one row, 7 ``already_waiting``."""
    _, request_id, _ = file_and_verify(app, FILINGS["parent"])
    found = services_of(app).representation.of("parent")
    assert found is not None
    code = found.proofs[0].code

    def store(session: Session, request: Request, *file: Any) -> Any:
        return relationship.store(session, request, found, code, *file)

    outcomes = _race(app, request_id, store)
    assert outcomes.count("stored") == 1, outcomes
    assert set(outcomes) == {"stored", "already_waiting"}
    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(RelationshipProof))
        received = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == relationship.KIND.received)
        )
        db.session.remove()
    assert (rows, received) == (1, 1)


def test_the_database_refuses_a_second_document_whatever_writes_it(app: Flask) -> None:
    """The unique index holds even when the check before it is skipped."""
    from sqlalchemy.exc import IntegrityError

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

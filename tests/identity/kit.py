"""Requests waiting for a proof of identity, and a requester's browser following one."""

from __future__ import annotations

import io
import secrets
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.identity import assurance
from app.models import AuditEvent, IdentityDocument, Request, utcnow
from app.public.status_session import KEY
from app.services import services_of
from tests.conftest import csrf_from, run_jobs

UPLOAD = "/status/identity-document"


def waiting_request(
    app: Flask, *, status: str = "awaiting_identity", kind: str = "access", locale: str = "fr"
) -> tuple[int, str]:
    """A verified request at the email level, waiting for a proof; its id and reference."""
    now = utcnow()
    with app.app_context():
        case = Request(
            reference=f"DSR-2026-{secrets.token_hex(3).upper()}",
            kind=kind,
            status=status,
            locale=locale,
            first_name="Jeanne",
            last_name="Essai",
            birth_date=date(1970, 1, 2),
            email="jeanne.essai@example.org",
            email_normalized="jeanne.essai@example.org",
            created_at=now,
            verified_at=now,
            received_on=now.date(),
            due_on=now.date() + timedelta(days=30),
            assurance="email",
            assurance_at=now,
            assurance_by="requester",
            paused_at=now if status == "awaiting_identity" else None,
            version=1,
        )
        db.session.add(case)
        db.session.commit()
        found = (case.id, str(case.reference))
        db.session.remove()
    return found


def requester(app: Flask, request_id: int) -> FlaskClient:
    """A browser whose status session follows the request, as after opening its link."""
    client = app.test_client()
    stamp = int(utcnow().timestamp())
    with client.session_transaction() as cookie:
        cookie[KEY] = {"id": request_id, "since": stamp, "seen": stamp}
    return client


def upload(
    client: FlaskClient,
    data: bytes,
    filename: str = "identite.pdf",
    content_type: str = "application/pdf",
    **extra: Any,
) -> Any:
    """Open the status page, then send ``data`` through its upload form."""
    page = client.get("/status")
    assert page.status_code == 200, page.status_code
    form = {"csrf_token": csrf_from(page.data), **extra}
    form["document"] = (io.BytesIO(data), filename, content_type)
    return client.post(UPLOAD, data=form, content_type="multipart/form-data")


def documents(app: Flask) -> list[IdentityDocument]:
    with app.app_context():
        found = list(db.session.scalars(select(IdentityDocument)))
        db.session.expunge_all()
        db.session.remove()
    return found


def count_documents(app: Flask) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(IdentityDocument)) or 0
        db.session.remove()
    return int(n)


def events(app: Flask, request_id: int, prefix: str = "identity.") -> list[AuditEvent]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.request_id == request_id, AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return found


def prove(app: Flask, request_id: int, level: str = "document", actor: str = "staff:0") -> None:
    """Record a proof of identity for the request, commit, and let the worker route it again."""
    with app.app_context():
        request = db.session.get(Request, request_id)
        assert request is not None
        assurance.raise_level(
            db.session(),
            request,
            level,
            method=level,
            actor=actor,
            now=utcnow(),
            mail=services_of(app).mail,
            policy=services_of(app).assurance,
        )
        db.session.commit()
    run_jobs(app)

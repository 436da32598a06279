"""Raising a request's identity assurance in tests, as a proof accepted by staff would."""

from __future__ import annotations

from flask import Flask

from app.extensions import db
from app.identity import assurance
from app.models import Request, utcnow
from app.services import services_of
from tests.conftest import run_jobs


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
        )
        db.session.commit()
    run_jobs(app)

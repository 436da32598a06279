"""What the operator reads: liveness, readiness, metrics, and the request log.

``/healthz`` answers 200 while the process serves (it touches nothing).
``/readyz`` runs ``app.ops.checks`` and answers 200 or 503 with their verdicts
(codes and counts only). ``/metrics`` is Prometheus' page, open only to a
bearer of ``METRICS_TOKEN`` (404 without one configured). Every request gets
an id (the proxy's ``X-Request-ID`` when well formed), sent back in the
response, put on every log line, and one log line when it ends, naming the
route's pattern, never the path.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from app import logs
from app.extensions import db, limiter
from app.models import utcnow
from app.ops import checks, metrics
from app.services import services_of

log = logging.getLogger("portal.request")
bp = Blueprint("ops", __name__)
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
@limiter.exempt
def readyz() -> tuple[Response, int]:
    session, now = db.session(), utcnow()
    storage = current_app.config["RATELIMIT_STORAGE_URI"]
    results = {
        "database": checks.database(session),
        "sources": checks.sources(services_of(current_app).warehouse),
        "redis": checks.redis(
            None if storage.startswith("memory://") else lambda: limiter.storage.check()
        ),
        "workers": checks.workers(session, now, current_app.config["WORKER_STALE_SECONDS"]),
        "parked_jobs": checks.parked_jobs(session),
        "queue_lag": checks.queue_lag(session, now),
    }
    db.session.rollback()
    ready = checks.ready(results)
    body = {
        "status": "ok" if ready else "fail",
        "checks": {name: c.as_json() for name, c in results.items()},
    }
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
@limiter.exempt
def metrics_page() -> Response | tuple[str, int]:
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return "", 404
    body = metrics.exposition(db.session(), utcnow())
    db.session.rollback()
    return Response(body, mimetype="text/plain; version=0.0.4")


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    logs.REQUEST_ID.set(g.request_id)


def _finish(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    took = time.perf_counter() - g.get("request_started", time.perf_counter())
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    if request.endpoint not in {"ops.healthz", "ops.metrics_page"}:
        metrics.observe(route, request.method, response.status_code, took)
        log.info(
            "%s %s %s %.1f ms",
            request.method,
            route,
            response.status_code,
            took * 1000,
            extra={"route": route, "status": response.status_code, "ms": round(took * 1000, 1)},
        )
    return response


def _forget(_error: BaseException | None) -> None:
    logs.REQUEST_ID.set("-")


def _close_session(_error: BaseException | None) -> None:
    """Close the request's session where a dead connection cannot fail the response.

    Flask-SQLAlchemy's own teardown rolls back too; when the database went away
    during the request (a restart), that ROLLBACK raises after the answer is made
    and gunicorn replaces it with a bare 500 with no request id (bench/soak.py).
    """
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        log.warning("the session could not be closed cleanly: %s", type(error).__name__)


def init_app(app: Flask) -> None:
    logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.register_blueprint(bp)
    # Before every other hook, CSRF's and the limiter's included (their extensions
    # are set up earlier): a request they refuse is logged and answered with its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_forget)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(_close_session)

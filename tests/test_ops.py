"""What the operator reads: /healthz, /readyz (the workers' heartbeat), /metrics behind a
token, request ids, and log lines that never carry a link token."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app import logs
from app.extensions import db
from app.models import Job, utcnow
from app.outbox import heartbeat, jobs
from tests.conftest import ROOT, VALID_FILING, file_form, run_jobs

TOKEN = "m" * 40


def _beat(app, name: str = "host:1", when=None) -> None:
    with app.app_context():
        heartbeat.beat(db.session(), name, when or utcnow())
        db.session.commit()
        db.session.remove()


def test_healthz_answers_without_the_database(app):
    """Liveness touches nothing: it answers even when the database is gone."""
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:////nonexistent/folder/db.sqlite3"
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_fails_until_a_worker_beats_and_again_once_it_stops(app):
    """No heartbeat: 503 naming the workers check; a fresh one: 200; a clean stop or a
    heartbeat older than WORKER_STALE_SECONDS: 503 again."""
    client = app.test_client()
    first = client.get("/readyz")
    assert first.status_code == 503
    assert first.json["checks"]["workers"]["status"] == "fail"
    assert first.json["checks"]["database"]["status"] == "ok"
    assert first.json["checks"]["sources"]["status"] == "ok"
    _beat(app)
    assert client.get("/readyz").status_code == 200
    with time_machine.travel(utcnow() + timedelta(seconds=121)):
        stale = client.get("/readyz")
    assert stale.status_code == 503 and stale.json["checks"]["workers"]["alive"] == 0
    with app.app_context():
        heartbeat.stop(db.session(), "host:1")
        db.session.commit()
    assert client.get("/readyz").status_code == 503


def test_readyz_reports_parked_jobs_without_failing(app):
    """A parked job needs a person, not a restart: counted, and readiness still holds."""
    _beat(app)
    with app.app_context():
        job = jobs.enqueue(db.session(), jobs.SEND_EMAIL, now=utcnow(), payload={})
        job.state = "parked"
        db.session.commit()
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["parked_jobs"] == {"status": "fail", "count": 1}


def test_a_worker_beats_while_it_runs_and_clears_its_row_when_it_stops(app):
    """The worker loop writes its heartbeat, and deletes it on a clean stop."""
    from app.outbox import worker
    from app.outbox.handlers import HANDLERS
    from app.services import services_of

    seen = []

    with app.app_context():
        settings = worker.Settings(
            name="test:42", lease_seconds=30, poll_seconds=0, retry=jobs.RetryPolicy()
        )

        def stopping() -> bool:
            seen.append(heartbeat.latest(db.session())[1])
            return len(seen) > 1

        worker.run(db.session(), HANDLERS, services_of(app), settings, stopping=stopping)
        assert seen[0] == 0 and 1 in seen
        assert heartbeat.latest(db.session()) == (None, 0)
        db.session.remove()


def test_metrics_are_closed_without_the_token(make_app):
    """No METRICS_TOKEN configured, or a wrong one: 404, as if the page did not exist."""
    assert make_app().test_client().get("/metrics").status_code == 404
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics").status_code == 404
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
    assert wrong.status_code == 404


def test_metrics_count_requests_jobs_and_http(make_app):
    """With the token: requests by right and status, the queue by kind, parked jobs,
    emails, workers and HTTP counts by route pattern (never a path with a token)."""
    app = make_app(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    file_form(client, VALID_FILING)
    client.get("/s/not-a-real-token")
    _beat(app)
    page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'portal_requests{kind="erasure",status="unverified"} 1.0' in text
    assert 'portal_jobs{kind="send_email",state="pending"} 1.0' in text
    assert "portal_parked_jobs 0.0" in text
    assert 'portal_job_oldest_due_seconds{kind="send_email"}' in text
    assert "portal_workers 1.0" in text
    assert 'route="/s/<token>"' in text
    assert "not-a-real-token" not in text
    run_jobs(app)
    again = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert 'portal_emails{outcome="sent"} 1.0' in again.get_data(as_text=True)


def test_every_response_carries_a_request_id(client):
    """The proxy's well-formed X-Request-ID is kept; anything else is replaced."""
    mine = client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert mine.headers["X-Request-ID"] == "abcdef0123456789"
    odd = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-ID"])


def test_error_pages_show_the_request_id_of_their_log_lines(app, caplog):
    """A 404 page, its JSON twin and the log line all carry the same request id."""
    client = app.test_client()
    caplog.handler.addFilter(logs.RequestId())  # as the configured handlers do
    with caplog.at_level(logging.INFO, logger="portal.request"):
        page = client.get("/no-such-page?lang=en")
    assert page.status_code == 404
    request_id = page.headers["X-Request-ID"]
    assert re.search(rf'<code class="request-id">{request_id}</code>', page.text)
    assert "quote this reference" in page.text
    assert any(getattr(r, "request_id", None) == request_id for r in caplog.records)
    french = client.get("/no-such-page?lang=fr")
    assert "indiquez cette référence" in french.text
    assert french.headers["X-Request-ID"] in french.text
    api = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert api.get_json()["request_id"] == api.headers["X-Request-ID"]


def test_the_request_log_names_the_route_pattern_not_the_token(app, caplog):
    """One line per request, with the route's pattern: the token never appears."""
    with caplog.at_level(logging.INFO, logger="portal.request"):
        app.test_client().get("/s/SECRETTOKENVALUE123")
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.request"]
    assert lines and "/s/<token>" in lines[0]
    assert all("SECRETTOKENVALUE123" not in line for line in lines)


def test_every_token_route_is_masked_in_logs_and_in_nginx(app):
    """Each route taking a <token> is in logs.TOKEN_PATHS and in the nginx map, so a token
    path written by anything (gunicorn, werkzeug, nginx) is masked."""
    rules = [r.rule for r in app.url_map.iter_rules() if "<token>" in r.rule]
    assert rules, "no token route found"
    nginx = (ROOT / "deploy" / "nginx" / "portal.conf").read_text()
    pattern = re.search(r'"(~\^[^"]+)"\s+"([^"]+)";', nginx)
    assert pattern, "the nginx map is missing"
    regex = re.compile(pattern.group(1)[1:].replace("(?<", "(?P<"))
    for rule in rules:
        path = rule.replace("<token>", "eyJhbGciOi.aBcD.ZZZZZZZZZZZZZZZZZZZZZZZ")
        assert "eyJhbGciOi" not in logs.mask(f"GET {path} HTTP/1.1"), rule
        replacement = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", pattern.group(2))
        logged = regex.sub(replacement, path)
        assert "eyJhbGciOi" not in logged and "[token]" in logged, f"nginx logs {rule} unmasked"


def test_the_mask_leaves_ordinary_lines_alone():
    """Codes, ids and ordinary paths are kept as they are."""
    for line in ("job 12 (send_email) failed: SMTPServerDisconnected, retry", "GET /status 200"):
        assert logs.mask(line) == line


def test_the_json_log_configuration_has_time_level_and_request_id(capsys):
    """dictConfig in production: JSON lines with a timestamp, a level and the request id."""
    import json
    import logging.config

    settings = logs.settings("json")
    logging.config.dictConfig({**settings, "root": {"level": "INFO", "handlers": ["stderr"]}})
    try:
        logs.REQUEST_ID.set("rid12345")
        logging.getLogger("portal.test").info("opened /verify/abcdefghijkl")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        logs.REQUEST_ID.set("-")
        logging.getLogger().handlers.clear()
    record = json.loads(line)
    assert record["level"] == "INFO" and record["request_id"] == "rid12345"
    assert record["time"][:4].isdigit()
    assert record["message"] == "opened /verify/[token]"


def test_job_rows_heartbeat_table_is_migrated(session):
    """The heartbeat table exists after the migrations (revision 0012)."""
    assert session.query(heartbeat.WorkerHeartbeat).count() == 0
    assert Path(ROOT / "migrations" / "versions" / "0012_worker_heartbeats.py").exists()
    assert Job.__tablename__ == "jobs"


def test_a_request_refused_by_csrf_is_logged_and_answered_with_its_id(app, caplog):
    """CSRF's own hook runs after the one that gives the request its id: the 400 page
    quotes the id of its log line (nginx or a user can find it), not '-'."""
    caplog.handler.addFilter(logs.RequestId())
    with caplog.at_level(logging.INFO, logger="portal.request"):
        page = app.test_client().post("/?lang=en", data={"kind": "access"})
    assert page.status_code == 400
    request_id = page.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert f'<code class="request-id">{request_id}</code>' in page.text
    (line,) = [r for r in caplog.records if r.name == "portal.request"]
    assert line.request_id == request_id and line.ms > 0


def test_a_filing_after_the_database_dropped_the_connection_succeeds(app):
    """PostgreSQL restarted (here: the pool's connection terminated by the server): the
    next request still succeeds, the connection being checked before use."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("connections that die under the pool: a PostgreSQL server is needed")
    client = app.test_client()
    assert file_form(client, VALID_FILING).status_code == 303  # fills the pool
    with app.app_context():
        db.session.remove()
        # The pooled connection the request used (the pool hands back the same one).
        with db.engine.connect() as connection:
            pooled = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        outside = create_engine(db.engine.url, poolclass=NullPool)
    with outside.connect() as connection:
        killed = connection.execute(
            text("SELECT count(pg_terminate_backend(:pid))"), {"pid": pooled}
        ).scalar()
    outside.dispose()
    assert killed == 1
    again = {**VALID_FILING, "email": "apres.redemarrage@example.fr"}
    assert file_form(client, again).status_code == 303


def test_gunicorn_error_lines_are_masked_too():
    """A request that fails outside the app is logged by gunicorn with its request line:
    the token in it is masked like the portal's own lines."""
    import io

    stream = io.StringIO()
    gunicorn_log = logging.getLogger("gunicorn.error")
    handler = logging.StreamHandler(stream)
    gunicorn_log.addHandler(handler)
    try:
        logs.mask_gunicorn_log()
        logs.mask_gunicorn_log()  # twice: still one filter
        token = "InpzZEFJZVlwZnFXZ2NKMi1Ec2J5UTFw.axBQbA.L3oXMnvKKwMJWT1OehZ7byyHErg"
        gunicorn_log.error("Error handling request POST /verify/%s", token)
        assert len(handler.filters) == 1
    finally:
        gunicorn_log.removeHandler(handler)
    assert token not in stream.getvalue()
    assert "POST /verify/[token]" in stream.getvalue()


def test_a_connection_lost_before_teardown_still_answers(app):
    """The database goes away after the view ran (a restart): closing the session fails,
    and the answer is still the page, not a bare 500 from gunicorn with no request id."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("a connection killed by the server: a PostgreSQL server is needed")
        outside = create_engine(db.engine.url, poolclass=NullPool)

    @app.after_request
    def _lose_the_connection(response):
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with outside.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return response

    page = app.test_client().get("/?lang=en")
    outside.dispose()
    assert page.status_code == 200
    assert "X-Request-ID" in page.headers

"""Limits under load: many people at once, against gunicorn with three workers.

A limit that holds in one process can fail with several: each worker has its
own connection, and on PostgreSQL a count read by one transaction does not
see the row another is about to commit. So these tests start the production
shape (``gunicorn wsgi:app --workers 3`` on a free loopback port, on the test
database) and send 16 to 20 HTTP requests at the same instant, each from its
own cookie jar. The test process sets up the scene through an app on the same
database, with the same secret and keys, so that the links it mails open on
the server.

Rate limits are off on the server: they would hide what is under test (one
client address sends everything), and per-IP limits are tested elsewhere.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from app.extensions import db
from tests.conftest import ROOT, SmtpServer, csrf_from, free_port

SECRET_KEY = secrets.token_urlsafe(48)
DATA_KEY = Fernet.generate_key().decode()
BASE_URL = "https://portal.example.org"  # what emailed links say; the server is on loopback
WORKERS = 3
CROWD = 16


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{server.tail()}")
        try:
            with urllib.request.urlopen(server.url + "/accessibility", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer within 90 s:\n{server.tail()}")


@pytest.fixture(scope="session")
def server(
    migrated: str, warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """gunicorn with three sync workers on the test database (the production shape), once."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "FLASK_DEBUG"}}
    env.update(
        {
            "PORTAL_ENV": "test",
            "DATABASE_URL": migrated,
            "WAREHOUSE_URL": f"sqlite:///{warehouse}",
            "SECRET_KEY": SECRET_KEY,
            "DATA_ENCRYPTION_KEYS": DATA_KEY,
            "PORTAL_BASE_URL": BASE_URL,
            "MAIL_DIR": str(folder / "mail"),
            "RATELIMIT_ENABLED": "false",
        }
    )
    log = folder / "gunicorn.log"
    command = [
        *(sys.executable, "-m", "gunicorn", "wsgi:app"),
        *("--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS)),
        # Not the shared default under $HOME, which another gunicorn may hold.
        "--no-control-socket",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    running = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def slow_writes(app: Flask, table: str, event: str, seconds: float = 0.2) -> Iterator[None]:
    """Each row ``event`` (INSERT, UPDATE) on ``table`` takes ``seconds`` longer.

    Over a network, between a read and the commit of the write that follows
    there are milliseconds in which another worker reads the same thing; on
    loopback with three workers that window is often too short to hit. A
    trigger that sleeps widens it the way a loaded database does, so that a
    read-then-write check fails every time. An atomic check is unaffected:
    it only waits longer.
    """
    name = f"slow_{table}_{event.lower()}"
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        yield  # SQLite: BEGIN IMMEDIATE serialises every writer, there is no window to widen
        return
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    try:
        yield
    finally:
        with app.app_context():
            with db.engine.begin() as connection:
                connection.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")
                connection.exec_driver_sql(f"DROP FUNCTION {name}()")
            db.engine.dispose()


@pytest.fixture
def scene(make_app: Any, smtp: SmtpServer, server: Server) -> Flask:
    """An app on the server's database, with its secret and keys, mailing to ``smtp``."""
    return make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        SECRET_KEY=SECRET_KEY,
        DATA_ENCRYPTION_KEYS=[DATA_KEY],
        PORTAL_BASE_URL=BASE_URL,
    )


class _Keep(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    status: int
    body: str
    location: str | None


class Visitor:
    """One person's browser: its own cookies, no redirects followed."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _Keep()
        )

    def _open(self, path: str, data: dict[str, str] | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.server.url + path, data=body, timeout=60) as answer:
                return Answer(answer.status, answer.read().decode(), None)
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode(), error.headers.get("Location"))

    def get(self, path: str) -> Answer:
        return self._open(path)

    def post(self, path: str, data: dict[str, str]) -> Answer:
        return self._open(path, data)

    def csrf(self, path: str) -> str:
        """Open a page with a form; the CSRF token it carries for this browser."""
        page = self.get(path)
        assert page.status == 200, (path, page.status, self.server.tail())
        return csrf_from(page.body)


def at_once(
    count: int, prepare: Callable[[int], Any], act: Callable[[int, Any], Any]
) -> list[Any]:
    """Run ``prepare(i)`` in ``count`` threads, then ``act(i, prepared)`` in all at one instant.

    The preparation (opening the form, signing in) is done before the
    barrier, so that the requests under test really arrive together.
    """
    barrier = threading.Barrier(count, timeout=120)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            prepared = prepare(i)
            barrier.wait()
            results[i] = act(i, prepared)
        except BaseException as error:  # reported by the test thread below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results

"""Fixtures: an app on a migrated database (SQLite, or PostgreSQL when
``TEST_DATABASE_URL`` is set), a real SMTP server, a client that speaks CSRF.

Each PostgreSQL run works in a schema of its own, dropped at the end, so
reruns and interrupted runs never see each other's rows. Every test starts
from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from app import create_app
from app.deadlines import receipt_date
from app.demo.warehouse import build
from app.extensions import db
from app.models import Base, utcnow
from app.outbox import jobs, worker
from app.outbox.handlers import HANDLERS
from app.services import services_of

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def pytest_report_header(config: Any) -> str:
    target = "PostgreSQL" if POSTGRES_URL else "SQLite"
    return f"portal database under test: {target}"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    skip = pytest.mark.skip(reason="needs TEST_DATABASE_URL (PostgreSQL)")
    for item in items:
        if "postgres" in item.keywords and not POSTGRES_URL:
            item.add_marker(skip)


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for this run."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo warehouse (its personas plus synthetic citizens), built once."""
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.sqlite3"
    build(path, citizens=400, seed=7, as_of=receipt_date(utcnow()))
    return path


def base_config(database_url: str, tmp_path: Path, warehouse: Path) -> dict[str, Any]:
    return {
        "WAREHOUSE_URL": f"sqlite:///{warehouse}",
        "PORTAL_ENV": "test",
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAIL_DIR": str(tmp_path / "mail"),
        "AUDIT_ANCHOR_FILE": str(tmp_path / "audit-anchors.log"),
        "MAIL_SERVER": None,
        "PORTAL_BASE_URL": "https://portal.example.org",
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
    }


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> str:
    """The database upgraded to the head revision, as the app itself does it."""
    app = create_app(base_config(database_url, tmp_path_factory.mktemp("migrate"), warehouse))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()
    return database_url


def empty_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name == "audit_chain":
                    connection.execute(table.update().values(seq=0, last_hash="0" * 64))
                else:
                    connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def make_app(migrated: str, tmp_path: Path, warehouse: Path) -> Iterator[Any]:
    """Build apps on the test database with extra settings; tables are emptied after.

    Each test gets its own copy of the warehouse: an approved erasure, an
    objection or a correction changes the sources, and must not change what
    the next test finds.
    """
    built: list[Flask] = []
    own = tmp_path / "own-warehouse" / "warehouse.sqlite3"
    own.parent.mkdir()
    shutil.copyfile(warehouse, own)

    def _make(**overrides: Any) -> Flask:
        app = create_app({**base_config(migrated, tmp_path, own), **overrides})
        built.append(app)
        return app

    yield _make
    for app in built:
        services_of(app).warehouse.dispose()
    if built:
        empty_tables(built[0])


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    """A database session in an app context, for domain-level tests."""
    with app.app_context():
        yield db.session()
        db.session.remove()


def csrf_from(html: bytes | str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    tag = soup.find("input", attrs={"name": "csrf_token"})
    assert tag is not None, "the page has no CSRF token"
    return str(tag["value"])


def post_form(
    client: FlaskClient, page: str, data: dict[str, Any], action: str | None = None
) -> Any:
    """Open ``page`` like a browser, then submit its form with ``data`` and its CSRF token."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.status_code
    return client.post(action or page, data={**data, "csrf_token": csrf_from(shown.data)})


def birth_parts(iso: str, name: str = "birth_date") -> dict[str, str]:
    """An ISO date as the three boxes of a date of birth send it (day, month, year)."""
    year, month, day = iso.split("-")
    return {f"{name}-day": day, f"{name}-month": month, f"{name}-year": year}


def file_form(client: FlaskClient, data: dict[str, Any], page: str = "/") -> Any:
    """Fill in the public form with ``data``, then send it from the "check your answers" page.

    Returns the answer to the send (303 to /request/sent), or the form's answer when it
    was refused (422) and no check page came.
    """
    checked = post_form(client, page, data, action="/")
    if checked.status_code != 200:
        return checked
    return client.post("/request/send", data=send_data(checked.data))


def send_data(check_page: bytes | str) -> dict[str, str]:
    """What the "Send my request" button of a check page sends: its token and the answers."""
    soup = BeautifulSoup(check_page, "html.parser")
    answers = soup.find("input", attrs={"name": "answers"})
    assert answers is not None, "the check page has no answers"
    return {"csrf_token": csrf_from(check_page), "answers": str(answers["value"])}


VALID_FILING = {
    "kind": "erasure",
    "first_name": "Élodie",
    "last_name": "Martin-Dupont",
    **birth_parts("1980-07-14"),
    "email": "elodie.martin@example.fr",
    "nir": "255081416802538",
    "details": "Séjours à l'hôpital de Lyon entre 2015 et 2018.",
}


def run_jobs(app: Flask, rounds: int = 10) -> int:
    """Run the worker in-process until no job is due; returns how many ran."""
    total = 0
    with app.app_context():
        for _ in range(rounds):
            ran = worker.run_batch(
                db.session(),
                HANDLERS,
                services_of(app),
                worker="test-worker",
                clock=utcnow,
                lease_seconds=60,
                policy=jobs.RetryPolicy.of(app.config),
                rng=random.Random(0),
            )
            total += ran
            if ran == 0:
                break
        db.session.remove()
    return total


@dataclass
class Received:
    """Messages an SMTP server accepted, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


_NEXT = [0]  # where the next look in TEST_PORTS starts: ports handed out in turn


def free_port() -> int:
    """A free loopback port: any, or one of TEST_PORTS ("7200-7299") if set.

    On a machine shared by several runs, each may be given its own range. The
    range is walked in turn, so a port just handed out (perhaps not bound yet)
    is not handed out again before the others.
    """
    wanted = os.environ.get("TEST_PORTS", "")
    if wanted:
        low, _, high = wanted.partition("-")
        ports = list(range(int(low), int(high or low) + 1))
        for step in range(len(ports)):
            port = ports[(_NEXT[0] + step) % len(ports)]
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _NEXT[0] = (_NEXT[0] + step + 1) % len(ports)
            return port
        raise RuntimeError(f"no free port in TEST_PORTS={wanted}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """A real aiosmtpd server on a loopback port that a test can stop and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received = Received()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.received, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_app(make_app: Any, smtp: SmtpServer) -> Flask:
    """An app whose mail goes to the test SMTP server."""
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(message: EmailMessage) -> str:
    """The portal link in an email's text part, as a path the test client can open."""
    for word in text_of(message).split():
        if word.startswith("https://portal.example.org/"):
            return word.removeprefix("https://portal.example.org")
    raise AssertionError("no portal link in the email")

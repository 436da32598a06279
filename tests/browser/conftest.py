"""Browser tests: Debian's Chromium, driven by Playwright, against a real portal.

One portal per session: gunicorn serving ``wsgi:app`` on a free loopback port,
one ``flask worker`` sending its emails to an aiosmtpd server of this process,
on a fresh SQLite database migrated with ``flask db upgrade`` and a copy of the
test warehouse, with the demo requests filed so that the staff queue is full.
The test process opens the same database through ``create_app`` to create
staff accounts and look up references; everything a person does goes through
the browser.

The tests share the warehouse, so none leaves it changed: after each test
using ``portal``, once the approvals' jobs have run, a changed warehouse is put
back as it was copied (in place, in milliseconds; a portal of its own takes
seconds to start), and the test fails unless it is marked
``changes_warehouse`` (an erasure approved). Whatever order the tests run in,
each reads the demo data of docs/demo.md.

Without ``/usr/bin/chromium`` every browser test is skipped, with the reason
given in the summary; with ``REQUIRE_BROWSER=1`` (set by ``.ci/run``) its
absence is an error instead. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.services import services_of
from tests.browser.kit import CHROMIUM, Portal, new_page
from tests.conftest import ROOT, SmtpServer, free_port

HERE = Path(__file__).resolve().parent


def _why_no_browser() -> str | None:
    if not CHROMIUM.exists():
        return (
            f"browser tests skipped: {CHROMIUM} not found "
            "(apt-get install -y chromium chromium-driver)"
        )
    try:
        import axe_playwright_python  # noqa: F401
        import playwright  # noqa: F401
    except ImportError:
        return "browser tests skipped: playwright or axe-playwright-python is not installed"
    return None


SKIPPED: list[str] = []


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    ours = [item for item in items if HERE in Path(str(item.fspath)).parents]
    reason = _why_no_browser()
    if reason is None or not ours:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"REQUIRE_BROWSER=1 but {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in ours:
        item.add_marker(skip)
    SKIPPED.append(f"{len(ours)} {reason}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in SKIPPED:
        terminalreporter.write_line(f"== {line} ==", yellow=True, bold=True)


def _wait_until_up(url: str, processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"the portal exited at start:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/accessibility", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"the portal did not answer within 60 s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[Portal]:
    """gunicorn and a worker on a fresh database, mail to a real SMTP server."""
    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(warehouse, folder / "warehouse.sqlite3")
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{folder / 'portal.sqlite3'}"
    secret_key = secrets.token_urlsafe(48)
    data_key = Fernet.generate_key().decode()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"TEST_DATABASE_URL", "FLASK_DEBUG"}
    }
    env.update(
        {
            "PORTAL_ENV": "test",
            "DATABASE_URL": database,
            "WAREHOUSE_URL": f"sqlite:///{folder / 'warehouse.sqlite3'}",
            "SECRET_KEY": secret_key,
            "DATA_ENCRYPTION_KEYS": data_key,
            "PORTAL_BASE_URL": url,
            "CONTACT_EMAIL": "dpo@portal.example.org",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp.port),
            "MAIL_DIR": str(folder / "mail"),
            "AUDIT_ANCHOR_FILE": str(folder / "audit-anchors.log"),
            "WORKER_POLL_SECONDS": "1",
            # One client address files and signs in for every test of the session.
            "RATELIMIT_FILING": "500 per hour",
            "RATELIMIT_STAFF_LOGIN": "200 per minute",
            "RATELIMIT_DOCUMENT": "200 per hour",
            "FILINGS_PER_ADDRESS_PER_HOUR": "50",
        }
    )
    log = folder / "portal.log"
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    gunicorn = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}"]
    processes: list[subprocess.Popen[bytes]] = []
    app = create_app(
        {
            "PORTAL_ENV": "test",
            "SQLALCHEMY_DATABASE_URI": database,
            "WAREHOUSE_URL": env["WAREHOUSE_URL"],
            "SECRET_KEY": secret_key,
            "DATA_ENCRYPTION_KEYS": [data_key],
            "PORTAL_BASE_URL": url,
        }
    )
    try:
        with log.open("ab") as out:
            for command in (["db", "upgrade"], ["demo-requests"]):
                subprocess.run(
                    [*flask, *command], cwd=ROOT, env=env, stdout=out, stderr=out, check=True
                )
            for command in (
                [*gunicorn, "--workers", "2", "--access-logfile", "-"],
                [*flask, "worker"],
            ):
                # A session of their own: a signal to this test run's process group
                # (a Ctrl-C) does not stop them behind the fixture's back.
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=out,
                        start_new_session=True,
                    )
                )
        _wait_until_up(url, processes, log)
        running = Portal(
            url=url,
            smtp=smtp,
            app=app,
            log=log,
            processes=processes,
            warehouse=folder / "warehouse.sqlite3",
            pristine=warehouse,
        )
        running.clean_digest = running.warehouse_digest()
        yield running
    finally:
        for process in processes:
            _stop(process)
        services_of(app).warehouse.dispose()
        smtp.stop()


@pytest.fixture(autouse=True)
def _warehouse_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """Put the shared warehouse back if a test changed it; fail the test unless it said so.

    Waits for the approvals' jobs first: an erasure runs after the click that
    approves it, perhaps after the test has ended.
    """
    if "portal" not in request.fixturenames:
        yield
        return
    portal: Portal = request.getfixturevalue("portal")
    yield
    portal.settle()
    if portal.warehouse_digest() == portal.clean_digest:
        return
    portal.restore_warehouse()
    assert request.node.get_closest_marker("changes_warehouse"), (
        f"{request.node.nodeid} changed the shared warehouse, which later tests read: "
        "mark it @pytest.mark.changes_warehouse (it is then restored after the test)"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, kept from calling home."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, portal: Portal) -> Iterator[Any]:
    """A fresh page whose context is closed after the test."""
    opened = new_page(browser, portal)
    yield opened
    opened.context.close()

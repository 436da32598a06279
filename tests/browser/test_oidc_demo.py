"""The demo identity provider in a real browser: file from another address, then sign in.

Its own portal, in demo mode (the provider exists in no other), served by
``flask demo-serve`` as ``make demo`` does, with a worker and mail to the
test SMTP server. Screenshots of the status page's button and of the
provider's page go to ``OIDC_SHOTS`` when it is set, at 1280 and 375 px, in
French and English.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Request
from app.services import services_of
from tests.browser.conftest import _stop, _wait_until_up
from tests.browser.kit import (
    CAMILLE,
    Portal,
    check_accessibility,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    t,
    wait_for_plan,
    wait_for_proof_page,
)
from tests.conftest import ROOT, SmtpServer, free_port

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("OIDC_SHOTS")


@pytest.fixture(scope="module")
def demo_portal(tmp_path_factory: pytest.TempPathFactory, warehouse: Path) -> Iterator[Portal]:
    folder = tmp_path_factory.mktemp("oidc-demo")
    shutil.copy(warehouse, folder / "warehouse.sqlite3")
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "FLASK_DEBUG"}}
    env.update(
        {
            "PORTAL_ENV": "demo",
            "DATABASE_URL": f"sqlite:///{folder / 'portal.sqlite3'}",
            "WAREHOUSE_URL": f"sqlite:///{folder / 'warehouse.sqlite3'}",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_KEYS": secrets.token_urlsafe(40),
            "NAME_SEARCH_KEYS": secrets.token_urlsafe(40),
            "OIDC_CLIENT_SECRET": secrets.token_urlsafe(32),
            "PORTAL_BASE_URL": url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp.port),
            "MAIL_DIR": str(folder / "mail"),
            "AUDIT_ANCHOR_FILE": str(folder / "audit-anchors.log"),
            "WORKER_POLL_SECONDS": "1",
            "RATELIMIT_FILING": "500 per hour",
            "FILINGS_PER_ADDRESS_PER_HOUR": "50",
        }
    )
    for name in ("OIDC_ISSUER", "OIDC_DISCOVERY_URL", "OIDC_CLIENT_ID"):
        env.pop(name, None)
    log = folder / "portal.log"
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    processes: list[subprocess.Popen[bytes]] = []
    app = create_app(
        {
            "PORTAL_ENV": "test",
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "WAREHOUSE_URL": env["WAREHOUSE_URL"],
            "PORTAL_BASE_URL": url,
        }
    )
    try:
        with log.open("ab") as out:
            subprocess.run(
                [*flask, "db", "upgrade"], cwd=ROOT, env=env, stdout=out, stderr=out, check=True
            )
            for command in (
                [*flask, "demo-serve", "--host", "127.0.0.1", "--port", str(port)],
                [*flask, "worker"],
            ):
                processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
                    )
                )
        _wait_until_up(url, processes, log)
        yield Portal(url=url, smtp=smtp, app=app, log=log, processes=processes)
    finally:
        for process in processes:
            _stop(process)
        services_of(app).warehouse.dispose()
        smtp.stop()


def _shoot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_signing_in_with_the_demo_provider_shows_the_plan(browser, demo_portal, lang):
    portal = demo_portal
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    filing = persona(CAMILLE, f"camille-oidc-{lang}@elsewhere.example", kind="access")
    file_and_confirm(page, portal, filing, lang)

    # From an address that is not hers: nothing about her data, a button instead.
    button = page.get_by_role(
        "button",
        name=t("Prove my identity with %(provider)s", lang) % {"provider": "FranceConnect"},
    )
    wait_for_proof_page(page, lang)
    assert button.is_visible()
    assert not page.get_by_role(
        "heading", name=exactly("What we found and what will happen", lang)
    ).is_visible()
    assert check_accessibility(page, f"status with sign-in ({lang})") == []
    _shoot(page, f"status-oidc-{lang}-1280")
    page.set_viewport_size({"width": 375, "height": 800})
    _shoot(page, f"status-oidc-{lang}-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    button.click()
    page.wait_for_url("**/demo/identity/choose")
    assert page.locator("h1").inner_text() == t("Demo identity provider", lang)
    assert check_accessibility(page, f"demo identity provider ({lang})") == []
    _shoot(page, f"demo-provider-{lang}-1280")
    page.set_viewport_size({"width": 375, "height": 800})
    _shoot(page, f"demo-provider-{lang}-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role(
        "button",
        name=t("Sign in as %(name)s", lang) % {"name": "Camille Marie Anne Lefèvre-Dubois"},
    ).click()
    page.wait_for_url("**/status")
    notice = page.locator(".notice").inner_text()
    assert (
        t("Thank you: %(provider)s has confirmed who you are. Your request goes on.", lang)
        % {"provider": "FranceConnect"}
        in notice
    )
    wait_for_plan(page, lang)
    assert page.locator(".plan-card").count() > 0
    _shoot(page, f"status-after-oidc-{lang}-1280")


def test_signing_in_as_someone_else_sends_the_request_to_staff(browser, demo_portal):
    portal = demo_portal
    page = new_page(browser, portal)
    file_and_confirm(
        page, portal, persona(CAMILLE, "not-camille@elsewhere.example", "access"), "fr"
    )
    wait_for_proof_page(page, "fr")
    page.get_by_role("button", name="Prouver mon identité avec FranceConnect").click()
    page.wait_for_url("**/demo/identity/choose")
    page.get_by_role("button", name="Se connecter en tant que Marie Martin").first.click()
    page.wait_for_url("**/status")
    assert "n’est pas celle de votre demande" in page.locator(".notice").inner_text()
    with portal.app.app_context():
        request = db.session.scalar(
            select(Request).where(Request.email == "not-camille@elsewhere.example")
        )
        assert (request.status, request.assurance) == ("identity_review", "email")
        db.session.remove()
    assert not page.locator("#plan").is_visible()

"""An identity document in a real browser: sent from the status page, checked on the case page.

Camille files from an address her records do not hold, so her request waits for
a proof; she sends a photo of her card, an agent sees it inline and accepts it.
With ``SHOTS_DIR`` set, the pages are saved there at 1280 and 375 pixels.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Request
from tests.browser.kit import (
    CAMILLE,
    PATIENCE,
    check_accessibility,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    sign_in,
    t,
)
from tests.identity import files

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)


def _shoot(page, name: str) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _wait_for_upload_form(page, lang: str, timeout: float = PATIENCE) -> None:
    heading = page.get_by_role("heading", name=exactly("Send an identity document", lang))
    deadline = time.monotonic() + timeout
    while not heading.is_visible():
        assert time.monotonic() < deadline, "the upload form never appeared on the status page"
        time.sleep(0.5)
        page.reload()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_document_sent_from_the_status_page_is_checked_inline_by_staff(
    browser, portal, tmp_path, lang
):
    """Upload a wrong file, then a photo; staff see it inline and accept it."""
    address = f"camille.other.{lang}@example.net"
    citizen = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    file_and_confirm(citizen, portal, persona(CAMILLE, address, kind="access"), lang)
    _wait_for_upload_form(citizen, lang)
    assert check_accessibility(citizen, "status page with the upload form") == []
    _shoot(citizen, f"status-upload-empty-{lang}")

    wrong = tmp_path / "carte.pdf"
    wrong.write_bytes(files.HTML)
    citizen.set_input_files("#document", str(wrong))
    citizen.get_by_role("button", name=exactly("Send the document", lang)).click()
    error = citizen.locator("#document-error")
    assert t("The selected file must be a PDF, JPG or PNG.", lang) in error.inner_text()
    assert check_accessibility(citizen, "status page with an upload error") == []
    _shoot(citizen, f"status-upload-error-{lang}")

    photo = tmp_path / "carte.jpg"
    photo.write_bytes(files.jpeg((900, 570)))
    citizen.set_input_files("#document", str(photo))
    citizen.get_by_role("button", name=exactly("Send the document", lang)).click()
    citizen.get_by_text(t("Your document is waiting for a check.", lang)).wait_for()
    _shoot(citizen, f"status-upload-waiting-{lang}")

    with portal.app.app_context():
        reference = db.session.scalar(select(Request.reference).where(Request.email == address))
        db.session.remove()
    agent = portal.staff(f"agent.document.{lang}@example.org", "agent")
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, agent, lang)
    page.goto(f"/staff/cases/{reference}?lang={lang}")
    image = page.locator("img.document-image")
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.naturalWidth") == 900
    _shoot(page, f"staff-case-document-{lang}")
    page.get_by_role("button", name=exactly("Accept: identity proven", lang)).click()
    page.wait_for_url(re.compile(rf"/staff/cases/{reference}$"))
    assert page.locator("img.document-image").count() == 0


def test_a_pdf_is_shown_in_its_frame(browser, portal, tmp_path):
    """The PDF viewer opens the sandboxed document inside the case page."""
    address = "camille.pdf@example.net"
    citizen = new_page(browser, portal)
    file_and_confirm(citizen, portal, persona(CAMILLE, address, kind="access"), "fr")
    _wait_for_upload_form(citizen, "fr")
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(files.pdf())
    citizen.set_input_files("#document", str(scan))
    citizen.get_by_role("button", name=exactly("Send the document", "fr")).click()
    citizen.get_by_text(t("Your document is waiting for a check.", "fr")).wait_for()
    with portal.app.app_context():
        reference = db.session.scalar(select(Request.reference).where(Request.email == address))
        db.session.remove()
    agent = portal.staff("agent.pdf@example.org", "agent")
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, agent)
    with page.expect_response(re.compile(r"/identity-document/\d+$")) as shown:
        page.goto(f"/staff/cases/{reference}")
    assert shown.value.status == 200
    assert shown.value.headers["content-type"] == "application/pdf"
    page.locator("iframe.document-pdf").wait_for()
    if os.environ.get("SHOTS_DIR"):
        time.sleep(1.5)  # the viewer draws the page after the frame loads: nothing to wait on
        _shoot(page, "staff-case-pdf-fr")

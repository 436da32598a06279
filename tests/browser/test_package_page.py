"""Camille's access package in Chromium: a laptop, a phone, and paper.

The page is the file the requester downloads, opened from disk as they would
open it: tables at 1280 px, one card per record at 375 px with no sideways
scroll, no axe violation, and printed to PDF on A4 with the reference on
every page.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.browser.kit import LANGUAGES, check_accessibility, screenshot
from tests.fulfilment.test_package_view import camille_package

pytestmark = pytest.mark.browser
REFERENCE = "DSR-2026-7K3QF9"


def _shot(page, name: str) -> None:
    """Whole, into SHOTS_DIR when set (to look at); its top in docs/screenshots (SCREENSHOTS=1)."""
    folder = os.environ.get("SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    if name.endswith("-fr"):  # the README shows the French pages
        screenshot(page, name, full_page=False)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_package_reads_on_a_laptop_a_phone_and_paper(app, browser, tmp_path, lang):
    """Tables at 1280 px, cards at 375 px, no sideways scroll, no axe violation, A4 PDF pages."""
    path = tmp_path / f"dossier-{REFERENCE}.html"
    path.write_text(camille_package(app, lang).html_text, encoding="utf-8")
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(path.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    header = page.locator("section.category table thead").first
    assert header.is_visible()
    problems += check_accessibility(page, f"access package, 1280 px [{lang}]")
    _shot(page, f"package-{lang}")

    pdf = page.pdf(format="A4", print_background=True)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 1
    texts = [p.extract_text() for p in reader.pages]
    assert all(text.strip() for text in texts)
    assert all(REFERENCE in text for text in texts), "the reference is on every page"
    if os.environ.get("SHOTS_DIR"):
        (Path(os.environ["SHOTS_DIR"]) / f"package-{lang}.pdf").write_bytes(pdf)
        page.emulate_media(media="print")
        _shot(page, f"package-print-{lang}")
        page.emulate_media(media="screen")

    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # Each record is a card, each value under its label; the column headings only for readers.
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('section.category tbody tr')).display"
        )
        == "block"
    )
    assert header.bounding_box()["height"] <= 1
    label = page.evaluate(
        "getComputedStyle(document.querySelector('section.category tbody td'), '::before').content"
    )
    assert label.strip('"') and label != "none"
    problems += check_accessibility(page, f"access package, 375 px [{lang}]")
    _shot(page, f"package-phone-{lang}")
    context.close()
    assert not problems, "\n".join(problems)

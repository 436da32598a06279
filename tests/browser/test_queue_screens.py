"""The queue's new screens in a real browser, French and English: ticking rows with the
keyboard and claiming them at once, the per-case result, saved filters; axe on each, and
screenshots at 1280 and 375 px (written to SHOTS_DIR when it is set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.kit import LANGUAGES, check_accessibility, exactly, new_page, sign_in, t

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)
# Does anything stick out of the screen, outside a scrolling box?
SIDEWAYS = """() => document.documentElement.scrollWidth > window.innerWidth + 1"""


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots at each width, when SHOTS_DIR names a folder; no sideways scroll."""
    folder = os.environ.get("SHOTS_DIR")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert not page.evaluate(SIDEWAYS), f"{name} scrolls sideways at {width} px"
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_bulk_claim_and_saved_filters_with_the_keyboard(browser, portal, lang):
    """Tab to the rows' boxes, tick three with Space, claim them; save a filter and delete it."""
    problems: list[str] = []
    dpo = portal.staff(f"dpo.queue.{lang}@example.org", "dpo")
    page = new_page(browser, portal)
    sign_in(page, portal, dpo, lang)
    page.goto(f"/staff/queue?lang={lang}&assignee=unassigned")
    problems += check_accessibility(page, f"queue {lang}")
    shoot(page, f"queue-bulk-{lang}")

    boxes = page.locator("input[name=case][form=bulk]")
    assert boxes.count() >= 3
    boxes.first.focus()
    for index in range(3):
        assert page.evaluate("document.activeElement.name") == "case"
        page.keyboard.press("Space")
        # From one box the next is a few tabs away (the row's reference link between).
        if index < 2:
            page.keyboard.press("Tab")
            while page.evaluate("document.activeElement.name") != "case":
                page.keyboard.press("Tab")
    ticked = [box.get_attribute("value").split(":")[0] for box in boxes.all()[:3]]
    assert all(box.is_checked() for box in boxes.all()[:3])
    page.get_by_role("button", name=exactly("Claim them", lang)).click()
    page.wait_for_url("**/staff/queue/bulk")
    rows = page.locator("table.bulk-results tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).locator("th").inner_text() for i in range(3)] == ticked
    assert page.locator("table.bulk-results tr.done").count() == 3
    problems += check_accessibility(page, f"bulk result {lang}")
    shoot(page, f"queue-bulk-result-{lang}")

    page.goto(f"/staff/queue?lang={lang}&due=30&kind=erasure")
    page.locator("#filter-name").fill(t("Overdue erasures", "en") + f" {lang}")
    page.get_by_role("button", name=exactly("Save this filter", lang)).click()
    saved = page.locator(".saved-filters li a")
    assert saved.first.inner_text() == f"Overdue erasures {lang}"
    problems += check_accessibility(page, f"saved filter {lang}")
    shoot(page, f"queue-saved-filter-{lang}")
    page.locator("#filter-name").fill("")
    page.get_by_role("button", name=exactly("Save this filter", lang)).click()
    assert page.locator("#filter-name-error").is_visible()
    assert page.locator("#filter-name").get_attribute("aria-invalid") == "true"
    problems += check_accessibility(page, f"saved filter error {lang}")
    page.locator(".saved-filters li button").first.click()
    assert page.locator(".saved-filters li").count() == 0
    page.context.close()
    assert problems == [], "\n".join(problems)

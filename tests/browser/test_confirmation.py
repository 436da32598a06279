"""The new staff screens in a real browser, in both languages: the confirmation of an erasure,
the timeline worded as sentences and the sortable queue; axe finds nothing on them.

Screenshots go to SHOTS_DIR when it is set (1280 and 375 pixels wide).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.kit import (
    CAMILLE,
    check_accessibility,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    prove_identity,
    sign_in,
    wait_for_plan,
)

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)


def _shoot(page, name: str) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.changes_warehouse  # Camille's erasable records
def test_a_dpo_confirms_an_erasure_after_reading_what_it_erases(browser, portal):
    """Prepared by an agent; the DPO's first press shows the categories, the second erases."""
    address = "confirm-erasure@example.org"
    citizen = new_page(browser, portal)
    file_and_confirm(citizen, portal, persona(CAMILLE, address), "fr")
    reference = prove_identity(citizen, portal, "fr")
    wait_for_plan(citizen, "fr")
    citizen.context.close()

    agent = portal.staff("agent.confirm@example.org", "agent")
    dpo = portal.staff("dpo.confirm@example.org", "dpo")
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, agent)
    assert page.url.endswith("/staff/queue")  # sign-in lands on the requests
    page.goto("/staff/queue?sort=received&dir=desc")
    assert page.locator("th[aria-sort=descending]").count() == 1
    problems = check_accessibility(page, "queue sorted [fr]")
    _shoot(page, "queue-sorted-fr")
    page.goto("/staff/queue?sort=received&dir=desc&lang=en")
    problems += check_accessibility(page, "queue sorted [en]")
    _shoot(page, "queue-sorted-en")
    page.goto(f"/staff/cases/{reference}?lang=fr")
    page.get_by_role("button", name=exactly("Claim this case", "fr")).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    page.get_by_role("button", name=exactly("Prepare the erasure for approval", "fr")).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    page.get_by_role("button", name=exactly("Sign out", "fr")).click()
    page.wait_for_url("**/staff/login")

    sign_in(page, portal, dpo)
    page.goto("/staff/queue?approval=me")
    assert page.get_by_role("link", name=reference).count() == 1
    for lang in ("en", "fr"):
        page.goto(f"/staff/cases/{reference}?lang={lang}")
        page.get_by_role("button", name=exactly("Approve this decision", lang)).click()
        heading = page.get_by_role("heading", level=1)
        assert exactly("Confirm the erasure", lang).search(
            heading.inner_text().split("DSR")[0].strip()
        )
        table = page.get_by_role("table").first.inner_text()
        assert "hospital." not in table and "social_security." not in table
        problems += check_accessibility(page, f"confirm erasure [{lang}]")
        _shoot(page, f"confirm-erasure-{lang}")
    page.get_by_role("button", name=exactly("Yes, erase these records", "fr")).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    assert page.locator("[data-status]").first.get_attribute("data-status") in {
        "approved",
        "fulfilling",
        "completed",
    }
    for lang in ("fr", "en"):
        page.goto(f"/staff/cases/{reference}?lang={lang}")
        history = page.locator("ol.timeline").inner_text()
        assert "status." not in history and "system:" not in history and "=" not in history
        problems += check_accessibility(page, f"case timeline [{lang}]")
        _shoot(page, f"case-timeline-{lang}")
    page.context.close()
    assert problems == [], "\n".join(problems)

"""The queue's new screens in a real browser, French and English: ticking rows with the
keyboard and claiming them at once, the per-case result, saved filters; axe on each, and
screenshots at 1280 and 375 px (written to SHOTS_DIR when it is set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.kit import (
    LANGUAGES,
    WIDEST,
    check_accessibility,
    exactly,
    new_page,
    sign_in,
    t,
)

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)
# Does anything stick out of the screen, outside a scrolling box?
SIDEWAYS = """() => document.documentElement.scrollWidth > window.innerWidth + 1"""


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots at each width, when SHOTS_DIR names a folder; no sideways scroll."""
    folder = os.environ.get("SHOTS_DIR")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        sideways = page.evaluate(SIDEWAYS)
        assert not sideways, f"{name} scrolls sideways at {width} px: {page.evaluate(WIDEST)}"
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
    # At 375 px the table is wider than the screen: its box scrolls, from the keyboard too
    # (axe's scrollable-region-focusable, checked at that width).
    page.set_viewport_size({"width": 375, "height": 900})
    region = page.get_by_role("region", name=exactly("Open requests", lang))
    assert region.evaluate("box => box.scrollWidth > box.clientWidth")
    region.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.queue-scroll').scrollLeft > 0")
    problems += check_accessibility(page, f"queue {lang} at 375 px")
    page.set_viewport_size({"width": 1280, "height": 900})

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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_audit_filters_by_pick_lists_and_the_pages_changed_with_them(browser, portal, lang):
    """The audit page's pick-lists chosen with the keyboard; the dashboard's counts and the
    case page's sections: axe on each, screenshots at both widths."""
    problems: list[str] = []
    dpo = portal.staff(f"dpo.audit.{lang}@example.org", "dpo")
    page = new_page(browser, portal)
    sign_in(page, portal, dpo, lang)
    page.goto(f"/staff/audit?lang={lang}")
    page.locator("#actor").select_option(label=dpo.email)
    page.locator("#action").focus()
    page.locator("#action").select_option("staff.")
    page.get_by_role("button", name=exactly("Show", lang)).click()
    page.wait_for_url("**/staff/audit?**")
    assert "actor=staff" in page.url and "action=staff." in page.url
    actions = page.locator("table.queue-table tbody td:nth-child(4)").all_inner_texts()
    assert actions and all(a.startswith("staff.") for a in actions)
    problems += check_accessibility(page, f"audit {lang}")
    shoot(page, f"audit-filters-{lang}")

    page.goto(f"/staff/dashboard?lang={lang}")
    problems += check_accessibility(page, f"dashboard {lang}")
    shoot(page, f"dashboard-{lang}")

    page.goto(f"/staff/queue?lang={lang}")
    page.locator("a.reference").first.click()
    page.wait_for_url("**/staff/cases/**")
    headings = page.locator("h2[id]").evaluate_all("hs => hs.map(h => h.id)")
    assert headings[:2] == ["asked", "requester"] and headings[-1] == "history"
    problems += check_accessibility(page, f"case {lang}")
    shoot(page, f"case-{lang}")
    page.context.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refusal_message_is_previewed_before_the_dpo_confirms(browser, portal, lang):
    """An agent prepares a refusal with a message; the DPO's confirmation shows it."""
    problems: list[str] = []
    agent = portal.staff(f"agent.refuse.{lang}@example.org", "agent")
    dpo = portal.staff(f"dpo.refuse.{lang}@example.org", "dpo")
    page = new_page(browser, portal)
    sign_in(page, portal, agent, lang)
    page.goto(f"/staff/queue?lang={lang}&assignee=unassigned&status=triage")
    page.locator("a.reference").first.click()
    page.wait_for_url("**/staff/cases/**")
    case_url = page.url.split("?")[0]
    page.get_by_role("button", name=exactly("Claim this case", lang)).click()
    page.locator("summary", has_text=t("Prepare a refusal", lang)).click()
    page.locator("#refuse-ground").select_option("legal_obligation")
    page.locator("#refuse-message").fill(
        "Merci de nous écrire si vous pensez que c'est une erreur."
    )
    page.get_by_role("button", name=exactly("Prepare the refusal", lang)).click()
    assert page.get_by_text(
        t("A data protection officer will approve it.", lang)
    ).first.is_visible()
    page.context.close()

    page = new_page(browser, portal)
    sign_in(page, portal, dpo, lang)
    page.goto(f"{case_url}?lang={lang}")
    late = page.locator("#late-justification")
    if late.count():  # past the month from receipt: the DPO justifies the late refusal
        late.fill("The hospital answered late.")
    page.get_by_role("button", name=exactly("Approve this decision", lang)).click()
    preview = page.locator("blockquote.preview").all_inner_texts()
    assert "Merci de nous écrire si vous pensez que c'est une erreur." in preview
    problems += check_accessibility(page, f"refusal confirmation {lang}")
    shoot(page, f"refusal-confirmation-{lang}")
    page.context.close()
    assert problems == [], "\n".join(problems)

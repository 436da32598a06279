"""The case page's third-party review in a real browser: read, mask a passage, finish.

Jean-Baptiste Santoni's referral letter names his sister (docs/demo.md): the
holder masks that sentence, sees it struck through with a button to put it
back, says the review is done and approves; the confirmation step says how
many passages the copy masks. Screenshots at 1280 and 375 px in both
languages (SCREENSHOTS=1), axe on each state.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from app.demo.personas import SANTONI_SISTER
from tests.browser.kit import (
    LANGUAGES,
    SCREENSHOTS,
    check_accessibility,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    prove_identity,
    sign_in,
    t,
    wait_for_plan,
)

pytestmark = pytest.mark.browser
REFERENCE = re.compile(r"DSR-\d{4}-[0-9A-HJKMNP-TV-Z]{6}")
SANTONI = 8
# Select the words given in the first record's text, as a mouse would, and let go.
SELECT = """words => {
  const text = document.querySelector(".review-text");
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.textContent.indexOf(words);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + words.length);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      text.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
      return;
    }
  }
  throw new Error("words not found");
}"""


def section_shot(page: Any, name: str, selector: str = "section.third-parties") -> None:
    """One part of the page alone, as docs/screenshots/<name>.png (SCREENSHOTS=1)."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(selector).screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_holder_masks_a_passage_about_a_relative_then_approves(browser, portal, lang):
    address = f"third-parties-{lang}@example.org"
    citizen = new_page(browser, portal)
    file_and_confirm(citizen, portal, persona(SANTONI, address, kind="access"), lang)
    prove_identity(citizen, portal, lang)
    wait_for_plan(citizen, lang)
    found = REFERENCE.search(citizen.locator("h1").inner_text())
    assert found is not None
    reference = found.group(0)
    portal.end_reflection(reference)

    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, portal.staff(f"tp-agent-{lang}@example.org", "agent"), lang)
    page.goto(f"/staff/cases/{reference}")
    page.get_by_role("button", name=exactly("Claim this case", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    section = page.locator(".review-record")
    assert section.count() == 1
    assert "Martine Santoni" in section.inner_text()
    problems = check_accessibility(page, f"case page, third-party review [{lang}]")

    # Approving first is refused, with the reason.
    page.get_by_role("button", name=exactly("Approve the plan", lang)).click()
    alert = page.locator("#case-error")
    assert t("Nothing was changed", lang) in alert.inner_text()

    # With scripts: selecting words fills the box and their place.
    page.evaluate(SELECT, "Martine Santoni")
    box = page.get_by_label(t("Passage to mask, copied exactly from the text", lang))
    assert box.input_value() == "Martine Santoni"
    start = page.locator(".review-record input[name=start]").input_value()
    assert start.isdigit() and int(start) > 0
    page.get_by_role("button", name=exactly("Mask this passage", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}#third-parties")
    assert page.locator(".review-text del.masked").inner_text().endswith("Martine Santoni")
    page.get_by_role("button", name=exactly("Put this passage back", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}#third-parties")
    assert page.locator(".review-text del.masked").count() == 0

    page.get_by_label(t("Passage to mask, copied exactly from the text", lang)).fill(
        SANTONI_SISTER
    )
    page.get_by_role("button", name=exactly("Mask this passage", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}#third-parties")
    masked = page.locator(".review-text del.masked")
    assert masked.count() == 1 and "Martine Santoni" in masked.inner_text()
    assert page.get_by_role("button", name=exactly("Put this passage back", lang)).count() == 1
    problems += check_accessibility(page, f"case page, passage masked [{lang}]")
    section_shot(page, f"staff-third-parties-{lang}-1280")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    problems += check_accessibility(page, f"case page on a phone, passage masked [{lang}]")
    section_shot(page, f"staff-third-parties-{lang}-375")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name=exactly("Review done: nothing else to mask", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}#third-parties")
    page.get_by_role("button", name=exactly("Approve the plan", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}/approve*")
    # The confirmation step says how many passages the copy masks.
    said = page.locator("#masked-for-others").inner_text()
    assert said.startswith("1 ") and "15" in said, said
    problems += check_accessibility(page, f"approval confirmation, passage masked [{lang}]")
    section_shot(page, f"staff-confirm-masked-{lang}-1280", "#what-happens")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    section_shot(page, f"staff-confirm-masked-{lang}-375", "#what-happens")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name=exactly("Yes, release this data", lang)).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    assert problems == [], "\n".join(problems)

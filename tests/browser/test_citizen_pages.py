"""Pages fixed in issue 14, at 1280 and 375 px, in both languages: layout, focus, axe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.kit import (
    CAMILLE,
    LANGUAGES,
    check_accessibility,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    prove_identity,
    t,
    wait_for_plan,
)

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)


def _fits(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("innerWidth")
    assert width <= inner, f"{name}: {width}px wide on a {inner}px screen"


def _shoot(page, name: str) -> None:
    """Full-page screenshots at both widths to SHOTS_DIR, when it is set."""
    folder = os.environ.get("SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _summary_takes_focus(page) -> None:
    """``autofocus`` moves the focus at the browser's next rendering, not when the element
    appears: wait for the focus, not just for the summary (under load that is later)."""
    expect(page.locator(".error-summary")).to_be_focused(timeout=15_000)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plan_and_withdrawal_error_fit_and_read_well(browser, portal, lang):
    """The plan's cards and the withdrawal's error fit both widths; the summary takes focus."""
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    file_and_confirm(page, portal, persona(CAMILLE, f"pages-{lang}@example.org"), lang)
    prove_identity(page, portal, lang)
    wait_for_plan(page, lang)
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        _fits(page, f"status page at {width}")
        assert page.locator(".plan-summary").is_visible()
        titles = page.locator(".plan-card-title").all_inner_texts()
        assert len(titles) == len(set(titles)) > 3
        problems += check_accessibility(page, f"status page with plan at {width} ({lang})")
    # The plan's cards come from the fragment cache from the second view on.
    page.reload()
    _shoot(page, f"status-plan-{lang}")
    page.goto(f"{portal.url}/?lang={lang}")
    _shoot(page, f"form-{lang}")
    page.goto(f"{portal.url}/status")

    page.get_by_role("link", name=exactly("Withdraw my request", lang)).click()
    page.wait_for_url("**/status/withdraw")
    page.get_by_role("button", name=exactly("Withdraw my request", lang)).click()
    _summary_takes_focus(page)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        _fits(page, f"withdrawal error at {width}")
        error = page.locator("#confirm-error").bounding_box()
        box = page.locator("#confirm").bounding_box()
        assert error and box
        # Across the width, above the box: not one word per line, not under the box.
        assert error["width"] > 200, error
        assert box["y"] >= error["y"] + error["height"] - 1, (error, box)
        assert error["height"] < 80, error
        problems += check_accessibility(page, f"withdrawal with error at {width} ({lang})")
    assert problems == [], "\n".join(problems)
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_asking_for_a_status_link_says_what_happens(browser, portal, lang):
    """Errors take the focus; the confirmation is its own page, not the filing page's."""
    page = new_page(browser, portal, viewport={"width": 375, "height": 800})
    page.goto(f"/status/link?lang={lang}")
    page.locator("#email").fill("not an address")
    page.get_by_role("button", name=exactly("Send me a link", lang)).click()
    _summary_takes_focus(page)
    page.locator("#email").fill(f"nobody-pages-{lang}@example.org")
    page.get_by_role("button", name=exactly("Send me a link", lang)).click()
    page.wait_for_url("**/status/link/sent")
    text = page.locator("main").inner_text()
    assert t("The link is valid for %(hours)d hours.", lang) % {"hours": 24} not in text
    assert "400" in text
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        _fits(page, f"status link sent at {width}")
        problems += check_accessibility(page, f"status link sent at {width} ({lang})")
    assert problems == [], "\n".join(problems)
    page.context.close()


def _shot(page, name: str) -> None:
    """Saved to SHOTS_DIR when it is set, to be looked at."""
    import os
    from pathlib import Path

    folder = os.environ.get("SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_date_of_birth_check_answers_and_sent_page(browser, portal, lang):
    """The three date boxes with an impossible date, the check page and the sent page fit
    1280 and 375 px; the error names the day and month and sits above the boxes."""
    from tests.browser.kit import fill_form

    address = f"check-{lang}@example.org"
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    fill_form(page, persona(CAMILLE, address), lang)
    page.locator("#birth_date-day").fill("31")
    page.locator("#birth_date-month").fill("2")
    page.get_by_role("button", name=exactly("Continue", lang)).click()
    _summary_takes_focus(page)
    assert page.locator(".error-summary a").first.get_attribute("href") == "#birth_date-day"
    assert "31/02/" in page.locator("#birth_date-error").inner_text()
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        _fits(page, f"date error at {width}")
        error = page.locator("#birth_date-error").bounding_box()
        day = page.locator("#birth_date-day").bounding_box()
        year = page.locator("#birth_date-year").bounding_box()
        assert error and day and year
        assert day["y"] >= error["y"] + error["height"] - 1, (error, day)
        assert error["height"] < 80 and day["width"] < year["width"] < 120, (day, year)
        assert page.locator("#birth_date-day").get_attribute("aria-invalid") == "true"
        assert page.locator("#birth_date-year").get_attribute("aria-invalid") is None
        problems += check_accessibility(page, f"impossible date at {width} ({lang})")
        page.locator("fieldset.date-input").first.scroll_into_view_if_needed()
        _shot(page, f"date-error-{lang}-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#birth_date-day").fill("14")
    page.locator("#birth_date-month").fill("5")
    page.get_by_role("button", name=exactly("Continue", lang)).click()
    page.locator("form[action='/request/send']").wait_for()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        _fits(page, f"check page at {width}")
        problems += check_accessibility(page, f"check your answers at {width} ({lang})")
        _shot(page, f"check-answers-{lang}-{width}")
    # "Change" goes back to the form with every answer kept.
    page.locator("button[name=change][value=email]").click()
    page.locator("#email").wait_for()
    assert page.locator("#email").input_value() == address
    assert page.locator("#birth_date-month").input_value() == "5"  # as typed
    page.get_by_role("button", name=exactly("Continue", lang)).click()
    page.get_by_role("button", name=exactly("Send my request", lang)).click()
    page.wait_for_url("**/request/sent")
    assert address in page.locator(".sent-to").inner_text()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        _fits(page, f"sent page at {width}")
        problems += check_accessibility(page, f"sent page at {width} ({lang})")
        _shot(page, f"sent-{lang}-{width}")
    assert problems == [], "\n".join(problems)
    page.context.close()

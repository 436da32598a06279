"""The citizen's journeys in a real browser: in French, in English, and by keyboard alone."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app import dates
from tests.browser.kit import (
    CAMILLE,
    THOMAS,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    prove_identity,
    screenshot,
    t,
    wait_for_plan,
)

pytestmark = pytest.mark.browser
REFERENCE = re.compile(r"DSR-\d{4}-[0-9A-HJKMNP-TV-Z]{6}")


def _today() -> datetime:
    return datetime.now(ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    ("lang", "number"), [("fr", CAMILLE), ("en", THOMAS)], ids=["french", "english"]
)
def test_file_confirm_follow_and_withdraw(browser, portal, lang, number):
    """File, open the emailed link, confirm, read the plan, withdraw: all in one language."""
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    address = f"journey-{lang}@example.org"
    filing = persona(number, address)

    page.goto(f"/?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.title().startswith(t("Exercise your rights over your health data", lang))
    if lang == "fr":
        screenshot(page, "public-form-fr")

    file_and_confirm(page, portal, filing, lang)
    assert t("Your email address is confirmed and your request has been received.", lang) in (
        page.locator(".notice").inner_text()
    )
    reference = REFERENCE.search(page.locator("h1").inner_text())
    assert reference is not None
    # Dates as the reader writes them: "3 décembre 2026" or "3 December 2026" (app.dates).
    received = dates.long_date(_today().date(), lang)
    assert received in page.locator(".summary").inner_text()

    assert page.locator(".plan-card").count() == 0  # nothing shown before the proof
    prove_identity(page, portal, lang)
    wait_for_plan(page, lang)
    lines = page.locator(".plan-card")
    assert lines.count() > 0
    assert t("Legal basis", lang) in lines.first.inner_text()
    if lang == "fr":
        screenshot(page, "status-fr")

    # The acknowledgement (with the status link), the request for a proof of identity,
    # its confirmation and "what we found" arrive in this language.
    messages = portal.mail_to(address, 5)
    subjects = [m["Subject"] for m in messages]
    values = {"reference": reference.group(0)}
    acknowledgement = t("Your request %(reference)s has been received", lang) % values
    assert acknowledgement in subjects
    assert t("Your request %(reference)s: please prove who you are", lang) % values in subjects
    assert t("Your request %(reference)s: your identity is confirmed", lang) % values in subjects
    assert t("Your request %(reference)s: what we found", lang) % values in subjects
    status_link = portal.link_in(messages[subjects.index(acknowledgement)])
    assert "/s/" in status_link

    page.get_by_role("link", name=exactly("Withdraw my request", lang)).click()
    page.wait_for_url("**/status/withdraw")
    page.get_by_role("button", name=exactly("Withdraw my request", lang)).click()
    # Not ticked: the error is tied to its box.
    box = page.locator("#confirm")
    assert box.get_attribute("aria-invalid") == "true"
    assert page.locator(f"#{box.get_attribute('aria-describedby')}").is_visible()
    box.check()
    page.get_by_role("button", name=exactly("Withdraw my request", lang)).click()
    page.wait_for_url("**/status")
    assert t("Withdrawn", lang) in page.locator(".summary").inner_text()
    withdrawn = t("Your request %(reference)s has been withdrawn", lang) % values
    assert withdrawn in [m["Subject"] for m in portal.mail_to(address, 6)]

    # The status link of the acknowledgement opens the page again in a new browser.
    other = new_page(browser, portal)
    other.goto(status_link)
    other.wait_for_url("**/status")
    assert reference.group(0) in other.locator("h1").inner_text()
    other.context.close()
    page.context.close()


def test_phone_width_form_reads_without_horizontal_scrolling(browser, portal):
    """On a 360-pixel phone the form fits the screen: no sideways scrolling."""
    page = new_page(browser, portal, viewport={"width": 360, "height": 740}, device_scale_factor=2)
    page.goto("/?lang=fr")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"
    screenshot(page, "public-form-phone-fr", full_page=False)
    page.context.close()


def _focused(page):
    return page.evaluate(
        """() => {
            const e = document.activeElement;
            const style = getComputedStyle(e);
            const box = e.getBoundingClientRect();
            return {id: e.id, tag: e.tagName.toLowerCase(), cls: e.className,
                    outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
                    visible: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0};
        }"""
    )


def _tab_to(page, selector, most=30):
    """Press Tab until the focused element matches ``selector``; check its focus shows."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            focused = _focused(page)
            assert focused["outline"] != "none" and focused["width"] >= 2, focused
            assert focused["visible"], focused
            return
    raise AssertionError(f"{selector} never got the focus with Tab")


def test_keyboard_only_journey(browser, portal):
    """Skip link, form, errors, filing and confirmation, with the keyboard alone."""
    page = new_page(browser, portal)
    address = "keyboard@example.org"
    filing = persona(THOMAS, address)  # born on 1 December: day and month differ
    page.goto("/")

    # The first Tab shows the skip link; Enter moves the focus to the content.
    _tab_to(page, ".skip-link", most=1)
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"

    # Sending the empty form lists the errors; each link leads to its field.
    _tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    # The summary's autofocus applies at the next rendering: Tab on from there.
    expect(page.locator(".error-summary")).to_be_focused(timeout=15_000)
    _tab_to(page, ".error-summary a[href='#first_name']")
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "first_name"
    field = page.locator("#first_name")
    assert field.get_attribute("aria-invalid") == "true"
    assert "first_name-error" in (field.get_attribute("aria-describedby") or "").split()
    assert page.locator("#first_name-error").is_visible()

    # Radio buttons: Shift+Tab back into the groups ("for whom", then the right), arrows.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.name") == "for_whom"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.name") == "kind"
    page.keyboard.press("Space")
    wanted = page.locator(f"input[name=kind][value={filing.kind}]")
    for _ in range(5):
        if wanted.is_checked():
            break
        page.keyboard.press("ArrowDown")
    assert wanted.is_checked()
    _tab_to(page, "#first_name")
    page.keyboard.type(filing.first_name)
    _tab_to(page, "#last_name")
    page.keyboard.type(filing.last_name)
    # The date of birth is three boxes, day, month and year, in that order.
    year, month, day = filing.birth_date.split("-")
    for part, typed in (("day", day), ("month", month), ("year", year)):
        _tab_to(page, f"#birth_date-{part}")
        page.keyboard.type(typed)
    _tab_to(page, "#nir")
    page.keyboard.type(filing.nir)
    # Past the part for someone else (left empty), the address.
    _tab_to(page, "#email", most=40)
    page.keyboard.type(filing.email)
    page.keyboard.press("Enter")  # Enter in a text field submits the form
    # The check page: its first button is "Change" (the first answer); Tab to "Send".
    page.get_by_role("heading", level=1).wait_for()
    _tab_to(page, "button.button")
    assert page.evaluate("document.activeElement.innerText") == t("Send my request", "fr")
    page.keyboard.press("Enter")
    page.wait_for_url("**/request/sent")

    [verification] = portal.mail_to(address, 1)
    page.goto(portal.link_in(verification))
    _tab_to(page, "button[type=submit]")
    assert page.evaluate("document.activeElement.innerText") == t(
        "Confirm and send my request", "fr"
    )
    page.keyboard.press("Enter")
    page.wait_for_url("**/status")
    assert page.get_by_role("heading", level=1).inner_text().startswith(t("Your request", "fr"))
    page.context.close()

"""The requester's download in a real browser: emailed link, date of birth, then the files."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.browser.kit import (
    CAMILLE,
    LANGUAGES,
    Portal,
    check_accessibility,
    exactly,
    file_and_confirm,
    fill_birth_date,
    new_page,
    persona,
    prove_identity,
    sign_in,
    wait_for_plan,
)
from tests.conftest import text_of

pytestmark = pytest.mark.browser
REFERENCE = re.compile(r"DSR-\d{4}-[0-9A-HJKMNP-TV-Z]{6}")


def _download_link(portal: Portal, address: str, timeout: float = 60) -> str:
    """The download link of the "your data is ready" email, once the worker has sent it."""
    pattern = re.compile(re.escape(portal.url) + r"/download/\S+")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in portal.smtp.received.to(address):
            found = pattern.search(text_of(message))
            if found:
                return found.group(0)
        portal.check_running()
        time.sleep(0.5)
    subjects = [m["Subject"] for m in portal.smtp.received.to(address)]
    raise AssertionError(f"no download link in {subjects}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_approved_access_is_downloaded_after_the_birth_date_check(browser, portal, lang):
    """Access approved by an agent; the emailed link asks the date of birth, then gives files."""
    address = f"download-{lang}@example.org"
    filing = persona(CAMILLE, address, kind="access")
    citizen = new_page(browser, portal)
    file_and_confirm(citizen, portal, filing, lang)
    prove_identity(citizen, portal, lang)
    wait_for_plan(citizen, lang)
    found = REFERENCE.search(citizen.locator("h1").inner_text())
    assert found is not None
    reference = found.group(0)

    portal.end_reflection(reference)
    agent = new_page(browser, portal)
    sign_in(agent, portal, portal.staff(f"download-agent-{lang}@example.org", "agent"), lang)
    agent.goto(f"/staff/cases/{reference}")
    agent.get_by_role("button", name=exactly("Claim this case", lang)).click()
    # Camille's letters may name other people: the holder reviews them first (none to mask).
    agent.get_by_role("button", name=exactly("Review done: nothing else to mask", lang)).click()
    agent.wait_for_url(f"**/staff/cases/{reference}*")
    agent.get_by_role("button", name=exactly("Approve the plan", lang)).click()
    # Releasing health data is confirmed on a page that says what goes to whom.
    agent.wait_for_url(f"**/staff/cases/{reference}/approve*")
    agent.get_by_role("button", name=exactly("Yes, release this data", lang)).click()
    agent.wait_for_url(f"**/staff/cases/{reference}*")
    problems = check_accessibility(agent, f"case approved, access [{lang}]")
    agent.context.close()

    link = _download_link(portal, address)
    citizen.goto("/status")
    problems += check_accessibility(citizen, f"status page, package ready [{lang}]")

    citizen.goto(link)
    problems += check_accessibility(citizen, f"download: date of birth [{lang}]")
    fill_birth_date(citizen, "1978-05-15")
    citizen.locator("form button[type=submit]").click()
    assert citizen.locator("#birth_date-day").get_attribute("aria-invalid") == "true"
    group = citizen.locator("fieldset.date-input")
    error = group.get_attribute("aria-describedby") or ""
    assert "birth_date-error" in error.split()
    assert citizen.locator("#birth_date-error").is_visible()
    problems += check_accessibility(citizen, f"download: wrong date of birth [{lang}]")
    # An impossible date is named as such, not as a mismatch, and uses no attempt.
    fill_birth_date(citizen, "1978-02-31")
    citizen.locator("form button[type=submit]").click()
    assert "31/02/1978" in citizen.locator("#birth_date-error").inner_text()
    folder = os.environ.get("SHOTS_DIR")
    if folder:  # the date check with its error, to be looked at
        Path(folder).mkdir(parents=True, exist_ok=True)
        for width in (1280, 375):
            citizen.set_viewport_size({"width": width, "height": 900})
            assert citizen.evaluate("document.documentElement.scrollWidth") <= width
            citizen.screenshot(path=f"{folder}/download-date-{lang}-{width}.png", full_page=True)
        citizen.set_viewport_size({"width": 1280, "height": 900})

    fill_birth_date(citizen, filing.birth_date)
    citizen.locator("form button[type=submit]").click()
    citizen.wait_for_url("**/download")
    assert reference in citizen.locator("main").inner_text()
    problems += check_accessibility(citizen, f"download: the files [{lang}]")
    with citizen.expect_download() as started:
        citizen.locator("a[href$='/download/file/html']").click()
    saved = started.value
    assert saved.suggested_filename == f"dossier-{reference}.html"
    assert reference in Path(saved.path()).read_text(encoding="utf-8")

    # The link is single use: another browser opening it gets a page saying so.
    other = new_page(browser, portal)
    other.goto(f"/?lang={lang}")
    other.goto(link)
    assert other.locator("#birth_date-day").count() == 0
    problems += check_accessibility(other, f"download: used link [{lang}]")
    other.context.close()
    citizen.context.close()
    assert not problems, "\n".join(problems)

"""Staff in a real browser: sign in with a code, find the case, claim it, decide, four eyes."""

from __future__ import annotations

import re

import pytest

from tests.browser.kit import (
    CAMILLE,
    exactly,
    file_and_confirm,
    new_page,
    persona,
    prove_identity,
    screenshot,
    sign_in,
    t,
    wait_for_plan,
)

pytestmark = pytest.mark.browser
REFERENCE = re.compile(r"DSR-\d{4}-[0-9A-HJKMNP-TV-Z]{6}")


def _status(page) -> str:
    """The status label of the first summary (the requester's page, or a case page)."""
    return page.locator("dl.summary").first.locator("dd strong").first.inner_text()


def _code(page) -> str:
    """The status code a case page carries on its label (people read the label only)."""
    return (
        page.locator("dl.summary")
        .first.locator("[data-status]")
        .first.get_attribute("data-status")
    )


@pytest.mark.changes_warehouse  # Camille's erasable records
def test_erasure_claimed_prepared_then_approved_by_another_person(browser, portal):
    """An agent claims and prepares an erasure; a data protection officer approves it."""
    address = "four-eyes@example.org"
    citizen = new_page(browser, portal)
    file_and_confirm(citizen, portal, persona(CAMILLE, address), "fr")
    prove_identity(citizen, portal, "fr")
    wait_for_plan(citizen, "fr")
    found = REFERENCE.search(citizen.locator("h1").inner_text())
    assert found is not None
    reference = found.group(0)

    agent = portal.staff("agent.journey@example.org", "agent")
    dpo = portal.staff("dpo.journey@example.org", "dpo")
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, agent)
    page.get_by_role("link", name=exactly("Requests", "fr")).click()
    page.wait_for_url("**/staff/queue")
    assert page.locator("table.queue-table tbody tr").count() > 1
    screenshot(page, "staff-queue-fr")

    page.locator("#q").fill(reference)
    page.get_by_role("button", name=exactly("Filter", "fr")).click()
    rows = page.locator("table.queue-table tbody tr")
    assert rows.count() == 1
    rows.get_by_role("link", name=reference).click()
    page.wait_for_url(f"**/staff/cases/{reference}")
    assert _code(page) == "triage"

    page.get_by_role("button", name=exactly("Claim this case", "fr")).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    assert _code(page) == "in_review"
    assert agent.email in page.locator("dl.summary").first.inner_text()
    screenshot(page, "staff-case-fr")

    page.get_by_role("button", name=exactly("Prepare the erasure for approval", "fr")).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    pending = page.locator("#decisions + .notice")
    assert agent.email in pending.inner_text()
    # Four eyes: the one who prepared it has no button to approve it.
    assert page.get_by_role("button", name=exactly("Approve this decision", "fr")).count() == 0

    page.get_by_role("button", name=exactly("Sign out", "fr")).click()
    page.wait_for_url("**/staff/login")
    sign_in(page, portal, dpo)
    page.goto(f"/staff/cases/{reference}")
    page.get_by_role("button", name=exactly("Approve this decision", "fr")).click()
    # An irreversible decision is confirmed on a page that names what it erases.
    page.get_by_role("button", name=exactly("Yes, erase these records", "fr")).click()
    page.wait_for_url(f"**/staff/cases/{reference}*")
    assert _code(page) in {"approved", "fulfilling", "completed"}

    # The requester is told at each step, and sees it on their page.
    # The approval is not written about: the completion, seconds later, says it.
    values = {"reference": reference}
    erased = t("Your request %(reference)s: your data has been erased", "fr") % values
    count = 5
    subjects = [m["Subject"] for m in portal.mail_to(address, count)]
    while erased not in subjects:  # mail_to fails after its timeout if it never comes
        count += 1
        subjects = [m["Subject"] for m in portal.mail_to(address, count)]
    assert t("Your request %(reference)s is being examined", "fr") % values in subjects
    assert t("Your request %(reference)s has been approved", "fr") % values not in subjects
    citizen.reload()
    assert _status(citizen) in {
        t("Approved, being carried out", "fr"),
        t("Being carried out", "fr"),
        t("Completed", "fr"),
    }
    citizen.context.close()
    page.context.close()

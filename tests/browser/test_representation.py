"""A request made for someone else in a real browser: the form, the check page, the proof.

A guardian asks for Camille's data: the form's fieldset "only if you are asking
for someone else" (no script needed), the check page with both identities, the
status page asking for the guardianship judgment, the agent's case section
where it is accepted. axe on each page; with SCREENSHOTS=1 each is saved in
docs/screenshots at 1280 and 375 pixels, in French and in English.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Request
from tests.browser.kit import (
    CAMILLE,
    PATIENCE,
    SCREENSHOTS,
    check_accessibility,
    exactly,
    new_page,
    persona,
    sign_in,
    t,
)
from tests.identity import files

pytestmark = pytest.mark.browser
WIDTHS = (1280, 375)


def _shoot(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _fill_for_someone_else(page, filing, lang: str) -> None:
    page.goto(f"/?lang={lang}")
    page.locator(f"input[name=kind][value={filing.kind}]").check()
    page.locator("input[name=for_whom][value=other]").check()
    page.locator("#first_name").fill(filing.first_name)
    page.locator("#last_name").fill(filing.last_name)
    year, month, day = filing.birth_date.split("-")
    page.locator("#birth_date-day").fill(day)
    page.locator("#birth_date-month").fill(month)
    page.locator("#birth_date-year").fill(year)
    page.locator("#nir").fill(filing.nir)
    page.locator("input[name=acts_as][value=guardian]").check()
    page.locator("#requester_first_name").fill("Paul")
    page.locator("#requester_last_name").fill("Lefèvre")
    page.locator("#requester_birth_date-day").fill("2")
    page.locator("#requester_birth_date-month").fill("9")
    page.locator("#requester_birth_date-year").fill("1950")
    page.locator("#email").fill(filing.email)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_guardian_files_proves_the_relationship_and_staff_accept_it(
    browser, portal, tmp_path, lang
):
    address = f"tuteur.{lang}@example.net"
    filing = persona(CAMILLE, address, kind="access")
    citizen = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    _fill_for_someone_else(citizen, filing, lang)
    assert check_accessibility(citizen, "form for someone else") == []
    _shoot(citizen, f"representation-form-{lang}")

    citizen.get_by_role("button", name=exactly("Continue", lang)).click()
    citizen.locator("form[action='/request/send']").wait_for()
    page_text = citizen.locator("main").inner_text()
    assert t("You, who ask for this person", lang) in page_text
    assert "Paul" in page_text and filing.first_name in page_text
    assert check_accessibility(citizen, "check page for someone else") == []
    _shoot(citizen, f"representation-check-{lang}")
    citizen.get_by_role("button", name=exactly("Send my request", lang)).click()
    citizen.wait_for_url("**/request/sent")
    [verification] = portal.mail_to(address, 1)
    citizen.goto(portal.link_in(verification))
    citizen.get_by_role("button", name=exactly("Confirm and send my request", lang)).click()
    citizen.wait_for_url("**/status")

    heading = citizen.get_by_role(
        "heading", name=exactly("Prove your relationship to the person", lang)
    )
    deadline = time.monotonic() + PATIENCE
    while not heading.is_visible():
        assert time.monotonic() < deadline, "the status page never asked for the proof"
        time.sleep(0.5)
        citizen.reload()
    assert t("What we found and what will happen", lang) not in citizen.content()
    assert check_accessibility(citizen, "status page awaiting proof") == []
    _shoot(citizen, f"representation-status-awaiting-{lang}")

    # A wrong file first: the error is next to the document it is about.
    wrong = tmp_path / "jugement.pdf"
    wrong.write_bytes(files.HTML)
    citizen.set_input_files("#proof-file-guardianship_judgment", str(wrong))
    citizen.get_by_role("button", name=exactly("Send this document", lang)).click()
    error = citizen.locator("#proof-file-guardianship_judgment-error")
    assert t("The selected file must be a PDF, JPG or PNG.", lang) in error.inner_text()
    assert check_accessibility(citizen, "status page with a proof error") == []
    photo = tmp_path / "jugement.jpg"
    photo.write_bytes(files.jpeg((900, 570)))
    citizen.set_input_files("#proof-file-guardianship_judgment", str(photo))
    citizen.get_by_role("button", name=exactly("Send this document", lang)).click()
    citizen.get_by_text(t("Waiting for a check.", lang)).wait_for()
    _shoot(citizen, f"representation-status-sent-{lang}")

    with portal.app.app_context():
        reference = db.session.scalar(select(Request.reference).where(Request.email == address))
        db.session.remove()
    agent = portal.staff(f"agent.representation.{lang}@example.org", "agent")
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, agent, lang)
    page.goto(f"/staff/cases/{reference}?lang={lang}")
    section = page.locator("section.representative")
    section.wait_for()
    assert "Paul Lefèvre" in section.inner_text()
    image = section.locator("img.document-image")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert check_accessibility(page, "staff case page, request for someone else") == []
    if os.environ.get("SCREENSHOTS") == "1":
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            section.screenshot(path=str(SCREENSHOTS / f"representation-staff-{lang}-{width}.png"))
        page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name=exactly("Accept this proof", lang)).click()
    page.wait_for_url(re.compile(rf"/staff/cases/{reference}$"))
    assert page.locator("section.representative img.document-image").count() == 0
    # The relationship is proven; the guardian's own identity is proven next, then the plan shows.
    portal.prove(reference)
    citizen.reload()
    assert t("Prove your relationship to the person", lang) not in citizen.content()


def test_the_form_for_someone_else_works_without_javascript(browser, portal):
    """Every field is on the page, and the server reads them: no script is needed."""
    citizen = new_page(browser, portal, java_script_enabled=False)
    filing = persona(CAMILLE, "tuteur.sans-js@example.net", kind="access")
    _fill_for_someone_else(citizen, filing, "fr")
    citizen.get_by_role("button", name=exactly("Continue", "fr")).click()
    citizen.locator("form[action='/request/send']").wait_for()
    assert t("You, who ask for this person", "fr") in citizen.locator("main").inner_text()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_once_the_identity_is_proven_the_status_names_the_relationships_documents(
    browser, portal, lang
):
    """Identity proven, relationship not: the requester, the case page and the queue say so."""
    address = f"tuteur.prouve.{lang}@example.net"
    filing = persona(CAMILLE, address, kind="access")
    citizen = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    _fill_for_someone_else(citizen, filing, lang)
    citizen.get_by_role("button", name=exactly("Continue", lang)).click()
    citizen.locator("form[action='/request/send']").wait_for()
    citizen.get_by_role("button", name=exactly("Send my request", lang)).click()
    citizen.wait_for_url("**/request/sent")
    [verification] = portal.mail_to(address, 1)
    citizen.goto(portal.link_in(verification))
    citizen.get_by_role("button", name=exactly("Confirm and send my request", lang)).click()
    citizen.wait_for_url("**/status")
    with portal.app.app_context():
        reference = db.session.scalar(select(Request.reference).where(Request.email == address))
        db.session.remove()
    words = t("Waiting for the documents proving your relationship to the person", lang)
    summary = citizen.locator("dl.summary strong").first
    deadline = time.monotonic() + PATIENCE
    proven = False
    while summary.inner_text() != words:
        assert time.monotonic() < deadline, summary.inner_text()
        if not proven and summary.inner_text() == t("Waiting for proof of your identity", lang):
            portal.prove(reference)
            proven = True
        time.sleep(0.5)
        citizen.reload()
    assert check_accessibility(citizen, "status page, identity proven, proof awaited") == []
    _shoot(citizen, f"representation-status-relationship-{lang}")

    agent = portal.staff(f"agent.relationship.{lang}@example.org", "agent")
    page = new_page(browser, portal, viewport={"width": 1280, "height": 900})
    sign_in(page, portal, agent, lang)
    staff_words = t(
        "Waiting for the documents proving the requester's relationship to the person", lang
    )
    page.goto(f"/staff/cases/{reference}?lang={lang}")
    assert page.locator("strong[data-status]").inner_text() == staff_words
    _shoot(page, f"representation-staff-case-relationship-{lang}")
    page.goto(f"/staff/queue?proof=1&lang={lang}")
    row = page.locator("tr", has=page.locator(f"a:has-text('{reference}')"))
    assert staff_words in row.inner_text()
    _shoot(page, f"representation-staff-queue-relationship-{lang}")

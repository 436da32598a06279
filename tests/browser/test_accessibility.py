"""axe-core on every public and staff page, in French and in English: no WCAG 2.1 A/AA violation.

One walk per language takes a request through the states a person meets: the
form (empty and with errors), the links (confirm, invalid, expired, used), the
status page (received, with a plan, with a question, approved), and on the
staff side sign-in, enrolment, the queue, the dashboard, a case in each state
of its triage, the audit trail and the accounts. Each page is checked as it is
reached, and every violation of the walk is reported at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import LinkToken, Request, utcnow
from app.services import services_of
from app.staffing import accounts
from tests.browser.kit import (
    HELENE,
    LANGUAGES,
    WIDEST,
    Portal,
    check_accessibility,
    exactly,
    fill_form,
    new_page,
    persona,
    sign_in,
    wait_for_plan,
    wait_for_proof_page,
)

pytestmark = pytest.mark.browser
REFERENCE = re.compile(r"DSR-\d{4}-[0-9A-HJKMNP-TV-Z]{6}")


@dataclass
class Walk:
    """The pages checked so far in one language, and what axe found on them."""

    lang: str
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, page: Any, name: str) -> None:
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == self.lang, f"{name}: lang"
        self.checked.append(name)
        self.problems.extend(check_accessibility(page, f"{name} [{self.lang}]"))

    def check_on_phone(self, page: Any, name: str) -> None:
        """The same page on a 360-pixel-wide screen, where tables and charts scroll."""
        size = page.viewport_size
        page.set_viewport_size({"width": 360, "height": 740})
        self.check(page, f"{name} (phone)")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            self.problems.append(
                f"{name} [{self.lang}] (phone): the page is {width}px wide, because of "
                + ", ".join(page.evaluate(WIDEST))
            )
        page.set_viewport_size(size)

    def button(self, page: Any, message: str) -> None:
        page.get_by_role("button", name=exactly(message, self.lang)).first.click()
        page.wait_for_load_state()


def agent_email(lang: str) -> str:
    return f"a11y-agent-{lang}@example.org"


def _db(portal: Portal, statement: Any) -> Any:
    """Run one statement on the portal's database, committed; its rows, if any."""
    with portal.app.app_context():
        result = db.session.execute(statement)
        rows = result.all() if getattr(result, "returns_rows", True) else None
        db.session.commit()
        db.session.remove()
    return rows


def _expire_verification_links(portal: Portal, address: str) -> None:
    ids = select(Request.id).where(Request.email == address).scalar_subquery()
    past = utcnow() - timedelta(minutes=1)
    _db(portal, update(LinkToken).where(LinkToken.request_id.in_(ids)).values(expires_at=past))


def _enrolment_link(portal: Portal, email: str) -> str:
    with portal.app.app_context():
        vault = services_of(portal.app).vault
        # The operator's creation: it returns the link's value, which no page shows.
        _, token = accounts.create_staff(db.session(), email, "agent", vault, utcnow())
        db.session.commit()
        db.session.remove()
    return f"/staff/enrol/{token}"


def _reference_in(portal: Portal, status: str) -> str:
    rows = _db(portal, select(Request.reference).where(Request.status == status).limit(1))
    assert rows, f"no request in {status}"
    return str(rows[0][0])


def _public_pages(walk: Walk, page: Any) -> None:
    """Pages anyone reaches without a link."""
    page.goto("/")
    walk.check(page, "request form")
    walk.check_on_phone(page, "request form")
    walk.button(page, "Continue")
    walk.check(page, "request form with errors")
    walk.check_on_phone(page, "request form with errors")
    # An impossible date: the date boxes' own error (day and month marked).
    fill_form(page, persona(HELENE, f"a11y-date-{walk.lang}@example.org"), walk.lang)
    page.locator("#birth_date-day").fill("31")
    page.locator("#birth_date-month").fill("2")
    walk.button(page, "Continue")
    walk.check(page, "request form, impossible date")
    walk.check_on_phone(page, "request form, impossible date")
    # For someone else, nothing filled in the part that is then read: its errors.
    fill_form(page, persona(HELENE, f"a11y-other-{walk.lang}@example.org"), walk.lang)
    page.locator("input[name=for_whom][value=other]").check()
    walk.button(page, "Continue")
    walk.check(page, "request form for someone else, with errors")
    walk.check_on_phone(page, "request form for someone else, with errors")
    page.goto("/accessibility")
    walk.check(page, "accessibility statement")
    for path, name in (("/privacy", "privacy notice"), ("/legal", "legal notice")):
        page.goto(path)
        walk.check(page, name)
        walk.check_on_phone(page, name)
    page.goto("/status")
    walk.check(page, "status page without a link")
    page.goto("/status/link")
    page.locator("#email").fill("not an address")
    walk.button(page, "Send me a link")
    walk.check(page, "new status link with errors")
    page.goto("/verify/not-a-real-token")
    walk.check(page, "invalid link")
    page.goto("/s/not-a-real-token")
    walk.check(page, "invalid status link")
    page.goto("/no-such-page")
    walk.check(page, "404 page")


def _expired_link(walk: Walk, page: Any, portal: Portal) -> None:
    address = f"a11y-expired-{walk.lang}@example.org"
    fill_form(page, persona(HELENE, address), walk.lang)
    walk.button(page, "Continue")
    walk.check(page, "check your answers")
    walk.check_on_phone(page, "check your answers")
    walk.button(page, "Send my request")
    walk.check(page, "check your email")
    walk.check_on_phone(page, "check your email")
    [verification] = portal.mail_to(address, 1)
    _expire_verification_links(portal, address)
    page.goto(portal.link_in(verification))
    walk.check(page, "expired link")


def _staff_sign_in_pages(walk: Walk, page: Any, portal: Portal) -> None:
    page.goto("/staff/login")
    walk.check(page, "staff sign-in")
    walk.button(page, "Sign in")
    walk.check(page, "staff sign-in with errors")
    page.locator("#email").fill("nobody@example.org")
    page.locator("#password").fill("wrong password")
    page.locator("#code").fill("000000")
    walk.button(page, "Sign in")
    walk.check(page, "staff sign-in refused")
    page.goto(_enrolment_link(portal, f"new-{walk.lang}@example.org"))
    walk.check(page, "enrolment")
    page.locator("#password").fill("short")
    walk.button(page, "Activate my account")
    walk.check(page, "enrolment with errors")
    page.goto("/staff/enrol/not-a-real-token")
    walk.check(page, "enrolment link problem")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_passes_axe(browser, portal, lang):
    """Every page, in each language and each state, has no WCAG 2.1 A or AA violation."""
    walk = Walk(lang)
    viewport = {"width": 1280, "height": 900}
    citizen = new_page(browser, portal, viewport=viewport)
    citizen.goto(f"/?lang={lang}")
    _public_pages(walk, citizen)
    _expired_link(walk, citizen, portal)

    # The citizen's request, from the link to the plan.
    address = f"a11y-{lang}@example.org"
    # Hélène, whose data is all erasable. The walk stops at the DPO's confirmation
    # page: nothing is erased, the other language's walk finds the same plan.
    fill_form(citizen, persona(HELENE, address), lang)
    walk.button(citizen, "Continue")
    walk.button(citizen, "Send my request")
    [verification] = portal.mail_to(address, 1)
    link = portal.link_in(verification)
    citizen.goto(link)
    walk.check(citizen, "confirm the request")
    walk.button(citizen, "Confirm and send my request")
    walk.check(citizen, "status page, received")
    reference = wait_for_proof_page(citizen, lang)
    walk.check(citizen, "status page, waiting for proof of identity")
    walk.check_on_phone(citizen, "status page, waiting for proof of identity")
    portal.prove(reference)
    wait_for_plan(citizen, lang)
    walk.check(citizen, "status page with a plan")
    walk.check_on_phone(citizen, "status page with a plan")
    found = REFERENCE.search(citizen.locator("h1").inner_text())
    assert found is not None
    reference = found.group(0)
    citizen.goto(link)
    walk.check(citizen, "used link")
    citizen.goto("/status/withdraw")
    walk.check(citizen, "withdraw")
    walk.button(citizen, "Withdraw my request")
    walk.check(citizen, "withdraw with errors")

    anonymous = new_page(browser, portal, viewport=viewport)
    anonymous.goto(f"/staff/login?lang={lang}")
    _staff_sign_in_pages(walk, anonymous, portal)

    agent = new_page(browser, portal, viewport=viewport)
    sign_in(agent, portal, portal.staff(agent_email(lang), "agent"), lang)
    walk.check(agent, "staff home")
    agent.goto("/staff/password")
    walk.check(agent, "change password")
    walk.button(agent, "Change my password")
    walk.check(agent, "change password with errors")
    agent.goto("/staff/queue")
    walk.check(agent, "queue")
    walk.check_on_phone(agent, "queue")
    agent.goto("/staff/queue?status=triage&kind=erasure&identity=1")
    walk.check(agent, "queue, filtered, empty")
    agent.goto("/staff/queue?due=someday")
    walk.check(agent, "queue with an ignored filter")
    agent.goto("/staff/dashboard")
    walk.check(agent, "dashboard")
    walk.check_on_phone(agent, "dashboard")
    agent.goto(f"/staff/cases/{_reference_in(portal, 'identity_review')}")
    walk.check(agent, "case in identity review")

    agent.goto(f"/staff/cases/{reference}")
    walk.check(agent, "case to triage")
    walk.button(agent, "Claim this case")
    walk.check(agent, "case claimed")
    walk.check_on_phone(agent, "case claimed")
    agent.goto(f"/staff/cases/{reference}/recompute")
    walk.check(agent, "plan compared with today's sources")
    walk.check_on_phone(agent, "plan compared with today's sources")
    agent.goto(f"/staff/cases/{reference}")
    agent.get_by_text(exactly("Ask the requester for information", lang)).click()
    agent.locator("#ask-question").fill("Which hospital?")
    walk.button(agent, "Send the question")
    walk.check(agent, "case waiting for the requester")

    citizen.goto("/status")
    walk.check(citizen, "status page with a question")
    walk.button(citizen, "Send my answer")
    walk.check(citizen, "answer with errors")
    citizen.locator("#answer").fill("Lyon.")
    walk.button(citizen, "Send my answer")
    walk.check(citizen, "status page after the answer")

    agent.goto(f"/staff/cases/{reference}")
    walk.check(agent, "case with an answer")
    walk.button(agent, "Prepare the erasure for approval")
    walk.check(agent, "case prepared for approval")

    dpo = new_page(browser, portal, viewport=viewport)
    sign_in(dpo, portal, portal.staff(f"a11y-dpo-{lang}@example.org", "dpo"), lang)
    dpo.goto(f"/staff/cases/{reference}")
    walk.check(dpo, "case waiting for approval")
    walk.button(dpo, "Approve this decision")
    walk.check(dpo, "case approved")
    dpo.goto("/staff/audit")
    walk.check(dpo, "audit trail")
    walk.check_on_phone(dpo, "audit trail")
    walk.button(dpo, "Verify the chain")
    walk.check(dpo, "audit trail verified")
    citizen.goto("/status")
    walk.check(citizen, "status page, approved")

    admin = new_page(browser, portal, viewport=viewport)
    sign_in(admin, portal, portal.staff(f"a11y-admin-{lang}@example.org", "admin"), lang)
    admin.goto("/staff/accounts")
    walk.check(admin, "staff accounts")
    walk.check_on_phone(admin, "staff accounts")
    walk.button(admin, "Create the account")
    walk.check(admin, "staff accounts with errors")
    admin.locator("#email").fill(f"created-{lang}@example.org")
    walk.button(admin, "Create the account")
    walk.check(admin, "staff accounts, link sent by email")
    admin.locator("#email").fill(f"new-dpo-{lang}@example.org")
    admin.locator("#role").select_option("dpo")
    walk.button(admin, "Create the account")
    walk.check(admin, "staff accounts, a DPO role waiting")
    walk.check_on_phone(admin, "staff accounts, a DPO role waiting")
    dpo.goto("/staff/accounts")
    walk.check(dpo, "staff accounts, a DPO role to confirm")
    disable = re.compile(rf"^(Disable|Désactiver)….*{re.escape(agent_email(lang))}$")
    admin.get_by_role("button", name=disable).click()
    walk.check(admin, "disable an account: confirmation")
    admin.goto("/staff/queue")
    walk.check(admin, "403 page")

    for opened in (citizen, anonymous, agent, dpo, admin):
        opened.context.close()
    assert len(walk.checked) >= 45, walk.checked
    assert not walk.problems, (
        f"{len(walk.problems)} WCAG 2.1 A/AA violations on {len(walk.checked)} pages:\n"
        + "\n".join(walk.problems)
    )

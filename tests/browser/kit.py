"""What the browser tests share: the running portal, sign-in, axe, screenshots, texts.

Texts are looked up in the French catalogue as the portal shows them, so a
test reads "the button that says Send my request" in either language and does
not break when a translation is reworded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import select, update

from app import fulfilment
from app.demo.personas import PERSONAS
from app.extensions import db
from app.identity import assurance
from app.models import Job, Request, StaffUser, utcnow
from app.services import services_of
from tests.conftest import ROOT, SmtpServer, text_of
from tests.staffkit import PASSWORD, Account, add_staff

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
CATALOG = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
# The WCAG 2.1 A and AA rules of axe-core; nothing less is accepted.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LANGUAGES = ("fr", "en")
# How long the worker may take to route a request or send an email. Each wait ends as soon
# as what it waits for is there; the bound only says when to give up, and a run sharing
# two cores with others (SCREENSHOTS=1, other test runs) is slow.
PATIENCE = 90

# The outermost elements sticking out of the screen (not inside a scrolling box),
# to say what breaks a phone layout.
WIDEST = """() => {
    const out = e => e.getBoundingClientRect().right > window.innerWidth + 1;
    const scrolled = e => {
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
            if (getComputedStyle(a).overflowX !== 'visible') return true;
        }
        return false;
    };
    return [...document.querySelectorAll('body *')]
        .filter(e => out(e) && !scrolled(e) && !out(e.parentElement))
        .slice(0, 5)
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');
}"""


@functools.cache
def _french() -> dict[str, str]:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    return {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.id, str)}


def t(message: str, lang: str) -> str:
    """``message`` as the portal shows it in ``lang`` (the catalogue's French, or itself)."""
    if lang == "en":
        return message
    return _french()[message]


def exactly(message: str, lang: str) -> re.Pattern[str]:
    """A pattern matching exactly the text of ``message`` in ``lang``.

    Accessible names collapse white space, the French non-breaking spaces included.
    """
    text = re.sub(r"[\s\u00a0\u202f]+", " ", t(message, lang))
    return re.compile(f"^{re.escape(text)}$")


@dataclass(frozen=True)
class Filing:
    """What a citizen types into the form."""

    kind: str
    first_name: str
    last_name: str
    birth_date: str  # ISO
    email: str
    nir: str = ""
    details: str = ""


def persona(number: int, email: str, kind: str = "erasure") -> Filing:
    """A demo persona of the warehouse (docs/demo.md), writing from ``email``.

    With a social-security number, matching does not use the address, so each
    test gives its own and reads only its own mail.
    """
    p = next(p for p in PERSONAS if p.person_id == number)
    return Filing(kind, p.first_name, p.last_name, p.birth_date.isoformat(), email, p.nir or "")


CAMILLE = 1  # erasure keeps her reimbursements and recent medical record, erases the rest
HELENE = 10  # only old data: an erasure erases everything
THOMAS = 12  # a transfusion (kept 30 years) and research extracts


@dataclass
class Portal:
    """The running portal: its address, its mail, and an app on its database."""

    url: str
    smtp: SmtpServer
    app: Flask
    log: Path
    processes: list[subprocess.Popen[bytes]]
    # The warehouse the portal reads and writes, and the one it was copied from.
    warehouse: Path | None = None
    pristine: Path | None = None
    # The live warehouse's digest while it holds what ``pristine`` holds.
    clean_digest: str = ""

    def warehouse_digest(self) -> str:
        assert self.warehouse is not None
        return hashlib.sha256(self.warehouse.read_bytes()).hexdigest()

    def settle(self, timeout: float = PATIENCE) -> None:
        """Wait until the worker has carried out every approved request (the warehouse's writers).

        An approval only queues its job: a test may end before its erasure runs.
        """
        writers = select(Job.id).where(
            Job.state == "pending", Job.kind.in_(set(fulfilment.JOB_FOR_KIND.values()))
        )
        deadline = time.monotonic() + timeout
        while True:
            with self.app.app_context():
                pending = db.session.execute(writers.limit(1)).first()
                db.session.remove()
            if pending is None:
                return
            assert time.monotonic() < deadline, f"fulfilment jobs still pending after {timeout} s"
            self.check_running()
            time.sleep(0.3)

    def restore_warehouse(self) -> None:
        """Put the warehouse back as it was copied, in place, under the portal's connections.

        SQLite's backup API takes the write lock and bumps the change counter, so
        the server's and the worker's open connections read the restored pages.
        """
        assert self.warehouse is not None and self.pristine is not None
        self.settle()
        source = sqlite3.connect(self.pristine)
        target = sqlite3.connect(self.warehouse, timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        self.clean_digest = self.warehouse_digest()

    def check_running(self) -> None:
        """Fail at once, with the log, if the server or the worker has exited."""
        for process in self.processes:
            if process.poll() is not None:
                raise AssertionError(
                    f"{' '.join(map(str, process.args[2:5]))} exited ({process.returncode}); "
                    f"portal log:\n{self.log.read_text()[-3000:]}"
                )

    def mail_to(self, address: str, count: int, timeout: float = PATIENCE) -> list[EmailMessage]:
        """Wait until ``address`` has received ``count`` messages; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.smtp.received.to(address)
            if len(received) >= count:
                return received
            self.check_running()
            time.sleep(0.2)
        raise AssertionError(
            f"{address} received {len(self.smtp.received.to(address))} messages, "
            f"expected {count}; portal log:\n{self.log.read_text()[-3000:]}"
        )

    def link_in(self, message: EmailMessage) -> str:
        """The portal link in an email's text part, absolute."""
        match = re.search(re.escape(self.url) + r"/\S+", text_of(message))
        assert match, "no portal link in the email"
        return match.group(0)

    def staff(self, email: str, role: str) -> Account:
        """A new enrolled account (password ``PASSWORD``, known TOTP secret)."""
        return add_staff(self.app, email, role)

    def prove(self, reference: str, level: str = "document") -> None:
        """Record a proof of identity for the request, as an agent accepting a document does."""
        with self.app.app_context():
            request = db.session.scalar(select(Request).where(Request.reference == reference))
            assert request is not None, reference
            assurance.raise_level(
                db.session(),
                request,
                level,
                method=level,
                actor="browser-test",
                now=utcnow(),
                mail=services_of(self.app).mail,
                policy=services_of(self.app).assurance,
            )
            db.session.commit()
            db.session.remove()
        # The worker routes it again: wait for that, so what follows sees the new plan.
        deadline = time.monotonic() + PATIENCE
        while self._status(reference) == "received":
            assert time.monotonic() < deadline, f"{reference} was not routed again"
            self.check_running()
            time.sleep(0.3)

    def _status(self, reference: str) -> str | None:
        with self.app.app_context():
            found = select(Request.status).where(Request.reference == reference)
            status = db.session.scalar(found)
            db.session.remove()
            return status

    def end_reflection(self, reference: str) -> None:
        """Put the request's 48-hour reflection period (CSP L.1111-7) in the past.

        A real portal cannot travel in time; tests/fulfilment/test_reflection.py
        checks the period itself under a frozen clock.
        """
        with self.app.app_context():
            db.session.execute(
                update(Request)
                .where(Request.reference == reference, Request.release_not_before.is_not(None))
                .values(release_not_before=utcnow() - timedelta(minutes=1))
            )
            db.session.commit()
            db.session.remove()

    def allow_new_code(self, account: Account) -> None:
        """Forget the last TOTP step used, so one account may sign in twice in 30 s."""
        with self.app.app_context():
            db.session.execute(
                update(StaffUser).where(StaffUser.id == account.id).values(totp_last_step=None)
            )
            db.session.commit()
            db.session.remove()


def new_page(browser: Any, portal: Portal, **options: Any) -> Any:
    """A page in a fresh context (no cookies), French browser by default."""
    options.setdefault("locale", "fr-FR")
    context = browser.new_context(base_url=portal.url, **options)
    context.set_default_timeout(15_000)
    return context.new_page()


def fill_birth_date(page: Any, iso: str) -> None:
    """Type an ISO date in the three boxes of a date of birth (day, month, year)."""
    year, month, day = iso.split("-")
    page.locator("#birth_date-day").fill(day)
    page.locator("#birth_date-month").fill(month)
    page.locator("#birth_date-year").fill(year)


def fill_form(page: Any, filing: Filing, lang: str) -> None:
    """Open the form in ``lang`` and fill it in (with the mouse and the keyboard)."""
    page.goto(f"/?lang={lang}")
    page.locator(f"input[name=kind][value={filing.kind}]").check()
    page.locator("#first_name").fill(filing.first_name)
    page.locator("#last_name").fill(filing.last_name)
    fill_birth_date(page, filing.birth_date)
    page.locator("#email").fill(filing.email)
    page.locator("#nir").fill(filing.nir)
    page.locator("#details").fill(filing.details)


def send_form(page: Any, lang: str) -> None:
    """Continue from the filled-in form, then send it from the "check your answers" page."""
    page.get_by_role("button", name=exactly("Continue", lang)).click()
    page.locator("form[action='/request/send']").wait_for()  # the check page
    page.get_by_role("button", name=exactly("Send my request", lang)).click()
    page.wait_for_url("**/request/sent")


def file_and_confirm(page: Any, portal: Portal, filing: Filing, lang: str) -> str:
    """File a request, open the emailed link, confirm: the page ends on /status.

    Returns the verification link (opening it again shows the "used" page).
    """
    fill_form(page, filing, lang)
    send_form(page, lang)
    [verification] = portal.mail_to(filing.email, 1)
    link = portal.link_in(verification)
    page.goto(link)
    page.get_by_role("button", name=exactly("Confirm and send my request", lang)).click()
    page.wait_for_url("**/status")
    return link


def wait_for_proof_page(page: Any, lang: str, timeout: float = PATIENCE) -> str:
    """Reload the status page until it asks for proof of identity; the request's reference."""
    heading = page.get_by_role("heading", name=exactly("Prove who you are", lang))
    deadline = time.monotonic() + timeout
    while not heading.is_visible():
        assert time.monotonic() < deadline, "the status page never asked for a proof"
        time.sleep(0.5)
        page.reload()
    found = re.search(r"DSR-\d{4}-[0-9A-HJKMNP-TV-Z]{6}", page.locator("h1").inner_text())
    assert found is not None
    return found.group(0)


def prove_identity(page: Any, portal: Portal, lang: str) -> str:
    """Wait until the status page asks for proof of identity, then record an accepted one.

    The tests file from addresses of their own, which are not the ones on file:
    the request waits for a proof. Here it is the one an agent records when
    they accept an identity document (``app.identity.assurance.raise_level``),
    written in the portal's database; the worker then routes the request again.
    Returns the request's reference.
    """
    reference = wait_for_proof_page(page, lang)
    portal.prove(reference)
    return reference


def wait_for_plan(page: Any, lang: str, timeout: float = PATIENCE) -> None:
    """Reload the status page until the worker has routed the request."""
    heading = page.get_by_role("heading", name=exactly("What we found and what will happen", lang))
    deadline = time.monotonic() + timeout
    while not heading.is_visible():
        assert time.monotonic() < deadline, "the plan never appeared on the status page"
        time.sleep(0.5)
        page.reload()


def sign_in(page: Any, portal: Portal, account: Account, lang: str = "fr") -> None:
    """Sign in through /staff/login with the account's password and current TOTP code."""
    import pyotp

    portal.allow_new_code(account)
    page.goto(f"/staff/login?lang={lang}")
    page.locator("#email").fill(account.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill(pyotp.TOTP(account.secret).now())
    page.get_by_role("button", name=exactly("Sign in", lang)).click()
    page.wait_for_url(re.compile(r"/staff/(queue|accounts)?$"))  # where the role works


def check_accessibility(page: Any, name: str) -> list[str]:
    """Run axe-core (WCAG 2.1 A and AA) on the page; a line per violation, empty if none."""
    from axe_playwright_python.sync_playwright import Axe

    # Folded sections are checked too: a person opens them.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": AXE_TAGS},
            "resultTypes": ["violations"],
        },
    )
    problems = []
    for violation in results.response["violations"]:
        targets = [", ".join(map(str, node["target"])) for node in violation["nodes"]]
        problems.append(
            f"{name} ({page.url}): {violation['id']} [{violation['impact']}] "
            f"{violation['help']} — {'; '.join(targets[:5])}"
        )
    return problems


def screenshot(page: Any, name: str, full_page: bool = True) -> None:
    """Save docs/screenshots/<name>.png when SCREENSHOTS=1 (so CI leaves the tree clean)."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

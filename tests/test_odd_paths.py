"""No link on any page leads off-site, whatever path or query string the page was asked with.

A 404 for ``/%5Cevil.example`` once offered ``href="/\\evil.example?lang=en"``,
which a browser reads as ``//evil.example``: the language switch was built
from the request's path. The walk asks every page template for real pages
with odd query strings, for real routes with odd arguments, and for 404s
under odd paths (``%5C``, a tab, ``//``, encoded dots and slashes), as a
visitor, a requester, a DPO and an administrator; every ``href``, ``src``,
``action`` and redirect must stay on the portal. A completeness check fails
if a page template was never rendered by the walk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup
from flask import Flask, template_rendered
from flask.testing import FlaskClient

from app.extensions import db
from app.models import utcnow
from app.services import services_of
from app.staffing import accounts
from tests.conftest import ROOT, VALID_FILING, birth_parts, csrf_from, file_form, link_in, run_jobs
from tests.fulfilment.test_download import CAMILLE_BORN, download_link
from tests.fulfilment.test_packages import CAMILLE, fulfilled
from tests.staffkit import case_held_by, staff_client

HOST = "localhost"  # the test client's
# The portal's configured address (PORTAL_BASE_URL), which emailed links use.
HOSTS = {HOST, "portal.example.org"}
# Raw request paths, as a browser or a hand-made request sends them.
ODD_SEGMENTS = [
    "%5Cevil.example",
    "%5C%5Cevil.example",
    "%2F%2Fevil.example",
    "%5C%2Fevil.example",
    "%09%2Fevil.example",
    ".%2e%2fevil.example",
    "%2e%2e%5Cevil.example",
    "%E2%80%AEevil.example",
]
ODD_ROOTS = ["//evil.example", "///evil.example", "/\\evil.example", "/\\/evil.example"]
ODD_QUERY = (
    "next=//evil.example&back=/%5Cevil.example&lang=%5Cevil.example"
    "&q=%2F%2Fevil.example&after=//evil.example&x=%09//evil.example"
)
PREFIXES = ["", "/staff", "/staff/cases", "/status", "/s", "/verify", "/download", "/demo"]


def page_templates() -> set[str]:
    """Every template rendered as a page: not emails, the package file, partials, layouts."""
    names = set()
    for path in (ROOT / "templates").rglob("*.html"):
        name = path.relative_to(ROOT / "templates").as_posix()
        if name.split("/")[0] in {"email", "package"} or Path(name).name.startswith("_"):
            continue
        if name not in {"base.html", "staff/layout.html"}:
            names.add(name)
    return names


# Fixed addresses the pages name on purpose (the CNIL's complaint page, issue 14),
# never built from the path or the query.
EXTERNAL = frozenset({"https://www.cnil.fr/fr/plaintes"})


def leaves_the_site(link: str, page: str) -> bool:
    """Whether a browser on ``page`` would follow ``link`` to another host.

    Browsers drop tabs and line breaks in URLs, trim controls and spaces, and
    read a backslash as a slash: ``/\\host`` and ``/<TAB>/host`` are ``//host``.
    """
    if link in EXTERNAL:
        return False
    if link.startswith(("//", "/\\", "\\")):
        return True
    cleaned = re.sub(r"[\t\n\r]", "", link).strip("\x00\x01\x02 ").replace("\\", "/")
    if cleaned.startswith("//"):
        return True
    target = urlsplit(urljoin(f"http://{HOST}{page}", cleaned))
    return target.scheme not in {"http", "https"} or target.netloc not in HOSTS


class Walker:
    def __init__(self) -> None:
        self.pages = 0

    def visit(self, client: FlaskClient, raw: str) -> Any:
        """GET a raw path (with its query), exactly as sent, and check every link it offers."""
        path, _, query = raw.partition("?")
        # WSGI carries the path as bytes decoded as latin-1, as a real server passes it.
        environ = {
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "REQUEST_URI": raw,
        }
        answer = client.get("/", environ_overrides=environ)
        html = answer.get_data(as_text=True)
        answer.close()
        links = [answer.headers.get("Location", "")]
        for tag in BeautifulSoup(html, "html.parser").find_all(True):
            links += [
                str(tag.get(a)) for a in ("href", "src", "action", "formaction") if tag.get(a)
            ]
        for link in filter(None, links):
            assert not leaves_the_site(link, raw), (raw, answer.status_code, link)
        self.pages += 1
        return answer

    def page_and_odd_queries(self, client: FlaskClient, path: str) -> None:
        self.visit(client, path)
        self.visit(client, f"{path}?{ODD_QUERY}")

    def odd_paths(self, client: FlaskClient, rules: list[str]) -> None:
        for prefix in PREFIXES:
            for segment in ODD_SEGMENTS:
                self.visit(client, f"{prefix}/{segment}")
                self.visit(client, f"{prefix}/{segment}?{ODD_QUERY}")
        for root in ODD_ROOTS:
            self.visit(client, root)
            self.visit(client, f"/staff{root}")
        for rule in rules:
            for segment in ODD_SEGMENTS[:4]:
                self.visit(client, re.sub(r"<[^>]+>", segment, rule))


def get_rules(app: Flask) -> list[str]:
    return sorted(
        {r.rule for r in app.url_map.iter_rules() if "<" in r.rule and "GET" in (r.methods or ())}
    )


def test_no_page_links_off_site_whatever_the_path(smtp_app: Flask, smtp: Any, make_app: Any):
    rendered: set[str] = set()

    def remember(_sender: Flask, template: Any, **_: Any) -> None:
        rendered.add(str(template.name))

    template_rendered.connect(remember)
    try:
        walker = Walker()
        _walk_the_portal(smtp_app, smtp, walker)
        _walk_the_demo(make_app, smtp_app, walker)
    finally:
        template_rendered.disconnect(remember)
    missing = page_templates() - rendered
    assert not missing, f"the walk never rendered {sorted(missing)}: add them to it"
    assert walker.pages > 300


def _walk_the_portal(app: Flask, smtp: Any, walker: Walker) -> None:
    rules = get_rules(app)
    # A requester with a completed access request: status page, download, files.
    _, requester = fulfilled(app, smtp)
    status_link = next(
        word.removeprefix("https://portal.example.org")
        for message in smtp.received.to(CAMILLE)
        for word in str(message.get_body(preferencelist=("plain",)).get_content()).split()
        if word.startswith("https://portal.example.org/s/")
    )
    walker.visit(requester, status_link)
    walker.page_and_odd_queries(requester, "/status")
    download = download_link(smtp)
    walker.page_and_odd_queries(requester, download)
    page = requester.get(download)
    data = {"csrf_token": csrf_from(page.data), **birth_parts(CAMILLE_BORN)}
    assert requester.post(download, data=data).status_code == 303
    walker.page_and_odd_queries(requester, "/download")
    walker.odd_paths(requester, rules)

    # A visitor filing a request: the verification page, then the request it follows.
    visitor = app.test_client()
    assert file_form(visitor, VALID_FILING).status_code == 303
    run_jobs(app)
    verify = link_in(smtp.received.to(VALID_FILING["email"])[-1])
    for path in [
        "/",
        "/accessibility",
        "/privacy",
        "/legal",
        "/request/sent",
        "/status/link",
        "/status/link/sent",
        verify,
        "/staff/login",
    ]:
        walker.page_and_odd_queries(visitor, path)
    for path in ["/verify/bogus", "/download/bogus", "/staff/enrol/bogus", "/status"]:
        walker.page_and_odd_queries(visitor, path)
    visitor.post(verify, data={"csrf_token": csrf_from(visitor.get(verify).data)})
    walker.page_and_odd_queries(visitor, "/status/withdraw")
    with app.app_context():
        _, token = accounts.create_staff(
            db.session(), "new@example.org", "agent", services_of(app).vault, utcnow()
        )
        db.session.commit()
        db.session.remove()
    walker.page_and_odd_queries(visitor, f"/staff/enrol/{token}")
    walker.odd_paths(visitor, rules)

    # Staff, signed in: every page of the case worker and of the administrator.
    dpo, account = staff_client(app, "dpo@example.org", "dpo")
    reference = case_held_by(app, account)
    for path in [
        "/staff/",
        "/staff/password",
        "/staff/queue",
        "/staff/dashboard",
        "/staff/audit",
        f"/staff/cases/{reference}",
        f"/staff/cases/{reference}/recompute",
        f"/staff/cases/{reference}/rectify",
    ]:
        walker.page_and_odd_queries(dpo, path)
    walker.odd_paths(dpo, rules)
    # The bulk action's result page: its "back" link is rebuilt from the filter, never
    # taken as given (the only page here reached by a POST).
    token = csrf_from(dpo.get("/staff/queue").data)
    for back in ("//evil.example", "next=//evil.example&due=%2F%2Fevil.example"):
        answer = dpo.post(
            "/staff/queue/bulk",
            data={
                "csrf_token": token,
                "action": "claim",
                "case": "DSR-2026-AAAAAA:1",
                "back": back,
            },
        )
        html = answer.get_data(as_text=True)
        for tag in BeautifulSoup(html, "html.parser").find_all(True):
            for link in (str(tag.get(a)) for a in ("href", "src", "action") if tag.get(a)):
                assert not leaves_the_site(link, "/staff/queue/bulk"), (back, link)
        walker.pages += 1
    admin, _ = staff_client(app, "admin@example.org", "admin")
    walker.page_and_odd_queries(admin, "/staff/accounts")
    walker.odd_paths(admin, rules)


def _walk_the_demo(make_app: Any, portal: Flask, walker: Walker) -> None:
    # The same database as the portal's, so the same keys for what it stored.
    keys = {name: portal.config[name] for name in ("SECRET_KEY", "DATA_ENCRYPTION_KEYS")}
    app = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False, **keys)
    client = app.test_client()
    file_form(client, VALID_FILING)
    run_jobs(app)
    walker.page_and_odd_queries(client, "/demo/mailbox")
    listing = client.get("/demo/mailbox").get_data(as_text=True)
    message = re.findall(r'href="(/demo/mailbox/[^"]+)"', listing)[0]
    walker.page_and_odd_queries(client, message)
    # The demo identity provider's page, with no sign-in in progress.
    walker.page_and_odd_queries(client, "/demo/identity/choose")
    walker.page_and_odd_queries(client, "/demo/identity/authorize")
    walker.odd_paths(client, get_rules(app))


def test_the_portal_serves_its_own_favicon(client):
    """Every page names an icon the portal itself serves (no 404 in the browser's tab)."""
    page = client.get("/").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"

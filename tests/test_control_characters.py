"""Every input refuses control characters with a 400, and nothing is written.

The walk takes every route of ``app.url_map`` (public, staff signed in, demo)
and poisons, one at a time, each path argument, each query parameter and each
form field of a submission that is otherwise valid, with NUL and other
control characters. Every answer must be the 400 page, in the visitor's
language, and the database must not have changed. The tables below are
written here, not read from the code; completeness checks make a new route,
a new form field or a new field name in a template fail until it is added.
It runs on PostgreSQL too (``TEST_DATABASE_URL``), where a NUL once gave 500s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms.fields.core import UnboundField

from app import input_guard
from app.extensions import db
from app.models import Base, Request
from app.public.memorable_date import PARTS, MemorableDateField
from app.staff.rectify_views import FIELD_PREFIX
from tests.conftest import ROOT, VALID_FILING, birth_parts, csrf_from
from tests.staffkit import PASSWORD, case_held_by, staff_client

# One of each kind: NUL, another C0 control (ESC), DEL, a C1 control (CSI).
CONTROLS = ["\x00", "\x1b", "\x7f", "\x9b"]
# A query value and a path never carry a line break; a path not even a tab.
IN_QUERY = [*CONTROLS, "\n", "\r"]
IN_PATH = [*IN_QUERY, "\t"]
REFUSED_FR = "caractère de contrôle invisible"

# (endpoint, method) -> who walks it. "public" is a visitor without a session.
WHO: dict[tuple[str, str], str] = {
    ("demo.mailbox", "GET"): "public",
    ("demo.message", "GET"): "public",
    ("static", "GET"): "public",
    ("staff.login", "GET"): "public",
    ("staff.login_post", "POST"): "public",
    ("staff.enrol", "GET"): "public",
    ("staff.enrol_post", "POST"): "public",
    ("staff.accounts", "GET"): "admin",
    ("staff.accounts_create", "POST"): "admin",
    ("staff.accounts_disable", "POST"): "admin",
    ("staff.accounts_role", "POST"): "admin",
    ("staff.accounts_enrolment", "POST"): "admin",
}
VERSION = {"version": "1"}
# Valid data of each form, so that only the poisoned character can be refused.
FORMS: dict[str, dict[str, str]] = {
    # With the fields of a request made for someone else (read when "other" is chosen).
    "public.check_answers": {
        **VALID_FILING,
        "for_whom": "other",
        "acts_as": "guardian",
        "heir_reason": "causes_of_death",
        **birth_parts("2025-02-03", "died_on"),
        "requester_first_name": "Paul",
        "requester_last_name": "Martin",
        **birth_parts("1975-01-02", "requester_birth_date"),
    },
    # The check page's buttons: the signed answers, and "Change" naming one of them.
    "public.file_request": {"answers": "signed-answers", "change": "email"},
    "public.new_status_link": {"email": "elodie.martin@example.fr"},
    "public.verify_resend": {"token": "a-token"},
    "public.answer": {"answer": "Les années 2015 à 2018."},
    "public.withdraw": {"confirm": "y"},
    "public.download_check": birth_parts("1980-07-14"),
    "staff.login_post": {"email": "dpo.walker@example.org", "password": PASSWORD, "code": "1"},
    "staff.enrol_post": {"password": PASSWORD, "confirm": PASSWORD, "code": "123456"},
    "staff.password_post": {"current": PASSWORD, "password": "x" * 12, "confirm": "x" * 12},
    "staff.case_note": {"text": "Called the hospital records office."},
    "staff.case_ask": {**VERSION, "kind": "information", "question": "Which years?"},
    "staff.case_prepare_refusal": {
        **VERSION,
        "ground": "legal_obligation",
        "message": "Nothing found for 2019.",
    },
    "staff.case_extend": {**VERSION, "ground": "complexity"},
    "staff.case_unfounded": {**VERSION, "ground": "excessive", "justification": "Tenth one."},
    "staff.case_assign": {**VERSION, "assignee": "1"},
    "staff.case_rectify_post": {
        **VERSION,
        "action": "save",
        "restriction": "1",
        f"{FIELD_PREFIX}postcode": "69003",
    },
    "staff.case_third_parties": {
        **VERSION,
        "action": "mask",
        "source": "care_exchanges",
        "table": "referral_letters",
        "key": "[1]",
        "column": "body",
        "passage": "Sa sœur, Mme Martine X",
        "start": "0",
        "redaction": "1",
    },
    "staff.accounts_create": {"email": "new.agent@example.org", "role": "agent"},
    "staff.accounts_disable": {"confirm": "yes"},
    "staff.accounts_role": {"role": "agent"},
    "staff.queue_bulk": {
        "action": "claim",
        "case": "DSR-2026-ABCDEF:1",
        "assignee": "1",
        "back": "due=overdue",
    },
    "staff.queue_filter_save": {"name": "Overdue erasures", "query": "due=overdue"},
    "staff.queue_filter_delete": {},
}
for _name in ("claim", "release", "send_back", "prepare_approval"):
    FORMS[f"staff.case_{_name}"] = VERSION
# A refusal approved after the month from receipt carries the DPO's justification.
FORMS["staff.case_approve"] = {**VERSION, "late_justification": "Hospital answered late."}
FORMS["staff.case_confirm_identity"] = VERSION
# The identity document (its file is sent as a plain field here: the guard reads both).
FORMS["public.document_upload"] = {"document": "a-file"}
FORMS["staff.identity_document_accept"] = {**VERSION, "document_id": "1"}
FORMS["staff.identity_document_refuse"] = {**VERSION, "document_id": "1", "reason": "expired"}
# The proofs of a relationship (a request made for someone else), sent and decided the same way.
FORMS["public.relationship_proof_upload"] = {"proof": "mandate", "document": "a-file"}
FORMS["staff.relationship_proof_accept"] = {**VERSION, "document_id": "1"}
FORMS["staff.relationship_proof_refuse"] = {**VERSION, "document_id": "1", "reason": "expired"}
# Forms of a button only: their CSRF token, poisoned names and query parameters are still sent.
FORMS |= {
    "staff.logout": {},
    "staff.audit_verify": {},
    "public.verify_confirm": {},
    "public.not_me_confirm": {},
}
# The sign-in with FranceConnect, and the demo identity provider (token, userinfo and
# logout are called by the portal's server or the provider's protocol, without CSRF).
FORMS |= {"public.oidc_start": {}, "public.oidc_logout": {}}
FORMS |= {"demo_identity.sign_in": {"persona": "1"}, "demo_identity.token": {}}
FORMS |= {"demo_identity.userinfo": {}, "demo_identity.logout": {}}
FORMS |= {
    "staff.accounts_enrolment": {},
    "staff.accounts_confirm": {},
    "staff.accounts_refuse": {},
}
AUDIT_FILTERS = {
    "reference": "DSR-2026-ABCDEF",
    "actor": "staff:1",
    "action": "case.",
    "date_from": "2026-01-01",
    "date_to": "2026-12-31",
    "before": "10",
}
QUEUE = {
    "q": "martin",
    "status": "triage",
    "kind": "access",
    "due": "5",
    "assignee": "me",
    "identity": "1",
    "assurance": "email",
    "retained": "1",
    "after": "2026-01-01.1",
    "seen": "25",
    "sort": "received",
    "dir": "desc",
    "approval": "me",
    "received_from": "2026-01-01",
    "received_to": "2026-12-31",
}
# Query parameters each page reads, beyond ``lang`` and an unknown one sent everywhere.
QUERIES: dict[str, dict[str, str]] = {
    "staff.queue": QUEUE,
    "staff.queue_export": QUEUE,
    "staff.audit_log": AUDIT_FILTERS,
    "staff.audit_export": AUDIT_FILTERS,
    "staff.login": {"next": "/staff/queue"},
    "staff.login_post": {"next": "/staff/queue"},
}
EVERYWHERE = {"lang": "en", "unknown": "value"}


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route, signing out last."""
    found = [
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    return sorted(found, key=lambda item: (item[0] == "staff.logout", item))


def form_classes() -> Iterator[type[FlaskForm]]:
    pending = list(FlaskForm.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("app."):
            yield cls


def field_names(cls: type[FlaskForm]) -> set[str]:
    """The names a form's fields send: a date of birth sends its three boxes."""
    names = set()
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if isinstance(value, UnboundField):
                if issubclass(value.field_class, MemorableDateField):
                    names |= {f"{name}-{part}" for part in PARTS}
                else:
                    names.add(name)
    return names


def template_field_names() -> set[str]:
    """The ``name`` of every input, select and textarea written by hand in a template."""
    names = set()
    for path in (ROOT / "templates").rglob("*.html"):
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", path.read_text()):
            match = re.search(r'name="([^"]*)"', tag)
            if match:
                name = match.group(1).replace("{{ prefix }}{{ field.name }}", FIELD_PREFIX)
                if name == "{{ field.part_name(part) }}":  # the boxes of a date of birth
                    names |= {f"birth_date-{part}" for part in PARTS}
                else:
                    names.add(name)
    return names


def test_the_walk_knows_every_route_form_field_and_template_field(make_app: Any) -> None:
    """A route, a form field or a template field that the walk does not send fails here."""
    app = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False)
    posts = {endpoint for endpoint, method, _ in routes(app) if method == "POST"}
    assert posts == set(FORMS), "give every POST route its valid form data in FORMS"
    # Only the sign-in makes the check in its view (after its rate limit); no other is exempt.
    own = {
        e for e, view in app.view_functions.items() if getattr(view, input_guard._SELF_CHECKED, 0)
    }
    assert own == {"staff.login_post"}
    sent = {name for data in [*FORMS.values(), *QUERIES.values()] for name in data}
    sent_prefixes = {name for name in sent if name.startswith(FIELD_PREFIX)}
    for cls in form_classes():
        assert field_names(cls) <= sent, (cls.__name__, field_names(cls) - sent)
    for name in template_field_names() - {"csrf_token"}:
        assert name in sent or (name == FIELD_PREFIX and sent_prefixes), name


def fingerprint(app: Flask) -> dict[str, int]:
    """Rows per table and the sum of the requests' versions: what a write would change."""
    tables = Base.metadata.sorted_tables
    columns = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
    columns.append(select(func.coalesce(func.sum(Request.version), 0)).scalar_subquery())
    with app.app_context():
        row = db.session.execute(select(*columns)).one()
        db.session.remove()
    return dict(zip([t.name for t in tables] + ["versions"], row, strict=True))


class Walk:
    """The clients and path arguments of the walk, and one poisoned request at a time."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        dpo_client, self.dpo = staff_client(app, "dpo.walker@example.org", "dpo")
        admin_client, admin = staff_client(app, "admin.walker@example.org", "admin")
        self.clients = {"public": app.test_client(), "dpo": dpo_client, "admin": admin_client}
        self.tokens = {
            "public": csrf_from(self.clients["public"].get("/").data),
            "dpo": csrf_from(dpo_client.get("/staff/password").data),
            "admin": csrf_from(admin_client.get("/staff/password").data),
        }
        self.arguments = {
            "reference": case_held_by(app, self.dpo),
            "token": "a-token",
            "staff_id": str(admin.id),
            "kind": "json",
            "name": "a-message",
            "filename": "portal.css",
            "document_id": "1",
            "filter_id": "1",
        }
        self.checked = 0

    def path(self, rule: str, poison: tuple[str, str] | None = None) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[-1]
            text = self.arguments[name]
            if poison and poison[0] == name:
                text = text[:2] + poison[1] + text[2:]
            return quote(text, safe="")

        return re.sub(r"<([^>]+)>", value, rule)

    def send(
        self, endpoint: str, method: str, url: str, data: dict[str, str], query: dict[str, str]
    ) -> None:
        who = WHO.get((endpoint, method), "dpo" if endpoint.startswith("staff.") else "public")
        client: FlaskClient = self.clients[who]
        target = f"{url}?{urlencode(query)}" if query else url
        before = fingerprint(self.app)
        if method == "GET":
            answer = client.get(target)
        else:
            answer = client.post(target, data={"csrf_token": self.tokens[who], **data})
        body = answer.get_data(as_text=True)
        answer.close()
        where = (endpoint, method, target, sorted(data.items()))
        assert answer.status_code == 400, (*where, answer.status_code)
        assert REFUSED_FR in body, where
        after = fingerprint(self.app)
        if endpoint == "staff.login_post":
            # The refused sign-in is audited (docs/security.md, "Staff authentication").
            assert after.pop("audit_events") == before.pop("audit_events") + 1, where
        assert after == before, where
        self.checked += 1


def poisoned(value: str, char: str) -> str:
    return value[:1] + char + value[1:] if value else char


def test_every_input_of_every_route_refuses_control_characters(make_app: Any) -> None:
    app = make_app(
        PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False, RATELIMIT_ENABLED=False
    )
    walk = Walk(app)
    for endpoint, method, rule in routes(app):
        data = dict(FORMS.get(endpoint, {})) if method == "POST" else {}
        query = QUERIES.get(endpoint, {})
        url = walk.path(rule)
        for name in re.findall(r"<(?:[^>:]+:)?([^>]+)>", rule):
            for char in IN_PATH:
                walk.send(endpoint, method, walk.path(rule, (name, char)), data, dict(query))
        for name, value in {**EVERYWHERE, **query}.items():
            for char in IN_QUERY:
                walk.send(endpoint, method, url, data, {**query, name: poisoned(value, char)})
        for char in ("\x00", "\t"):
            walk.send(endpoint, method, url, data, {**query, f"na{char}me": "1"})
        if method != "POST":
            continue
        for name, value in data.items():
            for char in CONTROLS:
                walk.send(endpoint, method, url, {**data, name: poisoned(value, char)}, query)
        for char in ("\x00", "\n"):
            walk.send(endpoint, method, url, {**data, f"na{char}me": "1"}, query)
    assert walk.checked > 500


def test_a_repeated_parameter_cannot_hide_a_control_character(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=False)
    client, _ = staff_client(app, "dpo@example.org", "dpo")
    answer = client.get("/staff/queue?q=martin&q=mar%00tin")
    assert answer.status_code == 400


def test_the_refusal_speaks_the_visitors_language(client: FlaskClient) -> None:
    french = client.get("/status/link?email=%00")
    assert french.status_code == 400 and REFUSED_FR in french.get_data(as_text=True)
    english = client.get("/status/link?lang=en&email=%00")
    assert english.status_code == 400
    assert "invisible control character" in english.get_data(as_text=True)
    json = client.get("/?q=%00", headers={"Accept": "application/json"})
    assert json.status_code == 400 and json.get_json()["error"] == 400


def test_line_breaks_and_tabs_stay_allowed_where_text_has_them(make_app: Any) -> None:
    """A note keeps its lines and tabs; a search may hold a pasted tab."""
    app = make_app(RATELIMIT_ENABLED=False)
    client, dpo = staff_client(app, "dpo@example.org", "dpo")
    reference = case_held_by(app, dpo)
    token = csrf_from(client.get(f"/staff/cases/{reference}").data)
    text = "Première ligne\r\nSeconde ligne\tavec une tabulation"
    answer = client.post(
        f"/staff/cases/{reference}/notes", data={"csrf_token": token, "text": text}
    )
    assert answer.status_code == 303
    assert "Seconde ligne" in client.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert client.get("/staff/queue?q=martin%09dupont").status_code == 200

"""Every staff route, walked as anonymous, as each role, and on another person's case.

The expected matrix is written here, not read from the code, so a view that
loses its role check, or a new route nobody classified, fails this test.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import IdentityDocument, RelationshipProof, Request, SavedFilter
from app.services import services_of
from tests.conftest import csrf_from
from tests.staffkit import Account, add_staff, case_held_by, staff_client

ANYONE = frozenset({"agent", "dpo", "admin"})
CASE_WORKERS = frozenset({"agent", "dpo"})
DPO = frozenset({"dpo"})
AUDITORS = frozenset({"dpo", "admin"})
ADMIN = frozenset({"admin"})

# Pages reachable without a session.
OPEN = {"staff.login", "staff.login_post", "staff.enrol", "staff.enrol_post"}
# endpoint -> the roles it serves (docs/security.md, "Roles and decisions"; app/staffing/roles.py).
MATRIX: dict[str, frozenset[str]] = {
    "staff.home": ANYONE,
    "staff.password": ANYONE,
    "staff.password_post": ANYONE,
    "staff.logout": ANYONE,
    "staff.queue": CASE_WORKERS,
    "staff.queue_export": CASE_WORKERS,
    # Assigning in bulk is a DPO's (the view refuses an agent's), claim and release anyone's.
    "staff.queue_bulk": CASE_WORKERS,
    "staff.queue_filter_save": CASE_WORKERS,
    "staff.queue_filter_delete": CASE_WORKERS,
    "staff.dashboard": CASE_WORKERS,
    "staff.case": CASE_WORKERS,
    "staff.case_recompute": CASE_WORKERS,
    "staff.case_claim": CASE_WORKERS,
    "staff.case_release": CASE_WORKERS,
    "staff.case_note": CASE_WORKERS,
    "staff.case_prepare_approval": CASE_WORKERS,
    "staff.case_prepare_refusal": CASE_WORKERS,
    "staff.case_approve": CASE_WORKERS,
    "staff.case_send_back": CASE_WORKERS,
    "staff.case_ask": CASE_WORKERS,
    "staff.case_extend": CASE_WORKERS,
    "staff.case_confirm_identity": CASE_WORKERS,
    "staff.identity_document": CASE_WORKERS,
    "staff.identity_document_accept": CASE_WORKERS,
    "staff.identity_document_refuse": CASE_WORKERS,
    "staff.relationship_proof": CASE_WORKERS,
    "staff.relationship_proof_accept": CASE_WORKERS,
    "staff.relationship_proof_refuse": CASE_WORKERS,
    "staff.case_rectify": CASE_WORKERS,
    "staff.case_rectify_post": CASE_WORKERS,
    # The third-party review (mask, put back, done): the domain lets the holder only.
    "staff.case_third_parties": CASE_WORKERS,
    "staff.case_assign": DPO,
    "staff.case_unfounded": DPO,
    "staff.audit_log": AUDITORS,
    "staff.audit_verify": AUDITORS,
    "staff.audit_export": AUDITORS,
    # DPOs see the accounts to confirm the DPO role an administrator gave (four eyes).
    "staff.accounts": AUDITORS,
    "staff.accounts_create": ADMIN,
    "staff.accounts_role": ADMIN,
    "staff.accounts_enrolment": ADMIN,
    "staff.accounts_disable": ADMIN,
    "staff.accounts_confirm": DPO,
    "staff.accounts_refuse": DPO,
}
# On a case someone else holds, these roles are refused although they work cases.
NOT_THEIRS: dict[str, frozenset[str]] = {
    "staff.case_release": frozenset({"agent"}),  # a DPO may release anyone's case
    "staff.case_prepare_approval": CASE_WORKERS,
    "staff.case_prepare_refusal": CASE_WORKERS,
    "staff.case_approve": CASE_WORKERS,
    "staff.case_ask": CASE_WORKERS,
    "staff.case_extend": CASE_WORKERS,
    "staff.case_confirm_identity": CASE_WORKERS,
}
# Valid form data, so that a refusal can only come from the role or holder check.
FORM_DATA: dict[str, dict[str, str]] = {
    "staff.case_note": {"text": "Called the hospital records office."},
    "staff.case_prepare_refusal": {"ground": "legal_obligation"},
    "staff.case_ask": {"kind": "information", "question": "Which years?"},
    "staff.case_extend": {"ground": "complexity"},
    "staff.identity_document_refuse": {"reason": "expired"},
    "staff.relationship_proof_refuse": {"reason": "expired"},
    "staff.case_unfounded": {"ground": "excessive", "justification": "Tenth identical request."},
    "staff.password_post": {"current": "not my password", "password": "x" * 12, "confirm": "y"},
    "staff.accounts_create": {"email": "", "role": "agent"},
    "staff.accounts_role": {"role": "agent"},
    "staff.queue_bulk": {"action": "claim", "case": "DSR-2026-AAAAAA:1"},
    "staff.queue_filter_save": {"name": "Overdue erasures", "query": "due=overdue"},
}


def staff_endpoints(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every staff route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff."):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule))
    # Signing out last: it ends the session the walk uses.
    return sorted(found, key=lambda item: item[0] == "staff.logout")


def held_case(app: Flask, holder: Account) -> tuple[str, int]:
    """An access request in review, held by ``holder``: someone else's case for the walker."""
    reference = case_held_by(app, holder, "access")
    with app.app_context():
        request_id = db.session.scalar(select(Request.id).where(Request.reference == reference))
        db.session.remove()
    return reference, int(request_id)


def url_for_rule(
    rule: str, reference: str, staff_id: int, document_id: int = 0, filter_id: int = 0
) -> str:
    return (
        rule.replace("<reference>", reference)
        .replace("<int:filter_id>", str(filter_id))
        .replace("<int:staff_id>", str(staff_id))
        .replace("<int:document_id>", str(document_id))
        .replace("<token>", "not-a-real-token")
    )


def with_document(app: Flask, request_id: int, rule: str = "") -> int:
    """An identity document (or a proof of relationship) waiting on the case, for the walker."""
    with app.app_context():
        model: Any = RelationshipProof if "relationship-proof" in rule else IdentityDocument
        extra = {"proof": "mandate"} if model is RelationshipProof else {}
        document = model(
            request_id=request_id,
            media_type="image/png",
            size=4,
            content_encrypted=services_of(app).vault.encrypt_bytes(b"\x89PNG"),
            **extra,
        )
        db.session.add(document)
        db.session.commit()
        found = document.id
        db.session.remove()
    return found


def with_saved_filter(app: Flask, staff_id: int) -> int:
    """A saved queue filter of the walker's own, so that deleting it can be allowed."""
    with app.app_context():
        kept = SavedFilter(staff_id=staff_id, name=secrets.token_hex(4), query="due=overdue")
        db.session.add(kept)
        db.session.commit()
        found = kept.id
        db.session.remove()
    return found


def call(client: FlaskClient, method: str, url: str, endpoint: str, token: str) -> Any:
    if method == "GET":
        answer = client.get(url)
    else:
        data = {"csrf_token": token, "version": "1", **FORM_DATA.get(endpoint, {})}
        answer = client.post(url, data=data)
    # Read and close it as a browser would: a streamed export ends its context then.
    answer.get_data()
    answer.close()
    return answer


def test_every_staff_route_is_in_the_matrix(app: Flask) -> None:
    endpoints = {endpoint for endpoint, _, _ in staff_endpoints(app)}
    assert endpoints - OPEN == set(MATRIX), "classify every staff route in MATRIX"


def test_anonymous_visitors_are_sent_to_the_login_page(app: Flask, client: FlaskClient) -> None:
    """The staff blueprint is closed by default: only sign-in and enrolment answer."""
    owner = add_staff(app, "owner@example.org", "agent")
    reference, _ = held_case(app, owner)
    token = csrf_from(client.get("/staff/login").data)
    for endpoint, method, rule in staff_endpoints(app):
        answer = call(client, method, url_for_rule(rule, reference, owner.id), endpoint, token)
        if endpoint in OPEN:
            assert answer.status_code not in (302, 303), endpoint
            continue
        assert answer.status_code == 302, (endpoint, method, answer.status_code)
        assert answer.headers["Location"].startswith("/staff/login"), endpoint


@pytest.mark.parametrize("role", ["agent", "dpo", "admin"])
def test_each_role_reaches_exactly_what_the_matrix_allows(app: Flask, role: str) -> None:
    owner = add_staff(app, "owner@example.org", "agent")
    client, me = staff_client(app, f"{role}.walker@example.org", role)
    token = csrf_from(client.get("/staff/password").data)
    for endpoint, method, rule in staff_endpoints(app):
        if endpoint in OPEN:
            continue
        # A fresh case each time: one decision must not change what the next one meets.
        reference, request_id = held_case(app, owner)
        target = add_staff(app, f"target.{secrets.token_hex(3)}@example.org", "agent")
        document = with_document(app, request_id, rule) if "document_id" in rule else 0
        kept = with_saved_filter(app, me.id) if "filter_id" in rule else 0
        url = url_for_rule(rule, reference, target.id, document, kept)
        answer = call(client, method, url, endpoint, token)
        allowed = role in MATRIX[endpoint] and role not in NOT_THEIRS.get(endpoint, set())
        if allowed:
            assert answer.status_code not in (302, 403, 404, 500), (
                endpoint,
                method,
                answer.status_code,
            )
        else:
            assert answer.status_code == 403, (endpoint, method, role, answer.status_code)
    assert me.role == role


def test_the_holder_may_do_what_others_may_not(app: Flask) -> None:
    """The same actions, on the walker's own case, are not refused for the holder."""
    client, me = staff_client(app, "holder@example.org", "agent")
    token = csrf_from(client.get("/staff/password").data)
    for endpoint, rules in NOT_THEIRS.items():
        if "agent" not in rules:
            continue
        reference, _ = held_case(app, me)
        rule = next(r for e, m, r in staff_endpoints(app) if e == endpoint)
        answer = call(client, "POST", url_for_rule(rule, reference, me.id), endpoint, token)
        assert answer.status_code != 403, (endpoint, answer.status_code)

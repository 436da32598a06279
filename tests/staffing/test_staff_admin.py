"""The administrators' staff accounts page: list, create with a one-time link, disable."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, StaffUser
from tests.conftest import csrf_from, post_form
from tests.staffkit import add_staff, staff_client

PAGE = "/staff/accounts"


def admin(app: Flask) -> tuple[FlaskClient, int]:
    client, account = staff_client(app, "root@example.org", "admin")
    client.get("/staff/?lang=en")
    return client, account.id


def rows(app: Flask) -> dict[str, StaffUser]:
    with app.app_context():
        users = {u.email: u for u in db.session.scalars(select(StaffUser))}
        db.session.expunge_all()
        db.session.remove()
    return users


def audit_of(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        db.session.remove()
    return events


def test_only_admins_see_the_page(app: Flask) -> None:
    """Agents and DPOs are refused; the list shows every account and its state."""
    for role in ("agent", "dpo"):
        client, _ = staff_client(app, f"{role}@example.org", role)
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE, data={}).status_code in (400, 403)
    client, _ = admin(app)
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for email in ("agent@example.org", "dpo@example.org", "root@example.org"):
        assert email in text
    assert "data protection officer" in text


def test_create_shows_the_link_once_and_audits(app: Flask) -> None:
    """The enrolment link, built from PORTAL_BASE_URL, opens the enrolment page."""
    client, me = admin(app)
    answer = post_form(client, PAGE, {"email": " New.Agent@Example.org", "role": "agent"})
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    found = re.search(r"https://portal\.example\.org(/staff/enrol/[\w-]+)", text)
    assert found, text
    assert "new.agent@example.org" in rows(app)
    assert rows(app)["new.agent@example.org"].role == "agent"
    assert found.group(1) not in client.get(PAGE).get_data(as_text=True)
    created = audit_of(app, "staff.created")
    assert created[-1].actor == f"staff:{me}"
    assert app.test_client().get(found.group(1)).status_code == 200


def test_create_errors_are_shown_next_to_the_field(app: Flask) -> None:
    """Duplicate, malformed address or unknown role: 422, a message, nothing written."""
    client, _ = admin(app)
    add_staff(app, "taken@example.org", "agent")
    before = len(rows(app))
    for data, field in (
        ({"email": "TAKEN@example.org", "role": "dpo"}, "email"),
        ({"email": "not-an-address", "role": "agent"}, "email"),
        ({"email": "", "role": "agent"}, "email"),
        ({"email": "fine@example.org", "role": "root"}, "role"),
    ):
        answer = post_form(client, PAGE, data)
        assert answer.status_code == 422, data
        soup = BeautifulSoup(answer.data, "html.parser")
        assert soup.find(id=f"{field}-error") is not None, data
    assert len(rows(app)) == before
    assert len(audit_of(app, "staff.created")) == before


def test_disable_asks_first_then_ends_the_account(app: Flask) -> None:
    """The button leads to a confirmation; confirming disables, audits and ends sessions."""
    client, me = admin(app)
    victim_client, victim = staff_client(app, "leaving@example.org", "agent")
    action = f"/staff/accounts/{victim.id}/disable"
    asked = post_form(client, PAGE, {}, action=action)
    assert asked.status_code == 200
    assert "leaving@example.org" in asked.get_data(as_text=True)
    assert rows(app)["leaving@example.org"].is_active
    done = client.post(action, data={"confirm": "yes", "csrf_token": csrf_from(asked.data)})
    assert done.status_code == 303
    assert not rows(app)["leaving@example.org"].is_active
    assert audit_of(app, "staff.disabled")[-1].actor == f"staff:{me}"
    assert victim_client.get("/staff/").status_code == 302


def test_an_admin_cannot_disable_themself(app: Flask) -> None:
    """A clear refusal, and the account stays active."""
    client, me = admin(app)
    answer = post_form(client, PAGE, {"confirm": "yes"}, action=f"/staff/accounts/{me}/disable")
    assert answer.status_code == 403
    assert "your own account" in answer.get_data(as_text=True)
    assert rows(app)["root@example.org"].is_active
    assert audit_of(app, "staff.disabled") == []


def test_disable_needs_csrf(app: Flask) -> None:
    """A forged form changes nothing."""
    client, _ = admin(app)
    other = add_staff(app, "other@example.org", "agent")
    answer = client.post(f"/staff/accounts/{other.id}/disable", data={"confirm": "yes"})
    assert answer.status_code == 400
    assert rows(app)["other@example.org"].is_active

"""The staff accounts page: administrators list, create (the link goes by email), disable.

What takes a second person (the DPO role) is in test_staff_duties.py.
"""

from __future__ import annotations

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Job, StaffUser
from tests.conftest import csrf_from, post_form, text_of
from tests.staffkit import add_staff, enrolment_path, mailbox, staff_client

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
        events = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return events


def test_only_admins_see_the_page(app: Flask) -> None:
    """Agents are refused, DPOs read it without creating; it lists every account and state."""
    agent, _ = staff_client(app, "agent@example.org", "agent")
    assert agent.get(PAGE).status_code == 403
    assert agent.post(PAGE, data={}).status_code in (400, 403)
    dpo, _ = staff_client(app, "dpo@example.org", "dpo")
    seen = dpo.get(PAGE)
    assert seen.status_code == 200
    assert 'action="/staff/accounts"' not in seen.get_data(as_text=True)
    assert post_form(dpo, PAGE, {"email": "x@example.org", "role": "agent"}).status_code == 403
    client, _ = admin(app)
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for email in ("agent@example.org", "dpo@example.org", "root@example.org"):
        assert email in text
    assert "data protection officer" in text


def test_create_shows_no_link_and_emails_it_to_the_invitee(app: Flask) -> None:
    """The link goes to the new account's mailbox only: never on a page, never to the admin."""
    client, me = admin(app)
    answer = post_form(client, PAGE, {"email": " New.Agent@Example.org", "role": "agent"})
    assert answer.status_code == 303
    assert "/staff/enrol/" not in answer.get_data(as_text=True)
    page = client.get(PAGE).get_data(as_text=True)
    assert "/staff/enrol/" not in page
    assert "new.agent@example.org" in page and "is on its way to that address" in page
    assert rows(app)["new.agent@example.org"].role == "agent"
    created = audit_of(app, "staff.created")
    assert created[-1].actor == f"staff:{me}"
    path = enrolment_path(app, "new.agent@example.org")
    assert app.test_client().get(path).status_code == 200
    # Nobody else received it; once sent, the job keeps no copy of it.
    carriers = [m["To"] for m in mailbox(app) if path in text_of(m)]
    assert carriers == ["new.agent@example.org"]
    with app.app_context():
        payloads = [job.payload for job in db.session.scalars(select(Job))]
        db.session.remove()
    assert not any("secret_enrolment" in payload for payload in payloads)
    assert path.rsplit("/", 1)[1] not in str(payloads)


def test_a_new_link_goes_to_the_same_mailbox_and_the_old_one_dies(app: Flask) -> None:
    """The button "Send a new enrolment link" emails the account; the previous link dies."""
    client, _ = admin(app)
    post_form(client, PAGE, {"email": "slow@example.org", "role": "agent"})
    first = enrolment_path(app, "slow@example.org")
    staff_id = rows(app)["slow@example.org"].id
    answer = post_form(client, PAGE, {}, action=f"/staff/accounts/{staff_id}/enrolment")
    assert answer.status_code == 303
    second = enrolment_path(app, "slow@example.org")
    assert second != first
    assert second not in client.get(PAGE).get_data(as_text=True)
    assert app.test_client().get(first).status_code != 200
    assert app.test_client().get(second).status_code == 200
    assert audit_of(app, "staff.enrolment_sent")


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

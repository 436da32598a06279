"""Separation of duties: granting the DPO role takes two people, and every DPO is told.

An administrator who could make a DPO alone could make one for themselves and
read the queue, and four eyes would rest on one person. So a DPO role given on
the accounts page waits until another active DPO confirms it there, and only
the operator on the server (``flask staff``) grants it directly, which is how
the first DPO is made. Every active DPO gets an email when a privileged
account is created, enabled or changes role.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, Job, StaffUser
from app.staffing import accounts, duties, roles
from tests.conftest import post_form, text_of
from tests.staffkit import Account, add_staff, enrolment_path, mail_to, staff_client

PAGE = "/staff/accounts"
NOTICE = "protection des données"  # in the subject of every notice about a DPO role


def account(app: Flask, email: str) -> StaffUser:
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None, email
        db.session.expunge(user)
        db.session.remove()
    return user


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


def admin(app: Flask, email: str = "root@example.org") -> tuple[FlaskClient, Account]:
    client, me = staff_client(app, email, "admin")
    client.get("/staff/?lang=en")
    return client, me


def create_on_page(client: FlaskClient, email: str, role: str) -> None:
    answer = post_form(client, PAGE, {"email": email, "role": role})
    # Created (the redirect itself is test_staff_admin.py's): what follows is under test.
    assert answer.status_code < 400, answer.data[:500]


def press(client: FlaskClient, staff_id: int, what: str, **data: str) -> int:
    """A button of the accounts page (role, confirm, refuse, enrolment) for one account.

    The CSRF token comes from a page every role may open, so that a refusal
    can only come from the action itself.
    """
    action = f"/staff/accounts/{staff_id}/{what}"
    answer = post_form(client, "/staff/password", data, action=action)
    return int(answer.status_code)


def test_an_admin_cannot_make_a_dpo_alone(app: Flask) -> None:
    """The new account holds no role and no link until another DPO confirms it."""
    add_staff(app, "first.dpo@example.org", "dpo")
    client, me = admin(app)
    create_on_page(client, "new.dpo@example.org", "dpo")
    user = account(app, "new.dpo@example.org")
    assert user.role is None and user.pending_role == "dpo" and user.pending_by_id == me.id
    assert not roles.allowed(user.role, roles.APPROVE_SENSITIVE)
    assert user.enrolment_token_hash is None
    assert mail_to(app, "new.dpo@example.org") == [], "no link before the confirmation"
    page = client.get(PAGE).get_data(as_text=True)
    assert "awaiting confirmation" in page
    # The admin who asked has no button to confirm, and the route refuses them.
    assert "/confirm" not in page
    assert press(client, user.id, "confirm") == 403
    assert account(app, "new.dpo@example.org").role is None


def test_another_dpo_confirms_and_the_link_goes_out_then(app: Flask) -> None:
    """The DPO's confirmation puts the role in force and sends the invitee their link."""
    client, me = admin(app)
    dpo_client, dpo = staff_client(app, "first.dpo@example.org", "dpo")
    create_on_page(client, "new.dpo@example.org", "dpo")
    new = account(app, "new.dpo@example.org")
    assert f"/staff/accounts/{new.id}/confirm" in dpo_client.get(PAGE).get_data(as_text=True)
    assert press(dpo_client, new.id, "confirm") == 303
    confirmed = account(app, "new.dpo@example.org")
    assert confirmed.role == "dpo" and confirmed.pending_role is None
    [event] = audit_of(app, "staff.role_confirmed")
    assert event.actor == dpo.actor
    assert event.details["asked_by"] == me.id and event.details["to"] == "dpo"
    assert app.test_client().get(enrolment_path(app, "new.dpo@example.org")).status_code == 200


def test_an_admin_cannot_promote_an_agent_to_dpo_alone(app: Flask) -> None:
    """The agent stays an agent until a DPO confirms; then the role is in force."""
    client, _ = admin(app)
    dpo_client, _ = staff_client(app, "first.dpo@example.org", "dpo")
    agent_client, agent = staff_client(app, "agent@example.org", "agent")
    assert press(client, agent.id, "role", role="dpo") == 303
    waiting = account(app, "agent@example.org")
    assert waiting.role == "agent" and waiting.pending_role == "dpo"
    # Still an agent: the DPO's pages stay closed, and the agent cannot confirm themself.
    assert agent_client.get("/staff/audit").status_code == 403
    assert press(agent_client, agent.id, "confirm") == 403
    assert press(dpo_client, agent.id, "confirm") == 303
    assert account(app, "agent@example.org").role == "dpo"
    assert agent_client.get("/staff/audit").status_code == 200


def test_the_one_who_asked_cannot_confirm_even_once_a_dpo(app: Flask) -> None:
    """An administrator who asked, and is later made a DPO on the server, still cannot confirm."""
    client, me = admin(app)
    create_on_page(client, "new.dpo@example.org", "dpo")
    result = app.test_cli_runner().invoke(
        args=["staff", "role", "--email", me.email, "--role", "dpo"]
    )
    assert result.exit_code == 0, result.output
    new = account(app, "new.dpo@example.org")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Another data protection officer must decide" in page
    assert press(client, new.id, "confirm") == 403
    assert account(app, "new.dpo@example.org").role is None
    with app.app_context():
        session = db.session()
        me_now = session.get(StaffUser, me.id)
        target = session.get(StaffUser, new.id)
        assert me_now is not None and target is not None
        with pytest.raises(accounts.AccountError, match="second_person"):
            duties.confirm(session, target, datetime.now(UTC), by=me_now, domain="localhost")
        db.session.remove()


def test_a_dpo_may_refuse_and_nothing_is_granted(app: Flask) -> None:
    """Refused: the agent keeps their role, the decision is audited, the button is gone."""
    client, _ = admin(app)
    dpo_client, dpo = staff_client(app, "first.dpo@example.org", "dpo")
    agent = add_staff(app, "agent@example.org", "agent")
    press(client, agent.id, "role", role="dpo")
    assert press(dpo_client, agent.id, "refuse") == 303
    refused = account(app, "agent@example.org")
    assert refused.role == "agent" and refused.pending_role is None
    assert audit_of(app, "staff.role_refused")[-1].actor == dpo.actor
    assert press(dpo_client, agent.id, "confirm") == 409


def test_the_first_dpo_comes_from_the_server(app: Flask) -> None:
    """With no DPO, the page says who can make one; the command line makes it at once."""
    client, _ = admin(app)
    create_on_page(client, "new.dpo@example.org", "dpo")
    assert "the first one is created on the server" in client.get(PAGE).get_data(as_text=True)
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "boot.dpo@example.org", "--role", "dpo"]
    )
    assert result.exit_code == 0, result.output
    assert account(app, "boot.dpo@example.org").role == "dpo"
    assert enrolment_path(app, "boot.dpo@example.org").startswith("/staff/enrol/")


def notices_to(app: Flask, address: str) -> list[str]:
    return [text_of(m) for m in mail_to(app, address) if "staff/accounts" in text_of(m)]


def test_every_active_dpo_is_told_of_privileged_accounts(app: Flask) -> None:
    """Created, role changed, enabled: one email per active DPO, with address and role only."""
    client, me = admin(app)
    dpos = [add_staff(app, f"dpo{i}@example.org", "dpo") for i in (1, 2)]
    gone = add_staff(app, "gone.dpo@example.org", "dpo")
    app.test_cli_runner().invoke(args=["staff", "disable", "--email", gone.email])
    agent = add_staff(app, "agent@example.org", "agent")
    # What the DPOs were told while the others were being set up is not under test.
    before = {d.email: len(notices_to(app, d.email)) for d in dpos}
    create_on_page(client, "second.admin@example.org", "admin")
    create_on_page(client, "plain.agent@example.org", "agent")  # not privileged: no notice
    press(client, agent.id, "role", role="admin")
    press(client, dpos[1].id, "role", role="agent")
    runner = app.test_cli_runner()
    runner.invoke(args=["staff", "disable", "--email", "second.admin@example.org"])
    runner.invoke(args=["staff", "enable", "--email", "second.admin@example.org"])
    told = notices_to(app, dpos[0].email)[before[dpos[0].email] :]
    assert len(told) == 4, told
    created, promoted, demoted, enabled = told
    assert "second.admin@example.org" in created and "administrateur" in created
    assert "agent@example.org" in promoted and "administrateur" in promoted
    assert dpos[1].email in demoted and "agent" in demoted
    assert "second.admin@example.org" in enabled and "ligne de commande" in enabled
    for text in told:
        addresses = set(re.findall(r"[\w.+-]+@[\w.-]+", text))
        assert len(addresses) == 1, f"only the account's address: {addresses}"
        assert me.email not in text
    # The demoted DPO was told of what came before; disabled DPOs and agents never.
    assert len(notices_to(app, dpos[1].email)) - before[dpos[1].email] == 2
    assert notices_to(app, gone.email) == [] and notices_to(app, agent.email) == []


def test_dpos_are_asked_and_told_of_a_dpo_role(app: Flask) -> None:
    """The request reaches every DPO with a link to confirm; its confirmation too."""
    client, _ = admin(app)
    dpo_client, dpo = staff_client(app, "first.dpo@example.org", "dpo")
    create_on_page(client, "new.dpo@example.org", "dpo")
    [asked] = [m for m in mail_to(app, dpo.email) if NOTICE in str(m["Subject"])]
    assert "new.dpo@example.org" in text_of(asked)
    assert "https://portal.example.org/staff/accounts" in text_of(asked)
    press(dpo_client, account(app, "new.dpo@example.org").id, "confirm")
    subjects = [str(m["Subject"]) for m in mail_to(app, dpo.email) if NOTICE in str(m["Subject"])]
    assert len(subjects) == 2 and subjects[0] != subjects[1]


@pytest.mark.postgres
def test_sixteen_dpos_confirming_at_once_grant_once(app: Flask) -> None:
    """On PostgreSQL, 16 DPOs press "confirm" at the same instant: one grant, one link."""
    client, _ = admin(app)
    dpos = [add_staff(app, f"dpo{i}@example.org", "dpo") for i in range(16)]
    create_on_page(client, "new.dpo@example.org", "dpo")
    target = account(app, "new.dpo@example.org").id
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=16)
    barrier = threading.Barrier(16, timeout=60)
    outcomes: list[str] = []
    lock = threading.Lock()

    def confirm(dpo: Account) -> None:
        with Session(engine) as session:
            me = session.get(StaffUser, dpo.id)
            user = session.get(StaffUser, target)
            assert me is not None and user is not None
            barrier.wait()
            try:
                duties.confirm(session, user, datetime.now(UTC), by=me, domain="localhost")
                session.commit()
                result = "confirmed"
            except accounts.AccountError as error:
                session.rollback()
                result = error.reason
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=confirm, args=(d,)) for d in dpos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert outcomes.count("confirmed") == 1, outcomes
    assert set(outcomes) == {"confirmed", "nothing_pending"}
    assert len(audit_of(app, "staff.role_confirmed")) == 1
    with app.app_context():
        links = [
            job
            for job in db.session.scalars(select(Job))
            if job.payload.get("template") == "staff_enrolment"
        ]
        db.session.remove()
    assert len(links) == 1

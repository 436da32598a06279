"""One person, one account: one per mailbox, enforced by the database; who created whom.

Two accounts of one person could prepare and approve each other's decisions,
and four eyes would rest on one pair of them. The mailbox an address reaches
(``app.staffing.mailbox``) is unique among staff accounts: the check gives a
clear message, the unique index settles races. The audit trail and the
accounts page show who created each account.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, StaffUser
from app.services import services_of
from app.staffing import accounts, invites
from app.staffing.mailbox import mailbox_key
from tests.conftest import post_form
from tests.staffkit import add_staff, staff_client

PAGE = "/staff/accounts"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Alice@Example.org", "alice@example.org"),
        ("alice+dpo@example.org", "alice@example.org"),
        ("ALICE+second+third@EXAMPLE.ORG", "alice@example.org"),
        ("bob@exämple.org", "bob@xn--exmple-cua.org"),
        (" carol@example.org. ", "carol@example.org"),
    ],
)
def test_addresses_of_one_mailbox_have_one_key(one: str, other: str) -> None:
    assert mailbox_key(one) == mailbox_key(other)


@pytest.mark.parametrize("bad", ["", "alice", "@example.org", "alice@", "+tag@example.org"])
def test_what_is_not_an_address_has_no_key(bad: str) -> None:
    with pytest.raises(ValueError):
        mailbox_key(bad)


def test_distinct_mailboxes_stay_distinct() -> None:
    assert mailbox_key("alice@example.org") != mailbox_key("alice@example.com")
    assert mailbox_key("alice.b@example.org") != mailbox_key("aliceb@example.org")


def count(app: Flask) -> int:
    with app.app_context():
        total = int(db.session.scalar(select(func.count()).select_from(StaffUser)) or 0)
        db.session.remove()
    return total


def test_a_second_account_for_one_mailbox_is_refused_clearly(app: Flask) -> None:
    """On the page (422, a message at the field) and on the command line: nothing created."""
    add_staff(app, "alice@example.org", "agent")
    client, _ = staff_client(app, "root@example.org", "admin")
    client.get("/staff/?lang=en")
    before = count(app)
    answer = post_form(client, PAGE, {"email": "Alice+approver@Example.org", "role": "dpo"})
    assert answer.status_code == 422
    error = BeautifulSoup(answer.data, "html.parser").find(id="email-error")
    assert error is not None and "One person holds one account" in error.get_text()
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "ALICE+2@example.org", "--role", "dpo"]
    )
    assert result.exit_code == 1 and "email_taken" in result.output
    assert count(app) == before


def test_the_database_refuses_two_accounts_for_one_mailbox(app: Flask) -> None:
    """Whatever code writes the row, the unique index on the mailbox key refuses the second."""
    add_staff(app, "alice@example.org", "agent")
    with app.app_context():
        session = db.session()
        session.add(StaffUser(email="alice+again@example.org", role="dpo"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        db.session.remove()
    assert count(app) == 1


def test_the_audit_and_the_page_show_who_created_whom(app: Flask) -> None:
    """An admin's creation names the admin; the command line's names the server."""
    client, me = staff_client(app, "root@example.org", "admin")
    client.get("/staff/?lang=en")
    post_form(client, PAGE, {"email": "made.by.root@example.org", "role": "agent"})
    app.test_cli_runner().invoke(
        args=["staff", "create", "--email", "made.on.server@example.org", "--role", "agent"]
    )
    with app.app_context():
        made = {
            u.email: u
            for u in db.session.scalars(select(StaffUser).where(StaffUser.email.like("made%")))
        }
        created = {
            e.details["staff_id"]: e
            for e in db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "staff.created")
            )
        }
        by_root, by_server = made["made.by.root@example.org"], made["made.on.server@example.org"]
        assert by_root.created_by_id == me.id and by_server.created_by_id is None
        assert created[by_root.id].actor == me.actor
        assert created[by_root.id].details["created_by"] == me.id
        assert created[by_server.id].actor == "cli"
        assert created[by_server.id].details["created_by"] is None
        db.session.remove()
    rows = BeautifulSoup(client.get(PAGE).data, "html.parser").find_all("tr")
    text = {row.td.get_text(strip=True): row.get_text(" ", strip=True) for row in rows if row.td}
    assert "by root@example.org" in text["made.by.root@example.org"]
    assert "on the server" in text["made.on.server@example.org"]


@pytest.mark.postgres
def test_sixteen_creations_for_one_mailbox_at_once_make_one_account(app: Flask) -> None:
    """On PostgreSQL, 16 threads create the same person under 16 spellings: one account."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=16)
    barrier = threading.Barrier(16, timeout=60)
    outcomes: list[str] = []
    lock = threading.Lock()
    vault = services_of(app).vault

    def create(i: int) -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                invites.create_staff(
                    session, f"Dana+{i}@Example.org", "agent", vault, datetime.now(UTC)
                )
                session.commit()
                result = "created"
            except accounts.AccountError as error:
                session.rollback()
                result = error.reason
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert outcomes.count("created") == 1, outcomes
    assert set(outcomes) == {"created", "email_taken"}
    assert count(app) == 1

"""Bulk actions on the queue: several cases claimed, released or assigned at once,
each with the safety of one at a time (role, version, one audit event per case)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.casework import bulk, cases
from app.extensions import db
from app.models import AuditEvent, Request, StaffUser, utcnow
from app.services import services_of
from tests.casework.test_queue import add_agent, add_request
from tests.conftest import csrf_from
from tests.staffkit import add_staff, staff_client


def _apply(session, app, staff, action, items, assignee=None):
    return bulk.apply(
        session,
        staff,
        action,
        items,
        assignee=assignee,
        now=utcnow(),
        mail=services_of(app).mail,
        commit=session.commit,
        rollback=session.rollback,
    )


def _events(session, action: str) -> list[int]:
    return sorted(
        session.scalars(select(AuditEvent.request_id).where(AuditEvent.action == action))
    )


def test_three_cases_are_claimed_at_once_with_one_audit_event_each(app, session):
    """Three triage cases ticked: all in review, held by the agent, three case.claimed events."""
    agent = add_agent(session, "agent@example.org")
    three = [add_request(session) for _ in range(3)]
    session.commit()
    outcomes = _apply(session, app, agent, "claim", [(r.reference, r.version) for r in three])
    assert [o.done for o in outcomes] == [True, True, True]
    for request in three:
        session.refresh(request)
        assert (request.status, request.assignee_id) == ("in_review", agent.id)
    assert _events(session, "case.claimed") == sorted(r.id for r in three)


def test_a_case_changed_since_the_page_is_refused_and_the_others_are_done(app, session):
    """A stale version, a case held by someone else, an unknown reference: refused, each
    with its reason, nothing written for them; the fourth case is claimed."""
    agent = add_agent(session, "agent@example.org")
    other = add_agent(session, "other@example.org")
    fresh, stale, held = (add_request(session) for _ in range(3))
    held.assignee_id, held.status = other.id, "in_review"
    session.commit()
    items = [
        (fresh.reference, fresh.version),
        (stale.reference, stale.version - 1 + 5),
        (held.reference, held.version),
        ("DSR-2026-NOPE00", 1),
    ]
    outcomes = {o.reference: o for o in _apply(session, app, agent, "claim", items)}
    assert outcomes[fresh.reference].done
    assert outcomes[stale.reference].reason == "changed"
    assert outcomes[held.reference].reason == "already_held"
    assert outcomes["DSR-2026-NOPE00"].reason == "not_found"
    session.refresh(stale)
    session.refresh(held)
    assert stale.assignee_id is None and stale.status == "triage"
    assert held.assignee_id == other.id
    assert _events(session, "case.claimed") == [fresh.id]


def test_release_gives_back_only_what_the_agent_holds(app, session):
    """An agent releases their own cases; a colleague's is refused (not the holder)."""
    agent = add_agent(session, "agent@example.org")
    other = add_agent(session, "other@example.org")
    mine = add_request(session, status="in_review", assignee_id=agent.id)
    theirs = add_request(session, status="in_review", assignee_id=other.id)
    session.commit()
    items = [(mine.reference, mine.version), (theirs.reference, theirs.version)]
    outcomes = {o.reference: o for o in _apply(session, app, agent, "release", items)}
    assert outcomes[mine.reference].done
    assert outcomes[theirs.reference].reason == "not_holder"
    assert _events(session, "case.released") == [mine.id]


def test_only_a_dpo_assigns_in_bulk(app, session):
    """An agent's bulk assignment is refused as a whole; a DPO's assigns each case."""
    agent = add_agent(session, "agent@example.org")
    dpo = add_agent(session, "dpo@example.org", role="dpo")
    two = [add_request(session) for _ in range(2)]
    session.commit()
    items = [(r.reference, r.version) for r in two]
    with pytest.raises(cases.Forbidden):
        _apply(session, app, agent, "assign", items, assignee=agent)
    assert _events(session, "case.assigned") == []
    outcomes = _apply(session, app, dpo, "assign", items, assignee=agent)
    assert all(o.done for o in outcomes)
    assert _events(session, "case.assigned") == sorted(r.id for r in two)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([], "none_chosen"),
        (["DSR-2026-AAAAAA"], "malformed"),
        (["DSR-2026-AAAAAA:x"], "malformed"),
        ([f"DSR-2026-{i:06d}:1" for i in range(51)], "too_many"),
    ],
)
def test_a_malformed_or_too_long_list_refuses_the_whole(values, reason):
    """No box, a value without its version, more than 50 cases: nothing is done."""
    with pytest.raises(bulk.BulkError) as error:
        bulk.parse_items(values)
    assert error.value.reason == reason


def test_fifty_is_the_most_a_bulk_action_takes():
    """Exactly 50 cases are accepted, the same one twice counts once."""
    values = [f"DSR-2026-{i:06d}:1" for i in range(50)] + ["DSR-2026-000000:1"]
    assert len(bulk.parse_items(values)) == 50


def _queue_form(client, path="/staff/queue?lang=en"):
    page = client.get(path)
    assert page.status_code == 200
    soup = BeautifulSoup(page.data, "html.parser")
    boxes = [box["value"] for box in soup.select("input[name=case][form=bulk]")]
    return csrf_from(page.data), boxes, soup


def test_the_queue_page_claims_ticked_rows_and_reports_each(app):
    """Tick three rows, press "Claim them": a page lists each reference as done."""
    client, account = staff_client(app, "agent@example.org", "agent")
    with app.app_context():
        for _ in range(4):
            add_request(db.session())
        db.session.commit()
    token, boxes, soup = _queue_form(client)
    assert len(boxes) == 4
    assert soup.select_one("#bulk button[value=assign]") is None  # an agent does not assign
    answer = client.post(
        "/staff/queue/bulk",
        data={"csrf_token": token, "action": "claim", "case": boxes[:3], "back": "due=overdue"},
    )
    assert answer.status_code == 200
    result = BeautifulSoup(answer.data, "html.parser")
    rows = result.select("table.bulk-results tbody tr")
    assert [r.get("class") for r in rows] == [["done"]] * 3
    assert result.select_one("a.button.secondary")["href"] == "/staff/queue?due=overdue"
    with app.app_context():
        held = db.session.scalar(select(func.count()).where(Request.assignee_id == account.id))
    assert held == 3


def test_an_agent_posting_an_assignment_is_forbidden(app):
    """The assign button is a DPO's: an agent's POST is a 403 and changes nothing."""
    client, account = staff_client(app, "agent@example.org", "agent")
    with app.app_context():
        add_request(db.session())
        db.session.commit()
    token, boxes, _ = _queue_form(client)
    answer = client.post(
        "/staff/queue/bulk",
        data={"csrf_token": token, "action": "assign", "case": boxes, "assignee": account.id},
    )
    assert answer.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Request.assignee_id.is_not(None))) == 0


def test_a_dpo_assigns_ticked_rows_to_a_colleague(app):
    """A DPO picks an agent in "Give them to" and presses "Assign them"."""
    client, _ = staff_client(app, "dpo@example.org", "dpo")
    agent = add_staff(app, "agent@example.org", "agent")
    with app.app_context():
        add_request(db.session())
        add_request(db.session())
        db.session.commit()
    token, boxes, soup = _queue_form(client)
    assert soup.select_one("#bulk button[value=assign]") is not None
    answer = client.post(
        "/staff/queue/bulk",
        data={"csrf_token": token, "action": "assign", "case": boxes, "assignee": agent.id},
    )
    assert answer.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Request.assignee_id == agent.id)) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "claim"}, "Tick at least one request"),
        ({"action": "approve", "case": ["DSR-2026-AAAAAA:1"]}, "Choose claim, release or assign"),
        (
            {"action": "claim", "case": [f"DSR-2026-{i:06d}:1" for i in range(51)]},
            "At most 50 requests at once",
        ),
    ],
)
def test_bulk_refusals_are_explained_and_change_nothing(app, data, message):
    """Nothing ticked, an action not offered (no bulk approval), 51 cases: a 422 that says why."""
    client, _ = staff_client(app, "dpo@example.org", "dpo")
    with app.app_context():
        add_request(db.session())
        db.session.commit()
    token, _, _ = _queue_form(client)
    answer = client.post("/staff/queue/bulk?lang=en", data={"csrf_token": token, **data})
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_bulk_claim_racing_single_claims_gives_each_case_one_holder(app):
    """One agent claims 10 cases in bulk while 15 others each claim one of them at once:
    every case ends with exactly one holder and one case.claimed event."""
    from tests.concurrency.conftest import at_once

    with app.app_context():
        session = db.session()
        people = [add_agent(session, f"agent{i}@example.org") for i in range(16)]
        targets = [add_request(session) for _ in range(10)]
        session.commit()
        staff_ids = [p.id for p in people]
        items = [(r.reference, r.version) for r in targets]
        ids = [r.id for r in targets]
        db.session.remove()
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=16)
    mail = services_of(app).mail

    def prepare(i: int):
        own = Session(engine)
        return own, own.get_one(StaffUser, staff_ids[i])

    def run(i: int, ready) -> object:
        own, staff = ready
        with own:
            if i == 0:
                return bulk.apply(
                    own,
                    staff,
                    "claim",
                    items,
                    now=utcnow(),
                    mail=mail,
                    commit=own.commit,
                    rollback=own.rollback,
                )
            request = own.get_one(Request, ids[(i - 1) % len(ids)])
            try:
                cases.claim(own, request, staff, version=items[0][1], now=utcnow(), mail=mail)
                own.commit()
                return "won"
            except Exception as error:
                own.rollback()
                return type(error).__name__

    try:
        results = at_once(16, prepare, run)
    finally:
        engine.dispose()
    outcomes = results[0]
    singles = [r for r in results[1:]]
    with app.app_context():
        session = db.session()
        holders = dict(
            session.execute(
                select(Request.id, Request.assignee_id).where(Request.id.in_(ids))
            ).all()
        )
        claimed = _events(session, "case.claimed")
    assert all(holders[i] is not None for i in ids)
    assert sorted(claimed) == sorted(ids)  # one event per case, whoever won
    bulk_won = {o.reference for o in outcomes if o.done}
    assert len(bulk_won) + singles.count("won") == len(ids)
    assert {o.reason for o in outcomes if not o.done} <= {"changed", "already_held"}

"""Rectification (Art. 16) and restriction (Art. 18): flag, correct through the screen, finish.

Each test writes to its own copy of the demo warehouse: the session-wide one
is shared by every test.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Job, Request, Restriction
from tests.casework.test_cases import act, case_of, source_reads
from tests.conftest import run_jobs, text_of
from tests.outbox.test_email_privacy import assert_no_health_data_in_payloads
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

ZOE = persona("Zoé")


@pytest.fixture
def own_warehouse(warehouse: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "own-warehouse.sqlite3"
    shutil.copy(warehouse, copy)
    return copy


@pytest.fixture
def writable_app(make_app: Any, smtp: Any, own_warehouse: Path) -> Flask:
    return make_app(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, WAREHOUSE_URL=f"sqlite:///{own_warehouse}"
    )


def row(path: Path, sql: str, *args: Any) -> tuple[Any, ...]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, args).fetchone()
    finally:
        connection.close()


@pytest.fixture
def restricted(writable_app: Flask, smtp: Any) -> tuple[int, str, FlaskClient]:
    """Zoé's rectification, approved by an agent through the pages and restricted."""
    request_id = file_and_route(
        writable_app, smtp, writable_app.test_client(), filing_for(ZOE, "rectification")
    )
    reference = case_of(writable_app, request_id).reference or ""
    agent, _ = staff_client(writable_app, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "approve").status_code == 303
    run_jobs(writable_app)
    return request_id, reference, agent


def restrictions(app: Flask, request_id: int) -> dict[str, Restriction]:
    with app.app_context():
        found = db.session.scalars(
            select(Restriction).where(Restriction.request_id == request_id)
        ).all()
        for item in found:
            db.session.expunge(item)
        db.session.remove()
    return {item.table_name: item for item in found}


def submit(client: FlaskClient, reference: str, action: str, record: int = 0, **fields: str):
    """Open the rectification screen and press one of its buttons, as a browser would."""
    page = client.get(f"/staff/cases/{reference}/rectify")
    assert page.status_code == 200, page.status_code
    soup = BeautifulSoup(page.data, "html.parser")
    token = soup.find("input", attrs={"name": "csrf_token"})["value"]
    version = soup.find("input", attrs={"name": "version"})["value"]
    data = {"csrf_token": token, "version": version, "action": action, "restriction": record}
    data |= {f"field_{name}": value for name, value in fields.items()}
    return client.post(f"/staff/cases/{reference}/rectify", data=data)


def test_approval_restricts_the_records_and_tells_the_recipients(writable_app, restricted):
    """Every record of the rectify lines is flagged once; Art. 19 notices are queued."""
    request_id, reference, agent = restricted
    with writable_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "fulfilling"
        expected = sum(
            line.record_count for line in request.plan.lines if line.action == "rectify"
        )
        notices = db.session.scalars(
            select(Job).where(Job.request_id == request_id, Job.dedupe_key.like("art19:%"))
        ).all()
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "records.restricted")
        )
        db.session.remove()
    flags = restrictions(writable_app, request_id)
    assert set(flags) == {"shared_care_records", "contact_preferences"}
    assert len(flags) == expected == 2
    assert event.details == {"records": 2, "added": 2}
    payloads = [job.payload for job in notices]
    assert payloads and all(p["action"] == "restricted" for p in payloads)
    assert {p["recipient_email"] for p in payloads} == {"mssante@medecin-demo.example"}
    # The categories are in the audit event, for the DPO's answer, not in the stored email.
    assert "categories" not in payloads[0]
    assert payloads[0]["reference"] == reference
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert f"/staff/cases/{reference}/rectify" in page


def test_the_holder_corrects_a_field_and_the_audit_names_it_without_values(
    writable_app, restricted, own_warehouse
):
    """The source row changes, the audit lists the field name only, the flag is lifted."""
    request_id, reference, agent = restricted
    record = restrictions(writable_app, request_id)["shared_care_records"]
    key = json.loads(record.record_key)[0]
    before = row(own_warehouse, "SELECT * FROM shared_care_records WHERE record_id = ?", key)
    page = agent.get(f"/staff/cases/{reference}/rectify").get_data(as_text=True)
    assert "Consultation de prévention, rien à signaler." in page

    answer = submit(
        agent, reference, "save", record.id, summary="Consultation de prévention (corrigée)."
    )
    assert answer.status_code == 303, answer.data[:2000]
    after = row(own_warehouse, "SELECT * FROM shared_care_records WHERE record_id = ?", key)
    assert after[5] == "Consultation de prévention (corrigée)."
    assert after[:5] == before[:5]
    with writable_app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "record.rectified")
        )
        assert event.details == {
            "source": "care_exchanges",
            "table": "shared_care_records",
            "key": [key],
            "fields": ["summary"],
        }
        flat = json.dumps(event.details, ensure_ascii=False)
        assert "prévention" not in flat
        db.session.remove()
    assert restrictions(writable_app, request_id)["shared_care_records"].lifted_at is not None


def post_from_the_case_page(
    client: FlaskClient, reference: str, action: str, record: int = 0, **fields: str
):
    """Press a button of the correction screen without it: the form built by hand."""
    page = client.get(f"/staff/cases/{reference}")
    assert page.status_code == 200, page.status_code
    soup = BeautifulSoup(page.data, "html.parser")
    token = soup.find("input", attrs={"name": "csrf_token"})["value"]
    with client.application.app_context():
        version = db.session.scalar(select(Request.version).where(Request.reference == reference))
        db.session.remove()
    data = {"csrf_token": token, "version": version, "action": action, "restriction": record}
    data |= {f"field_{name}": value for name, value in fields.items()}
    return client.post(f"/staff/cases/{reference}/rectify", data=data)


def test_only_the_holder_may_save(writable_app, restricted, own_warehouse):
    """Another agent may not save: 403 and nothing written."""
    request_id, reference, _ = restricted
    other, _ = staff_client(writable_app, "other@example.org", "agent")
    record = restrictions(writable_app, request_id)["shared_care_records"]
    key = json.loads(record.record_key)[0]
    before = row(own_warehouse, "SELECT * FROM shared_care_records WHERE record_id = ?", key)
    answer = post_from_the_case_page(other, reference, "save", record.id, summary="Autre chose")
    assert answer.status_code == 403
    assert "prévention" not in answer.get_data(as_text=True)
    assert row(own_warehouse, "SELECT * FROM shared_care_records WHERE record_id = ?", key) == (
        before
    )
    assert restrictions(writable_app, request_id)["shared_care_records"].lifted_at is None
    assert post_from_the_case_page(other, reference, "accurate").status_code == 403


def test_an_agent_who_does_not_hold_the_case_sees_counts_not_values(writable_app, restricted):
    """Need to know: the values are not on the page, and the sources are not read for them."""
    request_id, reference, holder = restricted
    other, _ = staff_client(writable_app, "other@example.org", "agent")
    holders_page = holder.get(f"/staff/cases/{reference}/rectify").get_data(as_text=True)
    assert "Consultation de prévention, rien à signaler." in holders_page
    reads_before = source_reads(writable_app, request_id)

    answer = other.get(f"/staff/cases/{reference}/rectify")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "Consultation de prévention" not in page
    assert "2 enregistrements sont encore limités." in page
    # Neither a value, nor the keys and tables that say which records are concerned.
    for restriction in restrictions(writable_app, request_id).values():
        assert restriction.record_key not in page
        assert restriction.table_name not in page
    assert 'name="field_' not in page
    assert source_reads(writable_app, request_id) == reads_before


def test_the_holder_and_a_dpo_see_the_values_and_each_read_is_audited(writable_app, restricted):
    """Every display of the values is a ``case.source_read`` event, with counts and no value."""
    request_id, reference, holder = restricted
    dpo, dpo_account = staff_client(writable_app, "dpo@example.org", "dpo")
    with writable_app.app_context():
        holder_id = db.session.get(Request, request_id).assignee_id
        db.session.remove()
    assert source_reads(writable_app, request_id) == []
    for client in (holder, dpo, holder):
        page = client.get(f"/staff/cases/{reference}/rectify").get_data(as_text=True)
        assert "Consultation de prévention, rien à signaler." in page
    reads = source_reads(writable_app, request_id)
    assert reads == [
        (f"staff:{holder_id}", {"screen": "correction", "records": 2}),
        (f"staff:{dpo_account.id}", {"screen": "correction", "records": 2}),
        (f"staff:{holder_id}", {"screen": "correction", "records": 2}),
    ]
    # A refused correction shows the values again: that read is audited too.
    record = restrictions(writable_app, request_id)["shared_care_records"]
    assert submit(holder, reference, "save", record.id, bogus="x").status_code == 422
    assert len(source_reads(writable_app, request_id)) == 5  # the form's page, then the answer


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"person_id": "2"}, "person_id"),
        ({"bogus": "x"}, "bogus"),
        ({"created_on": "2024-02-31"}, "AAAA-MM-JJ"),
        ({"summary": "x" * 10_001}, "summary"),
        ({"summary": ""}, "summary"),
    ],
)
def test_bad_input_changes_nothing(writable_app, restricted, own_warehouse, fields, message):
    """Unknown field, impossible date, too long or empty: the page again, nothing written."""
    request_id, reference, agent = restricted
    record = restrictions(writable_app, request_id)["shared_care_records"]
    key = json.loads(record.record_key)[0]
    before = row(own_warehouse, "SELECT * FROM shared_care_records WHERE record_id = ?", key)
    answer = submit(agent, reference, "save", record.id, **fields)
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert row(own_warehouse, "SELECT * FROM shared_care_records WHERE record_id = ?", key) == (
        before
    )
    assert restrictions(writable_app, request_id)["shared_care_records"].lifted_at is None
    with writable_app.app_context():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.action.like("record.%"))) is None
        )
        db.session.remove()


def test_finish_completes_with_notices_and_the_email(writable_app, restricted, smtp):
    """Not before every record is done; then completed, recipients told, requester emailed."""
    request_id, reference, agent = restricted
    flags = restrictions(writable_app, request_id)
    assert submit(agent, reference, "finish").status_code == 422
    assert (
        submit(
            agent,
            reference,
            "save",
            flags["shared_care_records"].id,
            summary="Consultation de prévention, corrigée.",
        ).status_code
        == 303
    )
    # Saved unchanged: checked and accurate, its flag lifted too.
    assert submit(agent, reference, "save", flags["contact_preferences"].id).status_code == 303
    assert submit(agent, reference, "finish").status_code == 303
    run_jobs(writable_app)
    with writable_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "completed"
        corrected = [line for line in request.report.lines if line.get("corrected")]
        assert [(line["category"], line["fields"]) for line in corrected] == [
            ("care.exchange", {"shared_care_records": ["summary"]})
        ]
        notices = [
            job.payload
            for job in db.session.scalars(select(Job).where(Job.dedupe_key.like("art19:%")))
        ]
        assert {p["action"] for p in notices} == {"restricted", "rectified"}
        confirmed = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "record.confirmed")
        )
        assert confirmed.details["fields"] == []
        db.session.remove()
    last = smtp.received.to(ZOE.email)[-1]
    body = text_of(last)
    assert "CNIL" in body and "https://portal.example.org/" in body
    assert "Consultation de prévention" not in body
    assert "Courriers d'adressage" not in body  # the category corrected: on the status page
    assert_no_health_data_in_payloads(writable_app, request_id)


def test_closing_as_accurate_lifts_every_restriction(writable_app, restricted, smtp):
    """Nothing corrected: every flag lifted, no 'rectified' notice, the request completed."""
    request_id, reference, agent = restricted
    assert submit(agent, reference, "accurate").status_code == 303
    assert all(r.lifted_at for r in restrictions(writable_app, request_id).values())
    run_jobs(writable_app)
    with writable_app.app_context():
        assert db.session.get(Request, request_id).status == "completed"
        actions = {
            job.payload["action"]
            for job in db.session.scalars(select(Job).where(Job.dedupe_key.like("art19:%")))
        }
        assert actions == {"restricted"}
        db.session.remove()
    assert agent.get(f"/staff/cases/{reference}/rectify").status_code == 200


def test_the_restriction_notice_says_restricted_not_erased(writable_app, restricted, smtp):
    """The Art. 19 notice names what was done: a restriction here, never an erasure."""
    run_jobs(writable_app)
    notices = smtp.received.to("mssante@medecin-demo.example")
    assert len(notices) == 1
    body = " ".join(text_of(notices[0]).split())
    assert "limité le traitement" in body and "article 18" in body
    assert "effacé" not in body

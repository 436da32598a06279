"""Objection (Art. 21): the registry entry, the research extract that honours it, the email.

Each test writes to its own copy of the demo warehouse: the session-wide one
is shared by every test.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.deadlines import receipt_date
from app.extensions import db
from app.fulfilment import objection
from app.models import AuditEvent, FulfilmentStep, Request, utcnow
from app.services import services_of
from tests.casework.test_cases import act, case_of
from tests.conftest import link_in, run_jobs, text_of
from tests.outbox.test_email_privacy import assert_no_health_data_in_payloads
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

CAMILLE = persona("Camille")
THOMAS = persona("Thomas")


@pytest.fixture
def own_warehouse(warehouse: Path, tmp_path: Path) -> Path:
    """A copy of the demo warehouse this test may write to."""
    copy = tmp_path / "own-warehouse.sqlite3"
    shutil.copy(warehouse, copy)
    return copy


@pytest.fixture
def writable_app(make_app: Any, smtp: Any, own_warehouse: Path) -> Flask:
    return make_app(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, WAREHOUSE_URL=f"sqlite:///{own_warehouse}"
    )


def query(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def registry_of(path: Path, person_id: int) -> list[tuple[Any, ...]]:
    return query(
        path,
        "SELECT scope FROM objection_registry WHERE person_id = ? ORDER BY entry_id",
        person_id,
    )


def approved_objection(app: Flask, smtp: Any, who: Any) -> tuple[int, str]:
    """File an objection as ``who``, then an agent claims and approves it through the pages."""
    request_id = file_and_route(app, smtp, app.test_client(), filing_for(who, "objection"))
    reference = case_of(app, request_id).reference or ""
    agent, _ = staff_client(app, f"agent{request_id}@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "approve").status_code == 303
    return request_id, reference


def test_an_approved_objection_enters_the_registry_and_completes(
    writable_app, smtp, own_warehouse
):
    """Camille: one registry entry for all research, nothing deleted, the email says so."""
    reimbursements = query(
        own_warehouse, "SELECT * FROM reimbursements WHERE person_id = ?", CAMILLE.person_id
    )
    assert registry_of(own_warehouse, CAMILLE.person_id) == []
    request_id, _ = approved_objection(writable_app, smtp, CAMILLE)
    run_jobs(writable_app)

    assert registry_of(own_warehouse, CAMILLE.person_id) == [("all_research",)]
    assert (
        query(own_warehouse, "SELECT * FROM reimbursements WHERE person_id = ?", CAMILLE.person_id)
        == reimbursements
    )
    with writable_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "completed" and request.closed_at is not None
        lines = request.report.lines
        actions = {(line["category"], line["action"]) for line in lines}
        assert ("social_security.reimbursement", "exclude_from_reuse") in actions
        assert ("research.extract", "exclude_from_reuse") in actions
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "objection.registered")
        )
        assert event.details == {"registries": 1, "added": 1}
        db.session.remove()

    mails = smtp.received.to(CAMILLE.email)
    last = mails[-1]
    assert "votre opposition" in str(last["Subject"])
    body = text_of(last)
    assert "CNIL" in body and "https://portal.example.org/" in body
    assert "Rien n’a été supprimé" in body
    # What stops and why the rest is kept are on the status page, never in the email.
    assert "Dossier médical hospitalier" not in body
    assert "Vos préférences de contact ne servent pas à la recherche" not in body
    assert_no_health_data_in_payloads(writable_app, request_id)


def test_a_rerun_after_a_crash_adds_no_second_entry(writable_app, smtp, own_warehouse):
    """The registry write commits on its own: a job rerun after a crash finds it and adds none."""
    request_id, _ = approved_objection(writable_app, smtp, CAMILLE)
    services = services_of(writable_app)
    with writable_app.app_context():
        request = db.session.get(Request, request_id)
        objection.record_objection(
            db.session(),
            request,
            catalogue=services.catalogue,
            warehouse=services.warehouse,
            now=utcnow(),
            mail=services.mail,
        )
        # The portal's transaction is lost (the worker died before committing).
        db.session.rollback()
        db.session.remove()
    assert registry_of(own_warehouse, CAMILLE.person_id) == [("all_research",)]
    run_jobs(writable_app)
    run_jobs(writable_app)
    assert registry_of(own_warehouse, CAMILLE.person_id) == [("all_research",)]
    with writable_app.app_context():
        assert db.session.get(Request, request_id).status == "completed"
        step = db.session.scalar(select(FulfilmentStep))
        assert (step.action, step.count) == (objection.STEP, 0)
        db.session.remove()


def test_an_objection_already_on_file_is_not_duplicated(writable_app, smtp, own_warehouse):
    """Thomas objected before: the registry keeps his one entry; his transfusion stays used."""
    assert registry_of(own_warehouse, THOMAS.person_id) == [("all_research",)]
    request_id, _ = approved_objection(writable_app, smtp, THOMAS)
    run_jobs(writable_app)
    assert registry_of(own_warehouse, THOMAS.person_id) == [("all_research",)]
    with writable_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "completed"
        kept = [line for line in request.report.lines if line["action"] == "retain"]
        assert any(line["category"] == "hospital.transfusion" for line in kept)
        db.session.remove()
    body = text_of(smtp.received.to(THOMAS.email)[-1])
    # The example: an email must not tell that someone has a transfusion record.
    assert "hémovigilance" not in body and "transfusion" not in body.lower()


def _pseudonym(path: Path, person_id: int) -> str:
    return str(
        query(path, "SELECT pseudonym FROM research_linkage WHERE person_id = ?", person_id)[0][0]
    )


def test_the_research_extract_leaves_out_objections_and_restrictions(make_app, own_warehouse):
    """Camille objects: her pseudonym leaves the extract; others stay; counts, never who."""
    app = make_app(WAREHOUSE_URL=f"sqlite:///{own_warehouse}")
    warehouse = services_of(app).warehouse
    today = receipt_date(utcnow())
    camille = _pseudonym(own_warehouse, CAMILLE.person_id)
    before = objection.research_extract(warehouse, "EDS-AVC", today)
    assert camille in {row["pseudonym"] for row in before.rows}
    others = {row["pseudonym"] for row in before.rows} - {camille}
    assert others, "the demo cohort should hold other people"

    source, spec = warehouse.catalogue.tables_of(objection.REGISTRY_CATEGORY)[0]
    assert objection.register(warehouse, source, spec, CAMILLE.person_id, today) == 1
    assert objection.register(warehouse, source, spec, CAMILLE.person_id, today) == 0
    after = objection.research_extract(warehouse, "EDS-AVC", today)
    assert {row["pseudonym"] for row in after.rows} == others
    assert after.left_out_objection == before.left_out_objection + 1

    someone = query(
        own_warehouse,
        "SELECT person_id FROM research_linkage WHERE pseudonym = ?",
        sorted(others)[0],
    )[0][0]
    restricted = objection.research_extract(warehouse, "EDS-AVC", today, {someone})
    assert restricted.left_out_restriction == 1
    assert sorted(others)[0] not in {row["pseudonym"] for row in restricted.rows}
    for row in after.rows:
        assert set(row) <= set(after.columns)
        assert "person_id" not in row


def test_the_research_extract_command_writes_a_safe_csv(make_app, own_warehouse, tmp_path):
    """The CSV neutralises formulas and the command says how many were left out, not who."""
    pseudonym = _pseudonym(own_warehouse, CAMILLE.person_id)
    connection = sqlite3.connect(own_warehouse)
    connection.execute(
        "INSERT INTO research_extracts (pseudonym, cohort, extracted_on, variables) "
        "VALUES ('=cmd|calc', 'TEST', '2020-01-01', ?), (?, 'TEST', '2020-01-01', ?)",
        (json.dumps({"note": '=HYPERLINK("http://evil.example")'}), pseudonym, "{}"),
    )
    connection.execute(
        "INSERT INTO research_linkage (pseudonym, person_id) VALUES ('=cmd|calc', 5)"
    )
    connection.execute(
        "INSERT INTO objection_registry (person_id, scope, registered_on) "
        "VALUES (?, 'cohort:TEST', '2021-01-01')",
        (CAMILLE.person_id,),
    )
    connection.commit()
    connection.close()
    app = make_app(WAREHOUSE_URL=f"sqlite:///{own_warehouse}")
    output = tmp_path / "out" / "extract.csv"
    result = app.test_cli_runner().invoke(
        args=["research-extract", "--cohort", "TEST", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "1 person(s) left out because of an objection" in result.output
    assert CAMILLE.last_name not in result.output and pseudonym not in result.output
    with output.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["pseudonym", "extracted_on"]
    assert [row[0] for row in rows[1:]] == ["'=cmd|calc"]
    assert rows[1][rows[0].index("note")].startswith("'=HYPERLINK")
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "research.extracted")
        )
        assert event.details["left_out_objection"] == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 1
        db.session.remove()


def test_what_the_email_leaves_out_is_on_the_status_page_with_the_remedies(
    writable_app, smtp, own_warehouse
):
    """Thomas's kept transfusion record: its reason is behind the link, with CNIL and court."""
    approved_objection(writable_app, smtp, THOMAS)
    run_jobs(writable_app)
    completion = smtp.received.to(THOMAS.email)[-1]
    assert "Dossier transfusionnel" not in text_of(completion)
    reader = writable_app.test_client()
    assert reader.get(link_in(completion)).status_code == 303
    page = " ".join(reader.get("/status").get_data(as_text=True).split())
    assert "Dossier transfusionnel" in page
    assert "réclamation auprès de la CNIL" in page and "recours juridictionnel" in page

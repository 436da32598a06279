"""The erasure job (Art. 17 and 19): exactly the planned rows go, once, whatever happens.

Every test erases from its own copy of the session's demo warehouse, so the
shared file stays whole for the other tests.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import fulfilment
from app.deadlines import receipt_date
from app.demo.personas import Persona
from app.extensions import db
from app.fulfilment import erasure
from app.models import AuditEvent, FulfilmentStep, Job, PlanLine, Request, utcnow
from app.outbox import jobs
from app.rules import plans, routing
from app.rules.matching import Applicant
from app.services import Services, services_of
from tests.casework.test_cases import act
from tests.conftest import ROOT, run_jobs, text_of
from tests.outbox.test_email_privacy import assert_no_health_data_in_payloads
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

CAMILLE = "camille.lefevre@example.org"

Dump = dict[str, list[tuple[Any, ...]]]


def copy_of(warehouse: Path, target: Path) -> Path:
    """A private copy of the session warehouse (SQLite's backup: consistent whatever its mode)."""
    source, copy = sqlite3.connect(warehouse), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return target


def dump(path: Path) -> Dump:
    """Every row of every table, in key order: what 'nothing else changed' is checked on."""
    connection = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            name: connection.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall()
            for name in names
        }
    finally:
        connection.close()


def columns_of(path: Path, table: str) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
    finally:
        connection.close()


def keys_named(lines: list[PlanLine], action: str) -> set[tuple[str, tuple[Any, ...]]]:
    return {
        (table, tuple(key))
        for line in lines
        if line.action == action
        for table, keys in line.record_keys.items()
        for key in keys
    }


def without(
    before: Dump, path: Path, app: Flask, erased: set[tuple[str, tuple[Any, ...]]]
) -> Dump:
    """``before`` minus exactly the erased rows: what the warehouse must hold afterwards."""
    catalogue = services_of(app).catalogue
    primary = {spec.name: spec.primary_key for s in catalogue.sources for spec in s.tables}
    expected: Dump = {}
    for table, rows in before.items():
        if table not in primary:
            expected[table] = rows
            continue
        names = columns_of(path, table)
        positions = [names.index(column) for column in primary[table]]
        expected[table] = [
            row for row in rows if (table, tuple(row[i] for i in positions)) not in erased
        ]
    return expected


def warehouse_app(make_app: Any, copy: Path, **settings: Any) -> Flask:
    return make_app(WAREHOUSE_URL=f"sqlite:///{copy}", **settings)


def approved_erasure(app: Flask, p: Persona, reference: str) -> int:
    """An erasure by ``p``, routed and approved with its job queued (no pages: the
    pages are the subject of the end-to-end test)."""
    services: Services = services_of(app)
    with app.app_context():
        session = db.session()
        now = utcnow()
        today = receipt_date(now)
        request = Request(
            reference=reference,
            kind="erasure",
            status="approved",
            locale="fr",
            first_name=p.first_name,
            last_name=p.last_name,
            birth_date=p.birth_date,
            email=p.email or "someone@example.org",
            email_normalized=(p.email or "someone@example.org").lower(),
            created_at=now,
            verified_at=now,
            received_on=today,
            due_on=today + timedelta(days=30),
        )
        session.add(request)
        session.flush()
        applicant = Applicant(
            last_name=p.last_name,
            first_name=p.first_name,
            birth_date=p.birth_date,
            email=p.email or "",
            nir=p.nir,
        )
        draft = routing.compute(
            applicant,
            "erasure",
            catalogue=services.catalogue,
            policy=services.policy,
            warehouse=services.warehouse,
            today=today,
        )
        plans.store(
            session,
            request,
            draft,
            catalogue=services.catalogue,
            policy=services.policy,
            today=today,
            now=now,
            actor="test",
        )
        fulfilment.start(session, request, now)
        session.commit()
        request_id = request.id
        db.session.remove()
    return request_id


def state_of(app: Flask, request_id: int) -> dict[str, Any]:
    """What the portal holds about an erasure: status, report, steps, its jobs."""
    with app.app_context():
        session = db.session()
        request = session.get(Request, request_id)
        assert request is not None
        result = {
            "status": request.status,
            "report": request.report.lines if request.report else None,
            "steps": sorted(
                (s.source, s.count, s.details)
                for s in session.scalars(
                    select(FulfilmentStep).where(FulfilmentStep.request_id == request_id)
                )
            ),
            "completion_emails": session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.request_id == request_id, Job.kind == jobs.SEND_EMAIL)
                .where(Job.payload["template"].as_string() == "completed_erasure")
            ),
            "notices": Counter(
                session.scalars(
                    select(Job.payload["recipient_email"].as_string()).where(
                        Job.dedupe_key.like(f"art19:{request_id}:%")
                    )
                )
            ),
            "notified": sorted(
                e.details["email"]
                for e in session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.request_id == request_id,
                        AuditEvent.action == "recipient.notified",
                    )
                )
            ),
            "lines": list(request.plan.lines) if request.plan else [],
        }
        for line in result["lines"]:
            session.expunge(line)
        db.session.remove()
    return result


def expected_recipients(app: Flask, lines: list[PlanLine]) -> set[str]:
    catalogue = services_of(app).catalogue
    return {
        r.email
        for line in lines
        if line.action == "erase"
        for r in catalogue.info(line.source, line.category).recipients
    }


def health_values(path: Path, person_id: int) -> set[str]:
    """Words from the person's health records that must appear in no email or page."""
    connection = sqlite3.connect(path)
    values: set[str] = set()
    for query in (
        "SELECT label FROM diagnoses WHERE person_id = ?",
        "SELECT icd10_code FROM diagnoses WHERE person_id = ?",
        "SELECT drug FROM prescriptions WHERE person_id = ?",
        "SELECT test_label FROM lab_results WHERE person_id = ?",
        "SELECT hospital FROM hospital_stays WHERE person_id = ?",
        "SELECT ward FROM hospital_stays WHERE person_id = ?",
        "SELECT specialty FROM referral_letters WHERE person_id = ?",
        "SELECT act_code FROM reimbursements WHERE person_id = ?",
    ):
        values |= {str(row[0]) for row in connection.execute(query, (person_id,))}
    connection.close()
    # Codes of a letter or two would be found in any text by chance.
    return {value for value in values if len(value) >= 4}


def test_an_approved_erasure_runs_end_to_end(make_app, smtp, warehouse, tmp_path):
    """Camille, through the pages: kept rows stay, planned rows go, nobody else is touched,
    the report and the emails say so, each recipient is told once (Art. 19)."""
    copy = copy_of(warehouse, tmp_path / "warehouse.sqlite3")
    app = warehouse_app(make_app, copy, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    camille = persona("Camille")
    before = dump(copy)
    secrets = health_values(copy, camille.person_id)
    requester = app.test_client()
    request_id = file_and_route(app, smtp, requester, filing_for(camille))
    with app.app_context():
        reference = db.session.get(Request, request_id).reference
        db.session.remove()
    agent, _ = staff_client(app, "agent@example.org", "agent")
    dpo, _ = staff_client(app, "dpo@example.org", "dpo")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "prepare-approval").status_code == 303
    assert act(dpo, reference, "approve").status_code == 303
    run_jobs(app)

    state = state_of(app, request_id)
    lines = state["lines"]
    assert state["status"] == "completed"
    erased, kept = keys_named(lines, "erase"), keys_named(lines, "retain")
    assert {t for t, _ in kept} >= {"reimbursements", "hospital_stays"}
    assert {t for t, _ in erased} >= {"prescriptions", "lab_results", "referral_letters"}
    after = dump(copy)
    assert after == without(before, copy, app, erased)
    # The kept rows are all still there, and nothing of anyone else changed.
    connection = sqlite3.connect(copy)
    assert connection.execute(
        "SELECT count(*) FROM reimbursements WHERE person_id = 1"
    ).fetchone()[0] == sum(1 for t, _ in kept if t == "reimbursements")
    assert connection.execute(
        "SELECT count(*) FROM hospital_stays WHERE person_id = 1"
    ).fetchone()[0] == sum(1 for t, _ in kept if t == "hospital_stays")
    connection.close()

    report = {(line["category"], line["action"]): line for line in state["report"]}
    for line in lines:
        entry = report[(line.category, line.action)]
        assert entry["count"] == line.record_count
        assert entry["basis_fr"] == line.basis_fr and entry["label_en"] == line.label_en
    assert report[("social_security.reimbursement", "retain")]["kept_until"]
    assert state["steps"] and sum(count for _, count, _ in state["steps"]) == len(erased)

    mails = smtp.received.to(CAMILLE)
    with app.app_context():
        message_id = db.session.scalar(
            select(Job.message_id).where(
                Job.request_id == request_id,
                Job.payload["template"].as_string() == "completed_erasure",
            )
        )
        db.session.remove()
    completion = [m for m in mails if m["Message-ID"] == message_id]
    assert len(completion) == 1, [str(m["Subject"]) for m in mails]
    body = text_of(completion[0])
    assert "https://portal.example.org/" in body and "cnil.fr" in body
    # What was erased and kept, and why, is on the status page, never in the email.
    for entry in state["report"]:
        assert entry["label_fr"] not in body and entry["basis_fr"] not in body
    assert "R.1112-7" not in body  # the basis of the kept medical record
    assert_no_health_data_in_payloads(app, request_id)
    for message in mails:
        raw = message.as_string()
        for value in secrets:
            assert value not in raw, value

    recipients = expected_recipients(app, lines)
    assert recipients and state["notified"] == sorted(recipients)
    assert state["notices"] == Counter(dict.fromkeys(recipients, 1))
    for address in recipients:
        received = smtp.received.to(address)
        assert len(received) == 1, address
        text = text_of(received[0])
        assert reference in text and "article 19" in text
        for private in (camille.last_name, camille.first_name, CAMILLE, camille.nir or "?"):
            assert private not in received[0].as_string()
        for value in secrets:
            assert value not in received[0].as_string()

    page = requester.get("/status").get_data(as_text=True)
    assert report[("pharmacy.prescription", "erase")]["label_fr"] in page
    assert "L.332-1" in page
    case_page = dpo.get(f"/staff/cases/{reference}").get_data(as_text=True)
    for address in recipients:
        assert address in case_page
    assert 'id="fulfilment"' in case_page


def test_running_the_erasure_twice_changes_nothing_more(make_app, warehouse, tmp_path):
    """The second run finds the request completed: same warehouse, report, steps and jobs."""
    copy = copy_of(warehouse, tmp_path / "warehouse.sqlite3")
    app = warehouse_app(make_app, copy)
    request_id = approved_erasure(app, persona("Camille"), "DSR-2026-TWICE1")
    services = services_of(app)
    with app.app_context():
        session = db.session()
        assert erasure.erase(session, session.get(Request, request_id), services, utcnow())
        session.commit()
        db.session.remove()
    first, first_state = dump(copy), state_of(app, request_id)
    with app.app_context():
        session = db.session()
        assert not erasure.erase(session, session.get(Request, request_id), services, utcnow())
        session.commit()
        db.session.remove()
    second = state_of(app, request_id)
    assert dump(copy) == first
    for key in ("status", "report", "steps", "completion_emails", "notices", "notified"):
        assert second[key] == first_state[key], key
    assert first_state["completion_emails"] == 1


def test_a_crash_between_a_source_and_its_step_is_safe(make_app, warehouse, tmp_path, monkeypatch):
    """Rows of the second source deleted, then a crash before its step: the rerun deletes
    nothing more and ends exactly as an uninterrupted run on another copy."""
    reference_copy = copy_of(warehouse, tmp_path / "reference.sqlite3")
    crashed_copy = copy_of(warehouse, tmp_path / "crashed.sqlite3")
    clean_app = warehouse_app(make_app, reference_copy)
    clean_id = approved_erasure(clean_app, persona("Camille"), "DSR-2026-CLEAN1")
    with clean_app.app_context():
        session = db.session()
        erasure.erase(session, session.get(Request, clean_id), services_of(clean_app), utcnow())
        session.commit()
        db.session.remove()

    app = warehouse_app(make_app, crashed_copy)
    request_id = approved_erasure(app, persona("Camille"), "DSR-2026-CRASH1")
    real = erasure.erase_source
    calls: list[str] = []

    def crash_on_second(warehouse_: Any, source: Any, keys: Any) -> dict[str, int]:
        deleted = real(warehouse_, source, keys)
        calls.append(source.name)
        if len(calls) == 2:
            raise RuntimeError("simulated crash after the source committed")
        return deleted

    monkeypatch.setattr(erasure, "erase_source", crash_on_second)
    with app.app_context(), pytest.raises(RuntimeError):
        session = db.session()
        erasure.erase(session, session.get(Request, request_id), services_of(app), utcnow())
    with app.app_context():
        db.session.rollback()
        db.session.remove()
    interrupted = state_of(app, request_id)
    assert interrupted["status"] == "fulfilling" and len(interrupted["steps"]) == 1
    monkeypatch.setattr(erasure, "erase_source", real)
    with app.app_context():
        session = db.session()
        assert erasure.erase(session, session.get(Request, request_id), services_of(app), utcnow())
        session.commit()
        db.session.remove()

    done, clean = state_of(app, request_id), state_of(clean_app, clean_id)
    assert dump(crashed_copy) == dump(reference_copy)
    assert done["report"] == clean["report"]
    steps = {source: count for source, count, _ in done["steps"]}
    assert steps[calls[1]] == 0  # its rows had gone before the crash: nothing counted twice
    assert done["completion_emails"] == clean["completion_emails"] == 1
    assert done["notices"] == Counter(dict.fromkeys(clean["notices"], 1))


def test_the_plan_names_the_only_rows_ever_deleted(make_app, warehouse, tmp_path):
    """Keys another line keeps are never deleted, even if an erase line names them too."""
    copy = copy_of(warehouse, tmp_path / "warehouse.sqlite3")
    app = warehouse_app(make_app, copy)
    request_id = approved_erasure(app, persona("Camille"), "DSR-2026-GUARD1")
    with app.app_context():
        request = db.session.get(Request, request_id)
        lines = request.plan.lines
        keys = erasure.keys_by_source(lines)
        kept = keys_named(lines, "retain")
        db.session.remove()
    named = {
        (table, key) for tables in keys.values() for table, ks in tables.items() for key in ks
    }
    assert named and not named & kept
    assert all(len(ks) == len(set(ks)) for tables in keys.values() for ks in tables.values())


def test_children_are_deleted_before_their_parents(make_app, warehouse, tmp_path):
    """Diagnoses point at stays: they go first (the catalogue lists the parent first)."""
    app = warehouse_app(make_app, copy_of(warehouse, tmp_path / "w.sqlite3"))
    services = services_of(app)
    hospital = services.catalogue.source("hospital")
    order = erasure.deletion_order(
        services.warehouse, hospital, ["hospital_stays", "diagnoses", "transfusions"]
    )
    assert order.index("diagnoses") < order.index("hospital_stays")


# ``flask worker`` with a pause after each source's rows are deleted and before its
# step is recorded, so that the test can kill it in exactly that window.
SLOW_WORKER = Path(__file__).with_name("slow_worker.py")


def _worker(app: Flask, mail_dir: Path, pause: float) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAIL_", "PORTAL_", "DATABASE_", "WAREHOUSE_"))
    }
    env |= {
        "PORTAL_ENV": "test",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "WAREHOUSE_URL": app.config["WAREHOUSE_URL"],
        "MAIL_DIR": str(mail_dir),
        "AUDIT_ANCHOR_FILE": app.config["AUDIT_ANCHOR_FILE"],
        "PORTAL_BASE_URL": app.config["PORTAL_BASE_URL"],
        "JOB_LEASE_SECONDS": "2",
        "WORKER_POLL_SECONDS": "1",
    }
    return subprocess.Popen(
        [sys.executable, str(SLOW_WORKER), str(pause)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _count_left(path: Path, app: Flask, keys: dict[str, list[tuple[Any, ...]]]) -> int:
    catalogue = services_of(app).catalogue
    primary = {spec.name: spec.primary_key for s in catalogue.sources for spec in s.tables}
    connection = sqlite3.connect(path)
    try:
        total = 0
        for table, table_keys in keys.items():
            (column,) = primary[table]
            for key in table_keys:
                total += connection.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" = ?', key
                ).fetchone()[0]
        return total
    finally:
        connection.close()


@pytest.mark.slow
def test_a_worker_killed_mid_erasure_ends_as_an_uninterrupted_run(make_app, warehouse, tmp_path):
    """SIGKILL after the second source's rows went but before its step: after a restart the
    warehouse, the report and the emails are those of an uninterrupted run."""
    reference_copy = copy_of(warehouse, tmp_path / "reference.sqlite3")
    killed_copy = copy_of(warehouse, tmp_path / "killed.sqlite3")
    clean_app = warehouse_app(make_app, reference_copy)
    clean_id = approved_erasure(clean_app, persona("Camille"), "DSR-2026-CLEAN2")
    run_jobs(clean_app)
    clean = state_of(clean_app, clean_id)
    assert clean["status"] == "completed"

    app = warehouse_app(make_app, killed_copy)
    request_id = approved_erasure(app, persona("Camille"), "DSR-2026-KILL01")
    sources = list(erasure.keys_by_source(state_of(app, request_id)["lines"]).items())
    assert len(sources) >= 3, "the kill must fall between sources"
    second_name, second_keys = sources[1]
    victim = _worker(app, tmp_path / "mail-1", pause=2)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if (
                len(state_of(app, request_id)["steps"]) == 1
                and _count_left(killed_copy, app, second_keys) == 0
            ):
                break
            assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        else:
            raise AssertionError("the worker never reached the second source")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(timeout=10)
    interrupted = state_of(app, request_id)
    assert interrupted["status"] == "fulfilling"
    assert [source for source, _, _ in interrupted["steps"]] == [sources[0][0]]

    time.sleep(2.5)  # the dead worker's lease runs out
    survivor = _worker(app, tmp_path / "mail-2", pause=0)
    try:
        deadline = time.monotonic() + 60
        while state_of(app, request_id)["status"] != "completed":
            assert time.monotonic() < deadline, "the restarted worker did not finish"
            assert survivor.poll() is None, survivor.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        # The emails it queued are sent in its next passes.
        while True:
            with app.app_context():
                pending = db.session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.kind == jobs.SEND_EMAIL, Job.state == "pending")
                )
                db.session.remove()
            if not pending:
                break
            assert time.monotonic() < deadline, "emails left unsent"
            time.sleep(0.2)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=30)

    done = state_of(app, request_id)
    assert dump(killed_copy) == dump(reference_copy)
    assert done["report"] == clean["report"]
    steps = {source: count for source, count, _ in done["steps"]}
    assert steps[second_name] == 0 and set(steps) == {name for name, _ in sources}
    erased_counts = sum(line["count"] for line in done["report"] if line["action"] == "erase")
    assert erased_counts == sum(len(ks) for _, tables in sources for ks in tables.values())
    assert done["completion_emails"] == 1
    assert done["notices"] == Counter(dict.fromkeys(expected_recipients(app, done["lines"]), 1))
    assert sorted(done["notices"]) == done["notified"]
    with app.app_context():
        states = Counter(
            db.session.scalars(
                select(Job.state).where(
                    (Job.request_id == request_id) | Job.dedupe_key.like(f"art19:{request_id}:%")
                )
            )
        )
        db.session.remove()
    assert set(states) == {"done"}


def test_art19_notices_are_not_listed_as_emails_to_the_requester(make_app, smtp) -> None:
    """The case page's "emails to the requester" holds the requester's mail only."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    requester = app.test_client()
    request_id = file_and_route(app, smtp, requester, filing_for(persona("Camille")))
    with app.app_context():
        request = db.session.get(Request, request_id)
        services = services_of(app)
        sent = fulfilment.notify_recipients(
            db.session(),
            request,
            [(line.source, line.category) for line in request.plan.lines],
            "erased",
            services.catalogue,
            utcnow(),
            "portal.example.org",
        )
        again = fulfilment.notify_recipients(
            db.session(),
            request,
            [(line.source, line.category) for line in request.plan.lines],
            "erased",
            services.catalogue,
            utcnow(),
            "portal.example.org",
        )
        db.session.commit()
        reference = request.reference
        db.session.remove()
    assert sent > 0 and again == 0  # a rerun queues nothing twice
    agent, _ = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    emails = page[page.index('id="emails"') :]
    assert "recipient_notice" not in emails and "Art. 19" not in emails

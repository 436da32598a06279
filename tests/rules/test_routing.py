"""Routing as the worker runs it: plan stored as a snapshot, status moved, requester told."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from app import deadlines
from app.demo.personas import PERSONAS
from app.extensions import db
from app.models import AuditEvent, Plan, Request, utcnow
from app.rules import plans, routing
from app.services import services_of
from tests.conftest import ROOT, birth_parts, csrf_from, file_form, link_in, post_form, run_jobs
from tests.identity.kit import prove


def persona(first: str):
    return next(p for p in PERSONAS if p.first_name == first)


def filing_for(p, kind: str = "erasure") -> dict[str, str]:
    return {
        "kind": kind,
        "first_name": p.first_name,
        "last_name": p.last_name,
        **birth_parts(p.birth_date.isoformat()),
        "email": p.email or f"{p.first_name.lower()}@example.org",
        "nir": p.nir or "",
        "details": "",
    }


def file_and_route(app, smtp, client, filing):
    """File, follow the emailed link, confirm, run the worker: the request is routed."""
    file_form(client, filing)
    run_jobs(app)
    path = link_in(smtp.received.to(filing["email"])[-1])
    client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    run_jobs(app)
    with app.app_context():
        request = db.session.scalar(select(Request).order_by(Request.id.desc()))
        assert request is not None
        return request.id


def test_an_erasure_plan_keeps_what_the_law_keeps_and_erases_the_rest(smtp_app, smtp):
    """Camille: reimbursements and her recent medical record kept, with basis and date."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "triage"
        plan = request.plan
        assert plan is not None and plan.outcome == "matched" and plan.number == 1
        actions = {(line.category, line.action): line for line in plan.lines}
        record = actions[("hospital.medical_record", "retain")]
        assert record.kept_until is not None and record.kept_until > request.received_on
        assert "R.1112-7" in record.basis_fr
        reimbursements = actions[("social_security.reimbursement", "retain")]
        assert "L.332-1" in reimbursements.basis_en and reimbursements.kept_until
        assert ("hospital.medical_record", "erase") not in actions
        for erased in ("care.exchange", "pharmacy.prescription", "lab.result"):
            assert actions[(erased, "erase")].record_count > 0
        assert all(line.record_keys for line in plan.lines)
    page = client.get("/status").get_data(as_text=True)
    assert "Ce que nous avons trouvé et ce qui va se passer" in page
    assert re.search(r"enregistrements? (est|sont) conservés? jusqu’au", page)
    assert "Code de la santé publique, art. R.1112-7" in page
    assert re.search(r"enregistrements? ser(a|ont) effacés?", page)


def test_the_status_page_never_shows_health_data(smtp_app, smtp, warehouse):
    """Counts and reasons only: no diagnosis, drug, test or letter of the sources."""
    import sqlite3

    client = smtp_app.test_client()
    client.get("/?lang=en")
    camille = persona("Camille")
    file_and_route(smtp_app, smtp, client, filing_for(camille))
    page = client.get("/status").get_data(as_text=True)
    assert "What we found and what will happen" in page
    connection = sqlite3.connect(warehouse)
    values = set()
    for query in (
        "SELECT label FROM diagnoses WHERE person_id = ?",
        "SELECT drug FROM prescriptions WHERE person_id = ?",
        "SELECT test_label FROM lab_results WHERE person_id = ?",
        "SELECT hospital FROM hospital_stays WHERE person_id = ?",
        "SELECT specialty FROM referral_letters WHERE person_id = ?",
    ):
        values |= {row[0] for row in connection.execute(query, (camille.person_id,))}
    connection.close()
    assert values
    for value in values:
        assert value not in page
    for message in smtp.received.messages:
        raw = message.as_string()
        for value in values:
            assert value not in raw


def test_a_shared_number_goes_to_identity_review_and_reads_nothing(smtp_app, smtp):
    """Karim's number is his daughter's too: identity review, no plan lines, an email."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Karim")))
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "identity_review"
        assert request.plan.outcome == "identity_review"
        assert request.plan.lines == []
        assert "hospital:shared_number" in request.plan.review_reasons
    subjects = [m["Subject"] for m in smtp.received.to("karim.benali@example.org")]
    assert subjects[-1].endswith("nous vérifions votre identité")
    page = client.get("/status").get_data(as_text=True)
    assert "vérifie votre identité" in page


def test_someone_unknown_gets_the_no_data_path(smtp_app, smtp):
    """Nobody in the sources: an empty plan; once identity is proven, triage and the page
    says nothing was found."""
    client = smtp_app.test_client()
    filing = {
        **filing_for(persona("Camille")),
        "first_name": "Personne",
        "nir": "",
        "email": "personne@example.org",
    }
    request_id = file_and_route(smtp_app, smtp, client, filing)
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert (request.status, request.plan.outcome) == ("awaiting_identity", "no_data")
    # Below the level its right needs, the page does not say that nothing was found.
    assert "aucune donnée vous concernant" not in client.get("/status").get_data(as_text=True)
    prove(smtp_app, request_id)
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert (request.status, request.plan.outcome) == ("triage", "no_data")
    assert "aucune donnée vous concernant" in client.get("/status").get_data(as_text=True)


def test_routing_twice_changes_nothing(smtp_app, smtp):
    """A route job run again (a retried job) finds the request moved and does nothing."""
    request_id = file_and_route(
        smtp_app, smtp, smtp_app.test_client(), filing_for(persona("Camille"))
    )
    with smtp_app.app_context():
        services = services_of(smtp_app)
        assert plans.route_request(db.session(), request_id, services, now=utcnow()) is None
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Plan)) == 1


def test_a_withdrawn_request_is_not_routed(smtp_app, smtp):
    """Withdrawn before the worker came: no plan is computed."""
    client = smtp_app.test_client()
    filing = filing_for(persona("Camille"))
    file_form(client, filing)
    run_jobs(smtp_app)
    path = link_in(smtp.received.to(filing["email"])[-1])
    client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    post_form(client, "/status/withdraw", {"confirm": "y"})
    run_jobs(smtp_app)
    with smtp_app.app_context():
        assert db.session.scalar(select(Request.status)) == "withdrawn"
        assert db.session.scalar(select(func.count()).select_from(Plan)) == 0


def test_audit_events_of_routing_hold_no_health_data(smtp_app, smtp):
    """The routing's audit events say the outcome and counts of lines, nothing found."""
    file_and_route(smtp_app, smtp, smtp_app.test_client(), filing_for(persona("Camille")))
    with smtp_app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.actor == routing.ACTOR)
        ).all()
        assert [e.action for e in events] == [
            "identity.assurance",
            "plan.computed",
            "status.triage",
        ]
        for event in events:
            assert set(event.details) <= {"plan", "outcome", "lines", "from", "to"} | {
                "level",
                "method",
            }


def test_a_policy_change_never_alters_a_plan_already_shown(make_app, smtp, tmp_path):
    """The plan is a snapshot; staff recompute it to see, then keep, the difference."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    client = app.test_client()
    file_and_route(app, smtp, client, filing_for(persona("Camille")))
    with app.app_context():
        reference = db.session.scalar(select(Request.reference))
    before = client.get("/status?lang=en").get_data(as_text=True)
    assert "No legal obligation requires keeping them" in before

    rules = tmp_path / "rules.toml"
    shutil.copy(ROOT / "catalogue" / "rules.toml", rules)
    changed = rules.read_text().replace(
        "No legal obligation requires keeping them: they will be erased.",
        "These will be erased (policy of 2027).",
    )
    # Keep prescriptions: a new retention for the category changes the plan's counts.
    changed = changed.replace(
        'category = "pharmacy.prescription"\nrights = ["erasure"]\naction = "erase"',
        'category = "pharmacy.prescription"\nrights = ["erasure"]\naction = "retain"',
    )
    rules.write_text(changed)
    later = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        RULES_FILE=str(rules),
        DATA_ENCRYPTION_KEYS=app.config["DATA_ENCRYPTION_KEYS"],
        SECRET_KEY=app.config["SECRET_KEY"],
    )
    later_client = later.test_client()
    later_client.get("/?lang=en")
    with later_client.session_transaction() as session, client.session_transaction() as old:
        session.update(dict(old))
    shown = later_client.get("/status").get_data(as_text=True)
    assert "No legal obligation requires keeping them" in shown
    assert "policy of 2027" not in shown

    runner = later.test_cli_runner()
    diff = runner.invoke(args=["plan", "recompute", reference])
    assert diff.exit_code == 0, diff.output
    assert "pharmacy.prescription erase: " in diff.output and "-> 0 record(s)" in diff.output
    assert "pharmacy.prescription retain: 0 -> " in diff.output
    with later.app_context():
        assert db.session.scalar(select(func.count()).select_from(Plan)) == 1
    saved = runner.invoke(args=["plan", "recompute", reference, "--save"])
    assert "Saved as plan 2." in saved.output
    assert "policy of 2027" in later_client.get("/status").get_data(as_text=True)
    shown = runner.invoke(args=["plan", "show", reference])
    assert "plan 2" in shown.output and "pharmacy.prescription" in shown.output


def test_access_to_a_recent_medical_record_is_due_within_eight_days(smtp_app, smtp):
    """The Public Health Code's 8-day track is stricter than the month: it sets the date."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille"), "access"))
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert (request.due_on - request.received_on).days == 8
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "status.triage"))
        assert event.details["deadline"] == "medical_record"


def test_plan_recompute_save_applies_the_medical_record_deadline(make_app, smtp, tmp_path):
    """``flask plan recompute --save`` moves the due date as routing does: 8 days, not a month."""
    sources = tmp_path / "sources.toml"
    shutil.copy(ROOT / "catalogue" / "sources.toml", sources)
    # Routed while the catalogue did not yet mark the hospital's records as medical records.
    text = sources.read_text()
    assert "medical_record = true" in text
    sources.write_text(text.replace("medical_record = true", "medical_record = false"))
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, SOURCES_FILE=str(sources))
    client = app.test_client()
    file_and_route(app, smtp, client, filing_for(persona("Camille"), "access"))
    with app.app_context():
        request = db.session.scalar(select(Request))
        reference, received = request.reference, request.received_on
        assert request.due_on == deadlines.due_date(received) and not request.medical_deadline
        db.session.remove()

    later = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        DATA_ENCRYPTION_KEYS=app.config["DATA_ENCRYPTION_KEYS"],
        SECRET_KEY=app.config["SECRET_KEY"],
    )
    saved = later.test_cli_runner().invoke(args=["plan", "recompute", reference, "--save"])
    assert saved.exit_code == 0, saved.output
    assert "Saved as plan 2." in saved.output and "L.1111-7" in saved.output
    with later.app_context():
        request = db.session.scalar(select(Request))
        assert request.plan.number == 2
        assert request.due_on == received + timedelta(days=8) and request.medical_deadline
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "deadline.medical_record")
        )
        assert event is not None and event.actor == "cli"
        assert event.details == {"plan": 2, "due_on": request.due_on.isoformat()}
        db.session.remove()


def test_portability_that_delivers_the_medical_record_is_due_within_eight_days(smtp_app, smtp):
    """Issue 18, correction 6: received 12 March, portability of the record: due 20 March."""
    client = smtp_app.test_client()
    with time_machine.travel(datetime(2026, 3, 12, 10, tzinfo=UTC), tick=False):
        filing = filing_for(persona("Camille"), "portability")
        request_id = file_and_route(smtp_app, smtp, client, filing)
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.received_on == date(2026, 3, 12)
        assert request.due_on == date(2026, 3, 20) and request.medical_deadline
        assert request.medical_newest_on is not None
        db.session.remove()


def test_access_to_an_old_medical_record_keeps_the_gdpr_month(smtp_app, smtp):
    """Data over five years old: two months under the Code, so the GDPR month stays."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Hélène"), "access"))
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert any(line.category == "hospital.medical_record" for line in request.plan.lines)
        assert (request.due_on - request.received_on).days >= 28


def test_an_erasure_keeps_the_gdpr_month_even_with_medical_records(smtp_app, smtp):
    """The 8-day track is for access to the record, not for erasure."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert (request.due_on - request.received_on).days >= 28


def test_gunicorn_refuses_to_serve_when_the_sources_do_not_match(tmp_path):
    """gunicorn.conf.py checks the live sources before serving: a missing warehouse stops it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    missing = tmp_path / "warehouse.sqlite3"
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "WAREHOUSE_URL": f"sqlite:///{missing}",
    }
    process = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "-b", "127.0.0.1:0", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert process.returncode != 0
    errors = process.stderr.decode()
    assert f"the database file {missing} does not exist" in errors
    assert "Traceback" not in errors
    assert not missing.exists()


def test_the_status_page_offers_the_other_language_on_itself(smtp_app, smtp):
    """The page's own ``request`` (the model) must not break the language links."""
    client = smtp_app.test_client()
    file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    page = client.get("/status").get_data(as_text=True)
    # A relative link to this page in the other language (never built from the path).
    assert 'href="?lang=en"' in page
    english = client.get("/status?lang=en").get_data(as_text=True)
    assert "What we found and what will happen" in english

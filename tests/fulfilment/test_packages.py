"""Building access packages (Art. 15) and portable copies (Art. 20).

Requests are filed, approved by staff through the pages and fulfilled by the
worker, with the real SMTP server; the package is decrypted and read back.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from app.demo.personas import PERSONAS
from app.extensions import db
from app.fulfilment import package_build, package_document, package_download
from app.models import AccessPackage, AuditEvent, FulfilmentReport, Job, Request, utcnow
from app.rules import routing
from app.services import services_of
from tests.casework.test_cases import act, case_of
from tests.conftest import link_in, run_jobs, text_of
from tests.outbox.test_email_privacy import assert_no_health_data_in_payloads
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

_staff = itertools.count(1)


def reflection_over(app: Flask, request_id: int) -> None:
    """The 48-hour reflection period (CSP L.1111-7) over: its own tests are in test_reflection."""
    with app.app_context():
        db.session.execute(
            update(Request)
            .where(Request.id == request_id, Request.release_not_before.is_not(None))
            .values(release_not_before=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        db.session.remove()


def approve(app: Flask, request_id: int) -> str:
    """An agent claims and approves the case through the staff pages; its reference.

    These tests are about the package, not the reflection period: it is over.
    """
    reflection_over(app, request_id)
    reference = case_of(app, request_id).reference
    assert reference
    agent, _ = staff_client(app, f"agent{next(_staff)}@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "approve").status_code == 303
    return reference


def fulfilled(app: Flask, smtp: Any, first: str = "Camille", kind: str = "access") -> Any:
    """A request filed, routed, approved and fulfilled: (request id, requester client)."""
    client = app.test_client()
    request_id = file_and_route(app, smtp, client, filing_for(persona(first), kind))
    approve(app, request_id)
    run_jobs(app)
    return request_id, client


def package_of(app: Flask, request_id: int) -> AccessPackage:
    with app.app_context():
        package = db.session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == request_id)
        )
        assert package is not None
        db.session.expunge(package)
        db.session.remove()
        return package


def opened(app: Flask, package: AccessPackage) -> tuple[dict[str, Any], str]:
    """The package's JSON document and HTML page, decrypted with the app's keys."""
    vault = services_of(app).vault
    text = package_download.decrypt(vault, package.json_encrypted)
    html = package_download.decrypt(vault, package.html_encrypted)
    assert text is not None and html is not None
    return json.loads(text), html


def mails(smtp: Any, address: str, word: str) -> list[Any]:
    return [m for m in smtp.received.to(address) if word in str(m["Subject"])]


CAMILLE = "camille.lefevre@example.org"


def test_an_approved_access_ends_completed_with_a_package_and_a_download_link(smtp_app, smtp):
    """The worker builds the package, emails a download link and completes the request."""
    request_id, client = fulfilled(smtp_app, smtp)
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert request.status == "completed"
        report = db.session.scalar(
            select(FulfilmentReport).where(FulfilmentReport.request_id == request_id)
        )
        assert report is not None and {line["action"] for line in report.lines} == {"disclose"}
        disclosed = sum(li.record_count for li in request.plan.lines if li.action == "disclose")
        db.session.remove()
    package = package_of(smtp_app, request_id)
    assert package.format == "access" and package.portability_refused is None
    assert package.records_total == package.records_done == disclosed > 0
    assert package.ready_at is not None and package.expires_at is not None
    assert package.expires_at - package.ready_at == timedelta(hours=72)
    # Encrypted at rest: no value of the sources in the stored bytes.
    assert b"Fibrillation" not in (package.json_encrypted or b"")
    ready = mails(smtp, CAMILLE, "prêtes à être téléchargées")
    assert len(ready) == 1
    assert link_in(ready[0]).startswith("/download/")
    assert "72" in text_of(ready[0])
    assert "Fibrillation" not in ready[0].as_string()
    # The download link is the completion email: no other email of the same step.
    completed = [m for m in smtp.received.to(CAMILLE) if "terminée" in str(m["Subject"])]
    completed += [m for m in smtp.received.to(CAMILLE) if "approuvée" in str(m["Subject"])]
    assert completed == []
    completed = ready
    assert "est terminée" in text_of(ready[0]) and "cnil.fr" in text_of(ready[0])
    # How many records the copy holds is on the status page, not in a stored email job.
    # Links and tokens carry digits of their own: the count is looked for as a word.
    words = re.sub(r"https?://\S+", " ", text_of(completed[0]))
    assert not re.search(rf"\b{disclosed}\b", words)
    assert_no_health_data_in_payloads(smtp_app, request_id)
    page = client.get("/status").get_data(as_text=True)
    assert "package-title" in page and "72" in page
    assert "/download/" not in page


def test_the_json_holds_the_subjects_records_and_the_art15_information(smtp_app, smtp):
    """One entry per planned record, all Camille's, with purposes, recipients, retention."""
    request_id, _ = fulfilled(smtp_app, smtp)
    document, _ = opened(smtp_app, package_of(smtp_app, request_id))
    assert document["format"] == "access" and document["format_version"] == 1
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        assert document["reference"] == request.reference
        planned = {
            (li.source, table, json.dumps(key))
            for li in request.plan.lines
            for table, keys in li.record_keys.items()
            for key in keys
        }
        db.session.remove()
    got = {
        (e["source"], e["table"], json.dumps(list(e["key"].values()))) for e in document["records"]
    }
    assert got == planned
    assert {e["fields"].get("person_id", 1) for e in document["records"]} == {1}
    for category in document["categories"]:
        for name in ("purposes", "legal_basis", "retention", "origin", "automated_decisions"):
            assert category[name]
        assert isinstance(category["recipients"], list)
    assert "cnil.fr" in document["rights"]["complaint"]
    stays = [e for e in document["records"] if e["table"] == "hospital_stays"]
    assert stays and len(stays[0]["fields"]["admitted_on"]) == 10  # ISO dates


def test_markup_in_the_sources_comes_out_escaped_in_the_html(smtp_app, smtp):
    """Camille's letters hold <script> and <img onerror>: the page shows them as text."""
    request_id, _ = fulfilled(smtp_app, smtp)
    document, html = opened(smtp_app, package_of(smtp_app, request_id))
    assert any("<script>" in json.dumps(e, ensure_ascii=False) for e in document["records"])
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "default-src 'none'" in html  # no script would run even if one slipped through


def test_a_rerun_after_a_crash_gives_the_same_package_and_one_email(smtp_app, smtp, monkeypatch):
    """The job fails after reading the sources; rerun, it finishes once, and again does nothing."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille"), "access"))
    approve(smtp_app, request_id)
    real_store = package_build.store
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed")
        real_store(*args, **kwargs)

    monkeypatch.setattr(package_build, "store", crash_once)
    run_jobs(smtp_app)
    with smtp_app.app_context():
        assert db.session.get(Request, request_id).status == "fulfilling"
        half = db.session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == request_id)
        )
        assert half is not None and half.json_encrypted is None
        db.session.execute(update(Job).values(run_after=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    run_jobs(smtp_app)
    first = package_of(smtp_app, request_id)
    assert case_of(smtp_app, request_id).status == "completed"
    with smtp_app.app_context():
        # The job run once more (retried by hand) finds the request completed.
        job = db.session.scalar(select(Job).where(Job.kind == "build_package"))
        db.session.execute(
            update(Job).where(Job.id == job.id).values(state="pending", run_after=utcnow())
        )
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(AccessPackage)) == 1
        db.session.remove()
    run_jobs(smtp_app)
    again = package_of(smtp_app, request_id)
    assert again.sha256 == first.sha256 and again.ready_at == first.ready_at
    ready = mails(smtp, CAMILLE, "prêtes à être téléchargées")
    assert len(ready) == 1
    # Built twice from the same plan, the document is byte for byte the same.
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        package = db.session.get(AccessPackage, first.id)
        snap = package_document.snapshot(request, package)
        services = services_of(smtp_app)
        one, two = package_document.build(snap, services), package_document.build(snap, services)
        assert one.json_text == two.json_text and one.sha256 == first.sha256
        db.session.remove()


def test_portability_of_data_held_for_a_public_task_gives_the_art15_copy_and_says_why(
    smtp_app, smtp
):
    """Camille's data is held for public tasks: an Art. 15 package, refused code, reason given."""
    request_id, client = fulfilled(smtp_app, smtp, kind="portability")
    package = package_of(smtp_app, request_id)
    assert package.format == "access" and package.portability_refused == "public_task"
    document, html = opened(smtp_app, package)
    assert document["portability"]["requested"] is True
    assert document["portability"]["refused"] == "public_task"
    assert "20.3" in document["portability"]["reason"]
    assert "20.3" in html
    ready = mails(smtp, CAMILLE, "prêtes à être téléchargées")
    assert "20(3)" in text_of(ready[0]) or "20.3" in text_of(ready[0])
    page = client.get("/status").get_data(as_text=True)
    assert "20(3)" in page or "20.3" in page


def test_portable_data_alone_gives_a_portable_document(app):
    """A plan disclosing only consented data (contact preferences) is a portability package."""
    services = services_of(app)
    snap = package_document.Snapshot(
        request_id=1,
        reference="DSR-TEST",
        kind="portability",
        locale="en",
        subjects={"contact": 1},
        lines=(
            routing.Line(
                "contact",
                "contact.preference",
                "disclose",
                1,
                routing.Text("Préférences", "Preferences"),
                routing.Text("b", "b"),
                routing.Text("e", "e"),
                None,
                {"contact_preferences": [[1]]},
            ),
        ),
        generated_at=utcnow(),
    )
    built = package_document.build(snap, services)
    assert built.format == "portability" and built.portability_refused is None
    document = json.loads(built.json_text)
    assert document["format"] == "portability" and document["language"] == "en"
    assert [e["table"] for e in document["records"]] == ["contact_preferences"]
    assert document["categories"][0]["portable"] is True


def test_the_status_page_shows_progress_while_the_package_is_built(smtp_app, smtp):
    """Being prepared: a progress bar with x of y records, and no download from the page."""
    request_id, client = fulfilled(smtp_app, smtp)
    with smtp_app.app_context():
        db.session.execute(
            update(AccessPackage)
            .where(AccessPackage.request_id == request_id)
            .values(ready_at=None, records_done=3, records_total=10)
        )
        db.session.commit()
        db.session.remove()
    page = client.get("/status").get_data(as_text=True)
    assert '<progress max="10" value="3"' in page
    assert "3 sur 10 enregistrements" in page


def test_progress_is_committed_on_its_own_while_the_sources_are_read(smtp_app, smtp, monkeypatch):
    """Each progress write is visible at once to another connection (nothing waits on the job)."""
    monkeypatch.setattr(package_document, "PROGRESS_EVERY", 5)
    seen: list[int] = []
    real_call = package_build.ProgressWriter.__call__

    def watched(self: package_build.ProgressWriter, done: int) -> None:
        real_call(self, done)
        with self.engine.connect() as other:
            seen.append(
                other.scalar(
                    select(AccessPackage.records_done).where(AccessPackage.id == self.package_id)
                )
            )

    monkeypatch.setattr(package_build.ProgressWriter, "__call__", watched)
    request_id, _ = fulfilled(smtp_app, smtp)
    assert seen and seen == sorted(seen) and seen[0] == 5
    assert package_of(smtp_app, request_id).records_done >= seen[-1]


def test_expired_packages_lose_their_content_and_keep_the_proof(smtp_app, smtp):
    """expire_packages deletes both files once the link has expired; the row and audit stay."""
    request_id, client = fulfilled(smtp_app, smtp)
    with smtp_app.app_context():
        assert package_download.expire_packages(db.session(), utcnow()) == 0
        later = utcnow() + timedelta(hours=73)
        assert package_download.expire_packages(db.session(), later) == 1
        db.session.commit()
        assert package_download.expire_packages(db.session(), later) == 0
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.request_id == request_id)
        ).all()
        assert "package.built" in actions and "package.deleted" in actions
        db.session.remove()
    package = package_of(smtp_app, request_id)
    assert package.json_encrypted is None and package.html_encrypted is None
    assert package.deleted_at is not None and package.sha256
    page = client.get("/status").get_data(as_text=True)
    assert "package-title" in page


# --- never another person's row ------------------------------------------------

# Homonyms (Marie Martin, Lucas Petit) and a number shared by a father and his
# daughter (Karim and Inès Benali).
NEIGHBOURS = (2, 3, 4, 5, 6, 7)


def _owner(connection: sqlite3.Connection, entry: dict[str, Any]) -> int:
    fields = entry["fields"]
    if "person_id" in fields:
        return int(fields["person_id"])
    row = connection.execute(
        "SELECT person_id FROM research_linkage WHERE pseudonym = ?", (fields["pseudonym"],)
    ).fetchone()
    return int(row[0])


def _foreign_keys(connection: sqlite3.Connection, person: int) -> dict[str, list[list[Any]]]:
    """Keys of other people's rows (neighbours first) in each table of the catalogue."""
    found: dict[str, list[list[Any]]] = {}
    for table, key in (
        ("hospital_stays", "stay_id"),
        ("diagnoses", "diagnosis_id"),
        ("reimbursements", "reimbursement_id"),
        ("referral_letters", "letter_id"),
        ("prescriptions", "prescription_id"),
        ("lab_results", "result_id"),
    ):
        rows = connection.execute(
            f"SELECT {key} FROM {table} WHERE person_id != ? ORDER BY person_id LIMIT 20",
            (person,),
        ).fetchall()
        found[table] = [[r[0]] for r in rows]
    rows = connection.execute(
        "SELECT e.extract_row_id FROM research_extracts e JOIN research_linkage l "
        "ON l.pseudonym = e.pseudonym WHERE l.person_id != ? LIMIT 20",
        (person,),
    ).fetchall()
    found["research_extracts"] = [[r[0]] for r in rows]
    return found


@pytest.fixture
def plans(app: Flask) -> dict[int, routing.Draft]:
    """Each neighbour's access plan, computed once with their identity confirmed."""
    services = services_of(app)
    drafts = {}
    for person in NEIGHBOURS:
        p = next(q for q in PERSONAS if q.person_id == person)
        applicant = routing.Applicant(p.last_name, p.first_name, p.birth_date, p.email, p.nir)
        drafts[person] = routing.compute(
            applicant,
            "access",
            catalogue=services.catalogue,
            policy=services.policy,
            warehouse=services.warehouse,
            today=utcnow().date(),
            confirmed=True,
        )
    return drafts


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    person=st.sampled_from(NEIGHBOURS),
    extra=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 19)), max_size=12),
    kind=st.sampled_from(["access", "portability"]),
)
def test_a_package_never_holds_another_persons_row(
    app: Flask, warehouse: Path, plans: dict[int, routing.Draft], person, extra, kind
):
    """Whatever keys a plan names, even other people's, only the subject's rows come out."""
    draft = plans[person]
    assert draft.outcome == "matched"
    assert set(draft.subjects.values()) == {person}
    connection = sqlite3.connect(warehouse)
    try:
        foreign = _foreign_keys(connection, person)
        tables = sorted(foreign)
        lines = []
        for line in draft.lines:
            keys = {t: [list(k) for k in ks] for t, ks in line.record_keys.items()}
            # A stale or wrong plan: other people's keys slipped into this line.
            for table_index, row_index in extra:
                table = tables[table_index % len(tables)]
                if table in keys and foreign[table]:
                    keys[table].append(foreign[table][row_index % len(foreign[table])])
            lines.append(
                routing.Line(
                    line.source,
                    line.category,
                    line.action,
                    line.record_count,
                    line.label,
                    line.basis,
                    line.explanation,
                    line.kept_until,
                    keys,
                )
            )
        snap = package_document.Snapshot(
            1, "DSR-P", kind, "fr", dict(draft.subjects), tuple(lines), utcnow()
        )
        built = package_document.build(snap, services_of(app))
        document = json.loads(built.json_text)
        owners = {_owner(connection, entry) for entry in document["records"]}
        assert owners <= {person}
        assert built.records == sum(line.record_count for line in draft.lines)
    finally:
        connection.close()

"""Identity assurance end to end: nobody sees, receives or erases someone else's data.

Camille Lefèvre-Dubois is a demo persona whose contact address on file is
camille.lefevre@example.org. An impostor knows her name, birth date and
social-security number (printed on her carte Vitale) and files from another
address.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import deadlines
from app.extensions import db
from app.identity import assurance
from app.models import AuditEvent, Request, utcnow
from app.services import services_of
from tests.casework.test_cases import act, case_of
from tests.conftest import csrf_from, link_in, run_jobs, text_of
from tests.identity.kit import prove
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

ON_FILE = "camille.lefevre@example.org"
IMPOSTOR = "attacker@attacker.example"


def category_words(app: Flask) -> list[str]:
    """Every category label of the catalogue, both languages: health data in themselves."""
    catalogue = services_of(app).catalogue
    labels = [catalogue.label(c) for c in catalogue.categories]
    return [text for label in labels for text in (label.fr, label.en)]


def impostor_files(app: Flask, smtp: Any, kind: str = "access") -> tuple[int, Any]:
    client = app.test_client()
    filing = {**filing_for(persona("Camille"), kind), "email": IMPOSTOR}
    return file_and_route(app, smtp, client, filing), client


def actions(app: Flask, request_id: int) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.request_id == request_id)
            .order_by(AuditEvent.id)
        ).all()
        return [(a, dict(d or {})) for a, d in rows]


def test_an_impostor_sees_receives_and_erases_nothing(smtp_app: Flask, smtp: Any) -> None:
    """Camille's name, birth date and number from another address: no plan, no count, no
    category, no package, no erasure; staff cannot approve; Camille's address is told."""
    request_id, client = impostor_files(smtp_app, smtp, "erasure")
    case = case_of(smtp_app, request_id)
    assert (case.status, case.assurance, case.contact_check) == (
        "awaiting_identity",
        "email",
        "differs",
    )
    assert case.paused_at is not None  # the clock waits for the proof
    page = client.get("/status").get_data(as_text=True)
    for word in category_words(smtp_app):
        assert word not in page
    assert "aucune donnée" not in page and "Prouvez votre identité" in page
    assert not re.search(r'class="plan', page)
    # The impostor's emails say the step reached, never a kind of data or a count.
    to_impostor = smtp.received.to(IMPOSTOR)
    assert [m["Subject"] for m in to_impostor[1:]] == [
        f"Votre demande {case.reference} a bien été reçue",
        f"Votre demande {case.reference}\u00a0: prouvez votre identité",
    ]
    for message in to_impostor:
        text = text_of(message)
        for word in category_words(smtp_app):
            assert word not in text
    # Staff hold the case but cannot move it towards an approval.
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, case.reference, "claim").status_code == 303
    assert case_of(smtp_app, request_id).status == "awaiting_identity"
    refused = act(agent, case.reference, "prepare-approval")
    assert refused.status_code in (409, 422)
    assert case_of(smtp_app, request_id).pending_decision is None
    # The person on file gets the notice; it does not name the impostor's address.
    [notice] = smtp.received.to(ON_FILE)
    assert IMPOSTOR not in text_of(notice)
    assert link_in(notice).startswith("/not-me/")


def test_the_person_on_file_freezes_the_request_and_no_proof_unfreezes_it(
    smtp_app: Flask, smtp: Any
) -> None:
    """ "This was not me": identity review, frozen; a later proof from the filer is refused."""
    request_id, client = impostor_files(smtp_app, smtp)
    [notice] = smtp.received.to(ON_FILE)
    path = link_in(notice)
    camille = smtp_app.test_client()
    shown = camille.get(path)
    assert shown.status_code == 200 and case_of(smtp_app, request_id).disputed_at is None
    done = camille.post(path, data={"csrf_token": csrf_from(shown.data)})
    assert done.status_code == 200
    case = case_of(smtp_app, request_id)
    assert case.status == "identity_review" and case.disputed_at is not None
    assert ("identity.disputed", {}) in actions(smtp_app, request_id)
    # The link is single use: a second press changes nothing and says so.
    again = camille.post(path, data={"csrf_token": csrf_from(shown.data)})
    assert again.status_code == 409
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        with pytest.raises(assurance.AssuranceRefused, match="disputed"):
            assurance.raise_level(
                db.session(),
                request,
                "oidc",
                method="oidc",
                actor="requester",
                now=utcnow(),
                mail=services_of(smtp_app).mail,
                policy=services_of(smtp_app).assurance,
            )
        db.session.rollback()
    page = client.get("/status").get_data(as_text=True)
    assert "Votre identité est en cours de vérification" in page
    for word in category_words(smtp_app):
        assert word not in page
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, case.reference, "claim").status_code == 303
    assert act(agent, case.reference, "confirm-identity").status_code in (409, 422)


def test_filed_from_the_address_on_file_the_plan_shows_at_once(smtp_app: Flask, smtp: Any) -> None:
    """Camille from her own address: contact_match, triage, her plan on her page."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille"), "access"))
    case = case_of(smtp_app, request_id)
    assert (case.status, case.assurance, case.contact_check) == ("triage", "contact_match", "same")
    assert (
        "identity.assurance",
        {"level": "contact_match", "method": "contact_address", "from": "email"},
    ) in actions(smtp_app, request_id)
    page = client.get("/status").get_data(as_text=True)
    assert "Dossier médical hospitalier" in page
    assert smtp.received.to(ON_FILE)[-1]["Subject"].endswith("ce que nous avons trouvé")


def test_a_proof_of_identity_routes_again_and_shows_the_plan(smtp_app: Flask, smtp: Any) -> None:
    """From another address Camille waits; her accepted document routes the request again."""
    request_id, client = impostor_files(smtp_app, smtp)
    prove(smtp_app, request_id, "document")
    case = case_of(smtp_app, request_id)
    assert (case.status, case.assurance, case.paused_at) == ("triage", "document", None)
    assert [a for a, _ in actions(smtp_app, request_id)].count("plan.computed") == 2
    subjects = [m["Subject"] for m in smtp.received.to(IMPOSTOR)]
    assert subjects[-2].endswith("votre identité est confirmée")
    assert subjects[-1].endswith("ce que nous avons trouvé")
    assert "Dossier médical hospitalier" in client.get("/status").get_data(as_text=True)
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, case.reference, "claim").status_code == 303
    assert act(agent, case.reference, "approve").status_code == 303
    assert case_of(smtp_app, request_id).status == "approved"


def test_an_approval_below_the_level_is_refused(smtp_app: Flask, smtp: Any) -> None:
    """A case in review at the email level (filed before the gate existed) is not approved."""
    client = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille"), "access"))
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    reference = case_of(smtp_app, request_id).reference
    assert act(agent, reference, "claim").status_code == 303
    with smtp_app.app_context():
        db.session.execute(
            Request.__table__.update().where(Request.id == request_id).values(assurance="email")
        )
        db.session.commit()
    refused = act(agent, reference, "approve")
    assert refused.status_code == 422
    assert "FranceConnect" in refused.get_data(as_text=True)
    assert case_of(smtp_app, request_id).status == "in_review"


def test_an_objection_goes_on_at_the_email_level_without_showing_its_plan(
    smtp_app: Flask, smtp: Any
) -> None:
    """An objection only restricts: it is acted on with the link alone, its plan stays hidden."""
    request_id, client = impostor_files(smtp_app, smtp, "objection")
    case = case_of(smtp_app, request_id)
    assert (case.status, case.assurance) == ("triage", "email")
    page = client.get("/status").get_data(as_text=True)
    for word in category_words(smtp_app):
        assert word not in page
    # Not "what we found": the step reached, as for any case being examined.
    assert smtp.received.to(IMPOSTOR)[-1]["Subject"].endswith("est en cours d’examen")
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, case.reference, "claim").status_code == 303
    assert act(agent, case.reference, "approve").status_code == 303
    run_jobs(smtp_app)
    assert case_of(smtp_app, request_id).status == "completed"
    page = client.get("/status").get_data(as_text=True)
    for word in category_words(smtp_app):
        assert word not in page


def test_the_case_page_and_the_queue_show_the_level(smtp_app: Flask, smtp: Any) -> None:
    request_id, _ = impostor_files(smtp_app, smtp)
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    reference = case_of(smtp_app, request_id).reference
    dpo.get("/staff/queue?lang=en")
    page = dpo.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "Email address only" in page
    assert "not the contact address the sources hold" in page
    assert "It cannot be approved yet" in page
    weak = dpo.get("/staff/queue?assurance=email").get_data(as_text=True)
    strong = dpo.get("/staff/queue?assurance=contact_match").get_data(as_text=True)
    assert reference in weak and reference not in strong
    # Its clock stands still: the queue says so rather than counting days.
    assert "Clock suspended" in weak


def test_a_not_me_link_after_approval_changes_nothing(smtp_app: Flask, smtp: Any) -> None:
    """Once approved, "not me" cannot stop the request: the page says to write to the DPO."""
    request_id, _ = impostor_files(smtp_app, smtp)
    [notice] = smtp.received.to(ON_FILE)
    prove(smtp_app, request_id, "document")
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    reference = case_of(smtp_app, request_id).reference
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "approve").status_code == 303
    camille = smtp_app.test_client()
    path = link_in(notice)
    page = camille.post(path, data={"csrf_token": csrf_from(camille.get(path).data)})
    assert "délégué à la protection des données" in page.get_data(as_text=True)
    case = case_of(smtp_app, request_id)
    assert case.disputed_at is None and case.status in ("approved", "fulfilling")
    assert ("identity.disputed_late", {}) in actions(smtp_app, request_id)


def test_a_not_me_link_that_was_tampered_with_is_refused(smtp_app: Flask, smtp: Any) -> None:
    impostor_files(smtp_app, smtp)
    path = link_in(smtp.received.to(ON_FILE)[0])
    client = smtp_app.test_client()
    assert client.get(path[:-3] + "xyz").status_code == 400
    assert client.post(path, data={}).status_code == 400  # no CSRF token: nothing happens


def test_the_medical_record_deadline_waits_for_the_proof(smtp_app: Flask, smtp: Any) -> None:
    """Eight days instead of a month would tell an impostor that a medical record exists:
    the Public Health Code's track is applied once identity is proven."""
    request_id, _ = impostor_files(smtp_app, smtp, "access")
    case = case_of(smtp_app, request_id)
    assert case.received_on is not None
    assert not case.medical_deadline
    assert case.due_on == deadlines.due_date(case.received_on)
    prove(smtp_app, request_id, "document")
    case = case_of(smtp_app, request_id)
    assert case.medical_deadline and case.due_on is not None
    assert case.due_on < deadlines.due_date(case.received_on)

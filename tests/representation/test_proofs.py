"""A request made for someone else: proofs sent from the status page, decided by staff, gated."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.identity import assurance
from app.models import AuditEvent, RelationshipProof, Request
from app.services import services_of
from tests.conftest import run_jobs, text_of
from tests.identity.kit import prove
from tests.representation.kit import FILINGS, decide_all, file_and_verify, request_of, send_proof
from tests.staffkit import mail_to, staff_client

PLAN_HEADING = "Ce que nous avons trouvé et ce qui va se passer"


def _proofs(app, request_id):
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(RelationshipProof).where(RelationshipProof.request_id == request_id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def _events(app, request_id):
    with app.app_context():
        found = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.request_id == request_id)
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return found


@pytest.mark.parametrize("acts_as", ["parent", "guardian", "mandatary"])
def test_filed_through_the_form_proven_accepted_then_routed(app, acts_as):
    """Each proof the relationship needs is sent, staff accept them all, the request goes on."""
    data = FILINGS[acts_as]
    client, request_id, reference = file_and_verify(app, data)
    filed = request_of(app, data["email"])
    assert filed.status == "awaiting_identity"
    assert filed.relationship_proof == "awaited"
    relationship = services_of(app).representation.of(acts_as)
    codes = [proof.code for proof in relationship.proofs]
    page = client.get("/status").get_data(as_text=True)
    assert "Prouvez votre lien avec la personne" in page
    for proof in relationship.proofs:
        assert proof.label.fr in page
    # The requester's own identity is proven meanwhile: still nothing about the person.
    prove(app, request_id)
    assert PLAN_HEADING not in client.get("/status").get_data(as_text=True)
    for number, code in enumerate(codes):
        assert send_proof(client, code).status_code == 303
        expected = "submitted" if number == len(codes) - 1 else "awaited"
        assert request_of(app, data["email"]).relationship_proof == expected
    assert {row.proof for row in _proofs(app, request_id)} == set(codes)
    # At most one waits per proof: a second of the same is refused.
    assert send_proof(client, codes[0]).status_code == 422
    agent, _ = staff_client(app, "agent@example.org", "agent")
    case_page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "Demande faite pour quelqu’un d’autre" in case_page
    assert "Élodie Martin" in case_page  # the requester's identity, decrypted for staff
    assert decide_all(agent, reference, accept=True) == len(codes)
    assert _proofs(app, request_id) == []  # deleted with the decision
    run_jobs(app)
    done = request_of(app, data["email"])
    assert done.relationship_proof == "accepted"
    assert done.status in ("triage", "identity_review")
    actions = [e.action for e in _events(app, request_id)]
    assert actions.count("relationship.proof_accepted") == len(codes)
    assert "relationship.accepted" in actions
    # No audit event names the requester.
    assert "Élodie" not in json.dumps([e.details for e in _events(app, request_id)])
    assert "Prouvez votre lien" not in client.get("/status").get_data(as_text=True)


def test_a_refused_proof_is_explained_and_another_can_be_sent(app):
    data = FILINGS["parent"]
    client, request_id, reference = file_and_verify(app, data)
    assert send_proof(client, "family_record_book").status_code == 303
    agent, _ = staff_client(app, "agent@example.org", "agent")
    assert decide_all(agent, reference, accept=False, reason="unreadable") == 1
    assert request_of(app, data["email"]).relationship_proof == "refused"
    assert _proofs(app, request_id) == []
    [refused] = mail_to(app, data["email"], "merci d’envoyer un autre document")
    body = text_of(refused)
    assert "le document est illisible" in body
    assert "Léa" not in body and "Élodie" not in body
    page = client.get("/status").get_data(as_text=True)
    assert "Nous n’avons pas pu accepter le document que vous avez envoyé" in page
    assert "le document est illisible" in page
    assert send_proof(client, "family_record_book").status_code == 303
    assert request_of(app, data["email"]).relationship_proof == "submitted"
    assert decide_all(agent, reference, accept=True) == 1
    assert request_of(app, data["email"]).relationship_proof == "accepted"


def test_nothing_is_shown_or_approved_before_the_proof_is_accepted(app):
    """Identity at the highest level is not enough: the relationship must be proven too."""
    data = FILINGS["heir"]
    client, request_id, _ = file_and_verify(app, data)
    prove(app, request_id)
    found = request_of(app, data["email"])
    policy = services_of(app).assurance
    assert found.assurance == "document"
    assert not assurance.shows_plan(policy, found)
    assert not assurance.may_act(policy, found)
    assert assurance.identity_shows_plan(policy, found)
    assert found.status == "awaiting_identity"
    page = client.get("/status").get_data(as_text=True)
    assert PLAN_HEADING not in page
    assert "Ce que vous recevrez, et pourquoi" in page
    reason = services_of(app).representation.reason("causes_of_death")
    assert reason.explanation.fr in page
    # The identity upload is not offered again: the requester's identity is proven.
    assert "Envoyer une pièce d’identité" not in page


def test_a_proof_the_relationship_does_not_need_is_refused(app):
    client, request_id, _ = file_and_verify(app, FILINGS["parent"])
    assert send_proof(client, "death_certificate").status_code == 422
    assert _proofs(app, request_id) == []


def test_a_request_for_oneself_takes_no_proof_of_relationship(app, client):
    from tests.conftest import VALID_FILING

    own, request_id, _ = file_and_verify(app, {**VALID_FILING, "email": "self@example.fr"})
    assert send_proof(own, "mandate").status_code == 303  # flashed, nothing stored
    assert _proofs(app, request_id) == []
    with app.app_context():
        assert db.session.get(Request, request_id).relationship_proof is None


def test_the_database_keeps_one_waiting_document_per_request_and_proof(app):
    """Two of the same proof are refused by the unique pair; two different ones are taken."""
    from sqlalchemy.exc import IntegrityError

    _, request_id, _ = file_and_verify(app, FILINGS["mandatary"])
    with app.app_context():
        vault = services_of(app).vault

        def row(code):
            return RelationshipProof(
                request_id=request_id,
                proof=code,
                media_type="image/png",
                size=3,
                content_encrypted=vault.encrypt_bytes(b"png"),
            )

        db.session.add_all([row("mandate"), row("mandator_id")])
        db.session.commit()
        db.session.add(row("mandate"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()
    assert {p.proof for p in _proofs(app, request_id)} == {"mandate", "mandator_id"}


def test_staff_decisions_on_a_proof_refuse_bad_input_and_audit_each_view(app):
    """An unknown reason or a gone document changes nothing; each opening is audited."""
    from tests.representation.kit import forms_for

    client, request_id, reference = file_and_verify(app, FILINGS["parent"])
    assert send_proof(client, "family_record_book").status_code == 303
    [document] = _proofs(app, request_id)
    agent, account = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    source = f"/staff/cases/{reference}/relationship-proof/{document.id}"
    shown = agent.get(source)
    assert shown.status_code == 200 and shown.data.startswith(b"\x89PNG")
    assert shown.headers["Content-Disposition"] == "inline"
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    [viewed] = [e for e in _events(app, request_id) if e.action == "relationship.proof_viewed"]
    assert viewed.actor == account.actor
    assert viewed.details == {"document": document.id, "proof": "family_record_book"}
    refuse = f"/staff/cases/{reference}/relationship-proof/refuse"
    [fields] = forms_for(page.data, refuse)
    assert agent.post(refuse, data={**fields, "reason": "no-such-reason"}).status_code == 422
    gone = {**fields, "reason": "unreadable", "document_id": str(document.id + 99)}
    assert agent.post(refuse, data=gone).status_code in (409, 422)
    assert [d.id for d in _proofs(app, request_id)] == [document.id]
    assert request_of(app, FILINGS["parent"]["email"]).relationship_proof == "submitted"
    # Another case's document is not served under this case.
    _, _, other = file_and_verify(app, FILINGS["guardian"])
    assert agent.get(f"/staff/cases/{other}/relationship-proof/{document.id}").status_code == 404
    # The requester cannot open it.
    assert client.get(source).status_code in (302, 403)

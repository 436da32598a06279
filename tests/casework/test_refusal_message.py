"""A refusal needs its ground and may carry a message to the requester: encrypted, read by
the DPO on the confirmation page before approving, shown on the status page, never emailed."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Request
from tests.casework.test_cases import CAMILLE, act, case_of
from tests.conftest import run_jobs, text_of
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

MESSAGE = "Nous n'avons trouvé aucune trace du séjour de 2019 : écrivez-nous si besoin."


def _text(answer) -> str:
    return BeautifulSoup(answer.data, "html.parser").get_text(" ")


def _prepared(smtp_app, smtp, **data):
    requester = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, requester, filing_for(persona("Camille")))
    reference = case_of(smtp_app, request_id).reference
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    answer = act(agent, reference, "prepare-refusal", **data)
    return requester, request_id, reference, agent, answer


def test_the_message_is_previewed_then_shown_on_the_status_page_and_never_emailed(smtp_app, smtp):
    """Prepared with a message: stored encrypted, on the case page and the DPO's
    confirmation, on the status page after approval, in no email, in no audit detail."""
    requester, request_id, reference, agent, answer = _prepared(
        smtp_app, smtp, ground="legal_obligation", message=f"  {MESSAGE}  "
    )
    assert answer.status_code == 303
    with smtp_app.app_context():
        stored = db.session.scalar(
            select(Request.refusal_message_encrypted).where(Request.id == request_id)
        )
        details = [
            e.details
            for e in db.session.scalars(
                select(AuditEvent).where(AuditEvent.request_id == request_id)
            )
        ]
        db.session.remove()
    assert stored and MESSAGE not in stored
    assert all(MESSAGE not in str(d) for d in details)
    assert MESSAGE in _text(agent.get(f"/staff/cases/{reference}?lang=en"))

    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    confirmation = act(dpo, reference, "approve", confirm="")
    assert confirmation.status_code == 200
    previews = [
        q.get_text(strip=True)
        for q in BeautifulSoup(confirmation.data, "html.parser").select("blockquote.preview")
    ]
    assert MESSAGE in previews
    assert act(dpo, reference, "approve").status_code == 303
    assert case_of(smtp_app, request_id).status == "denied"
    run_jobs(smtp_app)
    assert MESSAGE in _text(requester.get("/status"))
    assert all(MESSAGE not in text_of(m) for m in smtp.received.to(CAMILLE))


def test_a_refusal_without_its_ground_is_refused_and_nothing_is_prepared(smtp_app, smtp):
    """No ground chosen: 422, the case has no prepared decision."""
    _, request_id, _, _, answer = _prepared(smtp_app, smtp, ground="", message=MESSAGE)
    assert answer.status_code == 422
    assert case_of(smtp_app, request_id).pending_decision is None


def test_a_message_over_two_thousand_characters_is_refused(smtp_app, smtp):
    """Too long: 422, nothing prepared, nothing stored."""
    _, request_id, _, _, answer = _prepared(
        smtp_app, smtp, ground="legal_obligation", message="x" * 2001
    )
    assert answer.status_code == 422
    case = case_of(smtp_app, request_id)
    assert case.pending_decision is None and case.refusal_message_encrypted is None


def test_sending_back_drops_the_message(smtp_app, smtp):
    """Sent back by the DPO: the prepared message goes with the decision."""
    _, request_id, reference, _, answer = _prepared(
        smtp_app, smtp, ground="legal_obligation", message=MESSAGE
    )
    assert answer.status_code == 303
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    assert act(dpo, reference, "send-back").status_code == 303
    case = case_of(smtp_app, request_id)
    assert case.pending_decision is None and case.refusal_message_encrypted is None

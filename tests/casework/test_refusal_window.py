"""A refusal reaches the requester within one month of receipt, even when extended.

GDPR Art. 12(4) (issue 18, correction 3): the case page warns of the month,
and past it a DPO approves a refusal only with a written justification, kept
encrypted with the case and audited without its text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import select

from app.casework import refusal_window
from app.extensions import db
from app.models import AuditEvent, CaseNote, Request
from tests.casework.test_cases import act, case_of
from tests.staffkit import case_held_by, staff_client

# Received 15 February 2027 and extended: due 17 May; the month to refuse ends Monday 15 March.
RECEIVED, REFUSE_BY, EXTENDED_DUE = date(2027, 2, 15), date(2027, 3, 15), date(2027, 5, 17)
APRIL_FIRST = datetime(2027, 4, 1, 9, tzinfo=UTC)
MARCH_FIRST = datetime(2027, 3, 1, 9, tzinfo=UTC)
WHY = "Réponse de l'hôpital reçue le 30 mars seulement ; refus notifié dès réception."


def extended_case(app, agent_account) -> tuple[str, int]:
    reference = case_held_by(app, agent_account, kind="erasure")
    with app.app_context():
        case = db.session.scalar(select(Request).where(Request.reference == reference))
        assert case is not None
        case.received_on, case.due_on = RECEIVED, EXTENDED_DUE
        case.extended_on, case.extension_ground = date(2027, 3, 1), "complexity"
        db.session.commit()
        request_id = case.id
        db.session.remove()
    return reference, request_id


def prepared_refusal(app):
    agent, agent_account = staff_client(app, "agent@example.org", "agent")
    dpo, _ = staff_client(app, "dpo@example.org", "dpo")
    reference, request_id = extended_case(app, agent_account)
    prepared = act(agent, reference, "prepare-refusal", ground="legal_obligation")
    assert prepared.status_code == 303
    return dpo, reference, request_id


def test_the_window_is_the_month_from_receipt_not_the_extension():
    """Received 15 February, extended to 17 May: a refusal is due by Monday 15 March."""
    request = Request(received_on=RECEIVED, due_on=EXTENDED_DUE, paused_days=0)
    found = refusal_window.window(request, date(2027, 4, 1))
    assert found == refusal_window.Window(REFUSE_BY, late=True, extended=True)
    assert refusal_window.window(request, REFUSE_BY) == refusal_window.Window(
        REFUSE_BY, late=False, extended=True
    )


def test_the_case_page_warns_of_the_month_to_refuse(app):
    """An extended case shows the date a refusal must reach the requester by."""
    with time_machine.travel(MARCH_FIRST, tick=False):
        agent, account = staff_client(app, "agent@example.org", "agent")
        reference, _ = extended_case(app, account)
        page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert 'id="refusal-window"' in page
    assert "15 mars 2027" in page and "12(4)" in page


def test_a_late_refusal_is_blocked_without_a_written_justification(app):
    """Approved on 1 April with no justification: nothing changes, the page says why."""
    with time_machine.travel(APRIL_FIRST, tick=False):
        dpo, reference, request_id = prepared_refusal(app)
        page = dpo.get(f"/staff/cases/{reference}").get_data(as_text=True)
        assert 'id="late-justification"' in page
        refused = act(dpo, reference, "approve", late_justification="  ")
    assert refused.status_code == 422
    assert "justification" in refused.get_data(as_text=True)
    case = case_of(app, request_id)
    assert case.status == "in_review" and case.pending_decision == "refuse"


def test_a_late_refusal_with_a_dpo_justification_goes_out_recorded_and_audited(app):
    """With the DPO's text: denied, the text kept encrypted, the audit without it."""
    with time_machine.travel(APRIL_FIRST, tick=False):
        dpo, reference, request_id = prepared_refusal(app)
        approved = act(dpo, reference, "approve", late_justification=WHY)
    assert approved.status_code == 303
    assert case_of(app, request_id).status == "denied"
    with app.app_context():
        note = db.session.scalar(select(CaseNote).where(CaseNote.kind == "justification"))
        assert note is not None and "hôpital" not in note.body_encrypted
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "case.late_refusal_justified")
        )
        assert event is not None
        assert event.details == {"refuse_by": "2027-03-15", "days_late": 17}
        assert "hôpital" not in str(event.details)
        db.session.remove()


def test_a_refusal_within_the_month_needs_no_justification(app):
    """Approved on 1 March, inside the month: it goes out as before."""
    with time_machine.travel(MARCH_FIRST, tick=False):
        dpo, reference, request_id = prepared_refusal(app)
        assert act(dpo, reference, "approve").status_code == 303
    assert case_of(app, request_id).status == "denied"

"""Irreversible decisions are confirmed: the first press shows what will happen, the second acts.

"Approve the plan" releases health data and a DPO's "Approve this decision"
erases records or refuses the request: the case page's button leads to a page
naming what is released or erased, per category and count, and to whom; only
its own button, a second POST with ``confirm=yes`` and the same version, acts.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Job
from tests.casework.test_cases import _version, act, case_of
from tests.conftest import csrf_from
from tests.fulfilment.test_packages import reflection_over
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

CONFIRM = 'name="confirm" type="hidden" value="yes"'


@pytest.fixture
def camille_erasure(smtp_app: Flask, smtp: Any) -> tuple[int, str]:
    """Camille's erasure, filed, confirmed and routed: in triage."""
    request_id = file_and_route(
        smtp_app, smtp, smtp_app.test_client(), filing_for(persona("Camille"))
    )
    reference = case_of(smtp_app, request_id).reference
    assert reference
    return request_id, reference


def _count(app: Flask, query: Any) -> int:
    with app.app_context():
        found = db.session.scalar(query)
        db.session.remove()
    return int(found or 0)


def _prepared_erasure(app: Flask, reference: str) -> Any:
    agent, _ = staff_client(app, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "prepare-approval").status_code == 303
    dpo, _ = staff_client(app, "dpo@example.org", "dpo")
    return dpo


def test_a_dpo_reads_what_will_be_erased_before_anything_is(smtp_app, smtp, camille_erasure):
    """The first press names each category erased and kept, with counts; nothing changes."""
    request_id, reference = camille_erasure
    dpo = _prepared_erasure(smtp_app, reference)
    jobs_before = _count(smtp_app, select(func.count()).select_from(Job))
    shown = act(dpo, reference, "approve", confirm="")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert CONFIRM in html
    assert "Confirmer l’effacement" in html or "Confirmer l'effacement" in html
    assert "Ce qui sera effacé" in html and "Ce que la loi conserve" in html
    case = case_of(smtp_app, request_id)
    # The categories by their names (staff may read them), never their codes.
    assert "Dossier médical hospitalier" in html
    assert "hospital.medical_record" not in html
    assert "Entrepôt des données hospitalières" in html
    # Nothing was decided: same status and version, no job, no status event.
    after = case_of(smtp_app, request_id)
    assert after.status == "in_review" and after.pending_decision == "approve"
    assert after.version == case.version
    assert _count(smtp_app, select(func.count()).select_from(Job)) == jobs_before
    assert not _count(
        smtp_app,
        select(func.count()).where(
            AuditEvent.request_id == request_id, AuditEvent.action == "status.approved"
        ),
    )


def test_the_confirmation_button_approves_the_erasure(smtp_app, smtp, camille_erasure):
    """The second press, with the version the page showed, approves and starts the erasure."""
    request_id, reference = camille_erasure
    dpo = _prepared_erasure(smtp_app, reference)
    shown = act(dpo, reference, "approve", confirm="")
    html = shown.get_data(as_text=True)
    answer = dpo.post(
        f"/staff/cases/{reference}/approve",
        data={"csrf_token": csrf_from(shown.data), "version": _version(html), "confirm": "yes"},
    )
    assert answer.status_code == 303
    assert case_of(smtp_app, request_id).status == "approved"


def test_a_case_changed_after_the_confirmation_page_is_not_approved(
    smtp_app, smtp, camille_erasure
):
    """Someone sends the erasure back meanwhile: the confirmation changes nothing (409)."""
    request_id, reference = camille_erasure
    dpo = _prepared_erasure(smtp_app, reference)
    shown = act(dpo, reference, "approve", confirm="")
    other, _ = staff_client(smtp_app, "dpo2@example.org", "dpo")
    assert act(other, reference, "send-back").status_code == 303
    answer = dpo.post(
        f"/staff/cases/{reference}/approve",
        data={
            "csrf_token": csrf_from(shown.data),
            "version": _version(shown.get_data(as_text=True)),
            "confirm": "yes",
        },
    )
    assert answer.status_code == 409
    case = case_of(smtp_app, request_id)
    assert case.status == "in_review" and case.pending_decision is None


def test_the_preparer_gets_no_confirmation_page(smtp_app, smtp, camille_erasure):
    """Four eyes is checked at the first press: the preparer is refused before any preview."""
    _request_id, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "dpo1@example.org", "dpo")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "prepare-approval").status_code == 303
    refused = act(agent, reference, "approve", confirm="")
    assert refused.status_code == 403
    assert CONFIRM not in refused.get_data(as_text=True)


def test_approving_an_access_plan_names_what_is_released_and_to_whom(smtp_app, smtp):
    """The holder's "Approve the plan" names what is released and to which address."""
    filing = filing_for(persona("Camille"), "access")
    request_id = file_and_route(smtp_app, smtp, smtp_app.test_client(), filing)
    reflection_over(smtp_app, request_id)
    reference = case_of(smtp_app, request_id).reference
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    shown = act(agent, reference, "approve", confirm="")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and CONFIRM in html
    assert "Ce qui sera communiqué au demandeur" in html
    assert "camille.lefevre@example.org" in html
    assert case_of(smtp_app, request_id).status == "in_review"
    assert act(agent, reference, "approve").status_code == 303
    assert case_of(smtp_app, request_id).status in ("approved", "fulfilling")


def test_a_refusal_is_previewed_in_the_requester_language(smtp_app, smtp, camille_erasure):
    """The DPO reads the ground as the requester's email will give it, before refusing."""
    request_id, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "prepare-refusal", ground="legal_obligation").status_code == 303
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    dpo.get("/staff/queue?lang=en")  # the DPO reads English; the requester filed in French
    shown = act(dpo, reference, "approve", confirm="")
    html = shown.get_data(as_text=True)
    assert "Confirm the refusal" in html
    assert "La loi nous oblige à conserver ces données" in html
    assert case_of(smtp_app, request_id).status == "in_review"
    assert act(dpo, reference, "approve").status_code == 303
    assert case_of(smtp_app, request_id).status == "denied"

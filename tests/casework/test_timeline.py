"""The case timeline reads as sentences: no event code, payload, actor code or source code.

``app.staff.timeline`` words every audit event kind the portal writes; an
unknown kind gets a generic sentence, never its raw payload.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale

from app.models import AuditEvent
from app.staff import timeline
from tests.casework.test_cases import act, case_of
from tests.conftest import run_jobs
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

# What a raw code or payload looks like on a page.
RAW = re.compile(r"\w=\w|[{}]|\b(status|case|plan|identity|erasure|package)\.[a-z_]+\b|system:")
EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("status.triage", {"from": "received", "to": "triage", "deadline": "medical_record"}),
    ("status.approved", {"from": "in_review", "to": "approved", "prepared_by": 1}),
    ("status.denied", {"from": "in_review", "to": "denied", "ground": "legal_obligation"}),
    ("status.awaiting_requester", {"from": "in_review", "to": "awaiting_requester"}),
    ("status.identity_review", {"from": "triage", "to": "identity_review", "reason": "disputed"}),
    ("erasure.source_erased", {"source": "assurance_maladie", "deleted": {"reimbursements": 2}}),
    ("plan.computed", {"plan": 1, "outcome": "matched", "lines": 4}),
    ("case.prepared", {"decision": "refuse", "ground": "research"}),
    ("case.assigned", {"assignee": 1}),
    ("case.source_read", {"screen": "recompute"}),
    ("recipient.notified", {"recipient": "CPAM", "action": "erased", "categories": ["x.y"]}),
    ("identity.assurance", {"level": "oidc", "method": "oidc", "from": "email"}),
    ("clock.resumed", {"paused_days": 3, "due_on": "2026-05-01"}),
    ("request.filed", {"kind": "erasure", "locale": "fr"}),
    ("no.such_kind", {"secret": "value"}),
    ("case.extended", {"ground": 42}),  # a payload of an unexpected shape
]


def _event(action: str, details: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        actor="system:routing", action=action, details=details, occurred_at=datetime.now(UTC)
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize(("action", "details"), EXAMPLES)
def test_every_event_reads_as_a_sentence(app: Flask, lang: str, action: str, details) -> None:
    """Each kind, known or not, gives a sentence with neither code nor payload."""
    staff = {"staff:1": "agent@example.org"}
    with app.test_request_context(f"/?lang={lang}"), force_locale(lang):
        text = timeline.sentence(_event(action, details), staff, lambda name: "Source A")
        who = timeline.actor_name("system:routing", staff)
    assert text.strip()
    assert not RAW.search(text), text
    assert "reimbursements" not in text and "value" not in text
    assert "system" not in who


def test_the_status_sentence_names_both_statuses_and_the_medical_deadline(app: Flask) -> None:
    """status.triage with deadline=medical_record, as the issue quoted it, in French."""
    details = {"from": "received", "to": "triage", "deadline": "medical_record"}
    event = _event("status.triage", details)
    with app.test_request_context("/"), force_locale("fr"):
        text = timeline.sentence(event, {}, str)
    assert "En attente d’un agent" in text and "code de la santé publique" in text


def test_the_case_page_timeline_of_an_erasure_holds_no_code(smtp_app, smtp) -> None:
    """After routing, preparation, approval and the erasure, the page shows sentences only."""
    filing = filing_for(persona("Camille"))
    request_id = file_and_route(smtp_app, smtp, smtp_app.test_client(), filing)
    reference = case_of(smtp_app, request_id).reference
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "prepare-approval").status_code == 303
    assert act(dpo, reference, "approve").status_code == 303
    run_jobs(smtp_app)
    for lang in ("fr", "en"):
        page = dpo.get(f"/staff/cases/{reference}?lang={lang}").get_data(as_text=True)
        history = page[page.index('id="timeline"') :]
        assert not RAW.search(history), RAW.search(history)
        assert "prepared_by" not in page and "deleted=" not in page
        assert "system:routing" not in page and "(pas encore envoyé :" not in page
        assert "hospital.medical_record" not in page and "assurance_maladie" not in page
        erased = "Effacement dans" if lang == "fr" else "Erased in"
        assert erased in history and ("par le portail" in history or "by the portal" in history)

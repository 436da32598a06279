"""The case page's read model (app.casework.case_page), without a client."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app import audit
from app.casework import case_page
from app.models import CaseNote, Request
from app.outbox import jobs
from app.services import services_of
from tests.staffkit import add_staff

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NAMED = {"requester": "the requester"}


def _request(session, vault, *, status: str = "triage", reference: str = "DR-TEST-0001"):
    request = Request(
        reference=reference,
        kind="access",
        status=status,
        first_name="Camille",
        last_name="Lefèvre",
        birth_date=date(1980, 5, 17),
        email="camille@example.org",
        email_normalized="camille@example.org",
        nir_encrypted=vault.encrypt("180057512345627"),
        details_encrypted=vault.encrypt("My records of 2019"),
        due_on=date(2026, 3, 12),
    )
    session.add(request)
    session.flush()
    return request


def test_an_unverified_request_is_not_a_case(app, session):
    """find_case answers None for an unknown reference and for an unverified request."""
    vault = services_of(app).vault
    _request(session, vault, status="unverified")
    assert case_page.find_case(session, "DR-TEST-0001") is None
    assert case_page.find_case(session, "DR-NONE") is None


def test_the_page_decrypts_names_and_counts(app, session):
    """Notes decrypted, NIR masked, views counted apart, Art. 19 notices left out."""
    vault = services_of(app).vault
    agent = add_staff(app, "agent@example.org", "agent")
    request = _request(session, vault)
    request.assignee_id = agent.id
    session.add(
        CaseNote(
            request_id=request.id,
            kind="note",
            author=agent.actor,
            body_encrypted=vault.encrypt("Called the hospital"),
            created_at=NOW,
        )
    )
    for action in ("case.viewed", "case.viewed", "case.claimed"):
        audit.record(session, actor=agent.actor, action=action, now=NOW, request_id=request.id)
    audit.record(session, actor="requester", action="x.answered", now=NOW, request_id=request.id)
    jobs.enqueue(
        session, jobs.SEND_EMAIL, now=NOW, request_id=request.id, payload={"template": "in_review"}
    )
    jobs.enqueue(
        session,
        jobs.SEND_EMAIL,
        now=NOW,
        request_id=request.id,
        payload={"template": "recipient_notice", "recipient_email": "dpo@example.org"},
    )
    session.flush()

    page = case_page.case_page(session, request, vault, now=NOW, named=NAMED)

    assert page.holder is not None and page.holder.email == "agent@example.org"
    assert page.preparer is None
    assert page.nir == "1 80 05 ** *** *** 27"
    assert page.details == "My records of 2019"
    assert [text for _, text in page.notes] == ["Called the hospital"]
    assert [e.action for e in page.audit_events] == ["case.claimed", "x.answered"]
    assert page.views == 2
    assert [job.payload for job in page.emails] == [{"template": "in_review"}]
    assert page.people == {agent.actor: "agent@example.org", "requester": "the requester"}
    assert page.days_left == 10


def test_people_show_unknown_actors_as_they_are(app, session):
    """An actor neither staff nor named keeps its code; a missing staff id too."""
    names = case_page.people(session, {"system:x", "staff:999", "staff:abc"}, NAMED)
    assert names == {"system:x": "system:x", "staff:999": "staff:999", "staff:abc": "staff:abc"}

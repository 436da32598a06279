"""Plans of requests made for someone else, stored and routed (SQLite or PostgreSQL).

The request rows are written as intake would leave them (``acts_as``,
``heir_reason``, ``subject_died_on`` set directly); ``route_request`` stores
the plan and moves the request on, in one transaction.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from app.casework import decisions
from app.casework.cases import REFUSAL_GROUNDS, CaseError
from app.demo.personas import PERSONAS
from app.extensions import db
from app.labels import ACTION_LABELS, REFUSAL_LABELS, STAFF_ACTION_LABELS
from app.models import Request, utcnow
from app.rules import plans
from app.rules.routing import NOT_ENTITLED, REFUSED_DURING_LIFE, SECRET, WITHHOLD
from app.services import services_of


def georges_request(app, *, kind: str, acts_as: str, reason: str | None, first="Georges"):
    person = next(p for p in PERSONAS if p.first_name == first)
    services = services_of(app)
    now = utcnow()
    with app.app_context():
        request = Request(
            reference=f"DSR-2026-{secrets.token_hex(3).upper()}",
            kind=kind,
            status="received",
            locale="fr",
            first_name=person.first_name,
            last_name=person.last_name,
            birth_date=person.birth_date,
            nir_encrypted=services.vault.encrypt(person.nir) if person.nir else None,
            email="claire.moreau@example.org",
            email_normalized="claire.moreau@example.org",
            created_at=now,
            verified_at=now,
            received_on=now.date(),
            due_on=now.date() + timedelta(days=30),
            acts_as=acts_as,
            heir_reason=reason,
            subject_died_on=person.died_on,
            relationship_proof="awaited",
            version=1,
        )
        db.session.add(request)
        db.session.commit()
        return request.id


def route(app, request_id: int) -> Request:
    services = services_of(app)
    with app.app_context():
        plans.route_request(db.session, request_id, services, now=utcnow())
        db.session.commit()
        request = db.session.get_one(Request, request_id)
        request.plan.lines
        db.session.expunge_all()
        return request


@pytest.mark.parametrize(
    ("first", "kind", "ground"),
    [("Georges", "erasure", NOT_ENTITLED), ("Simone", "access", REFUSED_DURING_LIFE)],
)
def test_a_plan_that_refuses_is_stored_and_goes_to_staff_to_be_refused(app, first, kind, ground):
    request_id = georges_request(
        app, kind=kind, acts_as="heir", reason="causes_of_death", first=first
    )
    request = route(app, request_id)
    assert request.status == "triage"
    assert request.plan.outcome == "refused"
    assert request.plan.review_reasons == [ground]
    assert request.plan.lines == []
    assert not request.has_retained
    # Nothing can carry it out: staff refuse it, with the plan's ground.
    with app.app_context():
        fresh = db.session.get_one(Request, request_id)
        with pytest.raises(CaseError, match="plan_refuses"):
            decisions.plan_settled(fresh, services_of(app).assurance)
    assert ground in REFUSAL_GROUNDS
    for locale in ("fr", "en"):
        with app.test_request_context(), force_locale(locale):
            assert str(REFUSAL_LABELS[ground])


def test_an_heirs_plan_stores_what_is_withheld(app):
    request_id = georges_request(app, kind="access", acts_as="heir", reason="causes_of_death")
    request = route(app, request_id)
    assert request.plan.outcome == "matched"
    actions = {(line.category, line.action) for line in request.plan.lines}
    assert ("hospital.medical_record", "disclose") in actions
    assert ("social_security.reimbursement", WITHHOLD) in actions
    assert not [a for a in actions if a[1] in ("erase", "retain")]
    with app.test_request_context():
        assert str(ACTION_LABELS[WITHHOLD]) and str(STAFF_ACTION_LABELS[SECRET])


def test_the_heirs_date_of_death_is_not_the_requesters(app):
    """The heir's stated date is kept on the request; the sources' date drives retention."""
    request_id = georges_request(app, kind="access", acts_as="partner", reason="assert_rights")
    with app.app_context():
        assert db.session.get_one(Request, request_id).subject_died_on == date(2019, 11, 3)


def test_staff_see_the_refusing_plan_and_refuse_it_with_its_ground(app):
    """The case page says why; approving the plan is impossible; the refusal goes through."""
    from tests.casework.test_cases import act, case_of
    from tests.staffkit import staff_client

    request_id = georges_request(app, kind="erasure", acts_as="heir", reason="defend_memory")
    route(app, request_id)
    reference = case_of(app, request_id).reference
    agent, _ = staff_client(app, "agent@example.org", "agent")
    dpo, _ = staff_client(app, "dpo@example.org", "dpo")
    page = agent.get(f"/staff/cases/{reference}?lang=en").get_data(as_text=True)
    assert "The plan refuses this request made for someone else" in page
    with app.test_request_context(), force_locale("en"):
        label = str(REFUSAL_LABELS[NOT_ENTITLED])
    assert label.split(" (")[0] in page
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "prepare-refusal", ground=NOT_ENTITLED).status_code == 303
    assert act(dpo, reference, "approve").status_code == 303
    case = case_of(app, request_id)
    assert case.status == "denied" and case.refusal_ground == NOT_ENTITLED


@pytest.mark.parametrize(("first", "kind"), [("Georges", "erasure"), ("Simone", "access")])
def test_the_requester_reads_the_relationships_reason_not_the_deceaseds_wish(app, first, kind):
    """A right not allowed: the relationship's refusal, at once (no source was read). A
    refusal during life: only that staff examine it, until a refusal is decided and sent."""
    from app import tokens

    request_id = georges_request(
        app, kind=kind, acts_as="heir", reason="assert_rights", first=first
    )
    route(app, request_id)
    services = services_of(app)
    with app.app_context():
        request = db.session.get_one(Request, request_id)
        request.assurance = "document"  # the plan is shown at this level
        # ... once the relationship is proven too (app.identity.relationship, h18p).
        request.relationship_proof = "accepted"
        _, value = tokens.create_link(db.session(), request_id, tokens.STATUS_PAGE, utcnow(), 3600)
        db.session.commit()
    client = app.test_client()
    client.get("/?lang=en")
    assert client.get(f"/s/{services.signer.sign(value, tokens.STATUS_PAGE)}").status_code == 303
    answer = client.get("/status")
    assert answer.status_code == 200
    page = " ".join(answer.get_data(as_text=True).split())
    assert "A member of our staff examines your request" in page
    heir = services.representation.of("heir").refusal.en
    if kind == "erasure":
        assert " ".join(heir.split()) in page
    else:
        assert heir not in page
        assert services.representation.text("refused_during_life").en not in page

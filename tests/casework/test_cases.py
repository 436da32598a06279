"""Staff decisions on cases, through the pages, with the real SMTP server.

Each test names one rule of issue 4 (claim, four eyes, refusals, questions,
extension, identity review, stale forms) and checks its effect on the
request, on the audit trail and in the requester's mailbox.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app import deadlines, intake
from app.casework import cases
from app.extensions import db
from app.labels import REFUSAL_LABELS
from app.models import AuditEvent, CaseNote, Request
from app.services import services_of
from tests.conftest import csrf_from, file_form, link_in, run_jobs, text_of
from tests.identity.kit import prove
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import Account, sign_in, staff_client

CAMILLE = "camille.lefevre@example.org"


def case_of(app: Flask, request_id: int) -> Request:
    with app.app_context():
        found = db.session.get(Request, request_id)
        assert found is not None
        db.session.expunge(found)
        db.session.remove()
        return found


# The button of the case page's third-party review that says it is done.
REVIEW_DONE = '<input type="hidden" name="action" value="done">'


def act(client: FlaskClient, reference: str, action: str, **data: Any) -> Any:
    """Open the case page and press one of its buttons, as a browser would.

    "approve" is pressed twice, as a person would: the case page's button shows
    what the approval will do, the confirmation page's button does it. Pass
    ``confirm`` to press only one of them.

    Before "approve", the holder's third-party review (letters and notes that may name
    other people, ``app.fulfilment.third_parties``) is said done when the page asks for
    it, as the holder would; pass ``_review=False`` to press "approve" without it.
    """
    page = client.get(f"/staff/cases/{reference}")
    assert page.status_code == 200, page.status_code
    if (
        action == "approve"
        and data.pop("_review", True)
        and REVIEW_DONE in page.get_data(as_text=True)
    ):
        done = {
            "csrf_token": csrf_from(page.data),
            "version": _version(page.get_data(as_text=True)),
            "action": "done",
        }
        answer = client.post(f"/staff/cases/{reference}/third-parties", data=done)
        assert answer.status_code == 303, answer.status_code
        page = client.get(f"/staff/cases/{reference}")
    fields = {"csrf_token": csrf_from(page.data), **data}
    if "version" not in fields:
        fields["version"] = _version(page.get_data(as_text=True))
    answer = client.post(f"/staff/cases/{reference}/{action}", data=fields)
    if action != "approve" or "confirm" in data or answer.status_code != 200:
        return answer
    html = answer.get_data(as_text=True)
    assert 'name="confirm" type="hidden" value="yes"' in html, html[:2000]
    confirmed = {**fields, "csrf_token": csrf_from(answer.data), "confirm": "yes"}
    return client.post(f"/staff/cases/{reference}/{action}", data=confirmed)


def _version(html: str) -> str:
    marker = 'name="version" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def subjects(smtp: Any, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp.received.to(address)]


def audit_actions(app: Flask, request_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.request_id == request_id)
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
        return [(a, b) for a, b in rows]


@pytest.fixture
def camille_erasure(smtp_app: Flask, smtp: Any) -> tuple[int, str]:
    """Camille's erasure, filed, confirmed and routed: in triage."""
    requester = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, requester, filing_for(persona("Camille")))
    case = case_of(smtp_app, request_id)
    assert case.status == "triage" and case.reference
    return request_id, case.reference


def test_agent_claims_prepares_and_a_dpo_approves_an_erasure(smtp_app, smtp, camille_erasure):
    """The issue's 'done when': each step reaches the requester's mailbox."""
    request_id, reference = camille_erasure
    agent, agent_account = staff_client(smtp_app, "agent@example.org", "agent")
    dpo, dpo_account = staff_client(smtp_app, "dpo@example.org", "dpo")

    assert act(agent, reference, "claim").status_code == 303
    claimed = case_of(smtp_app, request_id)
    assert claimed.status == "in_review" and claimed.assignee_id == agent_account.id

    # The agent cannot approve an erasure alone, not even their own case.
    assert act(agent, reference, "approve").status_code == 422
    assert act(agent, reference, "prepare-approval").status_code == 303
    prepared = case_of(smtp_app, request_id)
    assert prepared.pending_decision == "approve"
    assert prepared.prepared_by_id == agent_account.id
    assert act(agent, reference, "approve").status_code == 403

    assert act(dpo, reference, "approve").status_code == 303
    approved = case_of(smtp_app, request_id)
    assert approved.status == "approved" and approved.pending_decision is None

    run_jobs(smtp_app)
    mails = subjects(smtp, CAMILLE)
    assert any("est en cours d’examen" in s or "est en cours d'examen" in s for s in mails), mails
    # The approval is not written about: the completion, seconds later, says it.
    assert not any("a été approuvée" in s for s in mails), mails
    assert any("vos données ont été effacées" in s for s in mails), mails
    actions = audit_actions(smtp_app, request_id)
    assert (agent_account.actor, "case.claimed") in actions
    assert (agent_account.actor, "case.prepared") in actions
    assert (dpo_account.actor, "status.approved") in actions


def test_who_prepared_an_erasure_cannot_approve_it(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    first, _ = staff_client(smtp_app, "dpo1@example.org", "dpo")
    second, second_account = staff_client(smtp_app, "dpo2@example.org", "dpo")
    act(first, reference, "claim")
    assert act(first, reference, "prepare-approval").status_code == 303
    refused = act(first, reference, "approve")
    assert refused.status_code == 403
    assert "another data protection officer" in refused.get_data(as_text=True) or (
        "autre délégué" in refused.get_data(as_text=True)
    )
    assert case_of(smtp_app, request_id).status == "in_review"
    assert act(second, reference, "approve").status_code == 303
    assert case_of(smtp_app, request_id).status == "approved"
    with smtp_app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.request_id == request_id, AuditEvent.action == "status.approved"
            )
        )
        assert event is not None and event.actor == second_account.actor
        db.session.remove()


def test_a_withdrawal_drops_the_decision_prepared_for_the_dpo(smtp_app, smtp, camille_erasure):
    """The requester withdraws while an erasure waits for a DPO: the prepared decision goes
    with the case, the page offers no approval, and a DPO's approval is a clear refusal
    (was a 500: the case could not move from withdrawn to approved, bench/soak.py)."""
    request_id, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    act(agent, reference, "claim")
    assert act(agent, reference, "prepare-approval").status_code == 303
    with smtp_app.app_context():
        request = db.session.get(Request, request_id)
        intake.withdraw(
            db.session(), request, now=datetime.now(UTC), mail=services_of(smtp_app).mail
        )
        db.session.commit()
        db.session.remove()
    withdrawn = case_of(smtp_app, request_id)
    assert withdrawn.status == "withdrawn" and withdrawn.pending_decision is None
    page = dpo.get(f"/staff/cases/{reference}")
    assert f"/staff/cases/{reference}/approve" not in page.get_data(as_text=True)
    answer = dpo.post(
        f"/staff/cases/{reference}/approve",
        data={"csrf_token": csrf_from(page.data), "version": str(withdrawn.version)},
    )
    assert 400 <= answer.status_code < 500, answer.status_code
    assert case_of(smtp_app, request_id).status == "withdrawn"


ALL_GROUNDS = cases.REFUSAL_GROUNDS + cases.UNFOUNDED_GROUNDS


@pytest.mark.parametrize("ground", ALL_GROUNDS)
def test_every_refusal_email_carries_reasons_cnil_and_judicial_remedy(
    smtp_app, smtp, camille_erasure, ground
):
    request_id, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    if ground in cases.UNFOUNDED_GROUNDS:
        answer = act(
            dpo, reference, "unfounded", ground=ground, justification="Fifth identical request."
        )
        assert answer.status_code == 303
    else:
        act(agent, reference, "claim")
        assert act(agent, reference, "prepare-refusal", ground=ground).status_code == 303
        assert act(dpo, reference, "approve").status_code == 303
    case = case_of(smtp_app, request_id)
    assert case.status == "denied" and case.refusal_ground == ground
    run_jobs(smtp_app)
    refusal = [m for m in smtp.received.to(CAMILLE) if "notre décision" in str(m["Subject"])]
    assert len(refusal) == 1
    body = text_of(refusal[0])
    with smtp_app.test_request_context(), force_locale("fr"):
        reason = str(REFUSAL_LABELS[ground])
    assert " ".join(reason.split()) in " ".join(body.split())  # the reason, in French
    assert "CNIL" in body and "cnil.fr/fr/plaintes" in body  # the right to complain
    assert "recours juridictionnel" in body  # the right to a judicial remedy


def test_only_a_dpo_marks_a_request_unfounded(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    answer = agent.post(
        f"/staff/cases/{reference}/unfounded",
        data={
            "csrf_token": csrf_from(page.data),
            "version": _version(page.get_data(as_text=True)),
            "ground": "excessive",
            "justification": "x",
        },
    )
    assert answer.status_code == 403
    assert case_of(smtp_app, request_id).status == "triage"
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    empty = act(dpo, reference, "unfounded", ground="excessive", justification="   ")
    assert empty.status_code == 422
    assert case_of(smtp_app, request_id).status == "triage"


def test_a_stale_form_is_refused_and_names_who_changed_the_case(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    alice, _ = staff_client(smtp_app, "alice@example.org", "agent")
    bob, _ = staff_client(smtp_app, "bob@example.org", "agent")
    bob_page = bob.get(f"/staff/cases/{reference}")
    stale = {
        "csrf_token": csrf_from(bob_page.data),
        "version": _version(bob_page.get_data(as_text=True)),
    }
    assert act(alice, reference, "claim").status_code == 303
    answer = bob.post(f"/staff/cases/{reference}/claim", data=stale)
    assert answer.status_code == 409
    text = answer.get_data(as_text=True)
    assert "alice@example.org" in text
    with smtp_app.app_context():
        holder = db.session.scalar(select(Request.assignee_id).where(Request.id == request_id))
        alice_id = db.session.scalar(
            select(AuditEvent.actor).where(AuditEvent.action == "case.claimed")
        )
        db.session.remove()
    assert f"staff:{holder}" == alice_id


def test_an_agent_cannot_act_on_a_case_someone_else_holds(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    alice, _ = staff_client(smtp_app, "alice@example.org", "agent")
    bob, _ = staff_client(smtp_app, "bob@example.org", "agent")
    act(alice, reference, "claim")
    version = str(case_of(smtp_app, request_id).version)
    for action, data in (
        ("release", {}),
        ("prepare-approval", {}),
        ("extend", {"ground": "complexity"}),
        ("ask", {"kind": "information", "question": "Which hospital?"}),
    ):
        assert act(bob, reference, action, version=version, **data).status_code == 403, action
    case = case_of(smtp_app, request_id)
    assert case.status == "in_review" and case.pending_decision is None and not case.extended_on


def test_an_extension_after_the_first_month_is_refused(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    agent, account = staff_client(smtp_app, "agent@example.org", "agent")
    act(agent, reference, "claim")
    case = case_of(smtp_app, request_id)
    assert case.due_on is not None
    late = datetime.combine(case.due_on + timedelta(days=1), datetime.min.time(), UTC)
    late += timedelta(hours=10)
    with time_machine.travel(late, tick=False):
        sign_in(smtp_app, agent, account)
        answer = act(agent, reference, "extend", ground="complexity")
        assert answer.status_code == 422
        text = answer.get_data(as_text=True)
        assert "12(3)" in text and "premier mois" in text
    after = case_of(smtp_app, request_id)
    assert after.due_on == case.due_on and after.extended_on is None


def test_an_extension_in_time_moves_the_due_date_and_tells_why(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    act(agent, reference, "claim")
    assert act(agent, reference, "extend", ground="complexity").status_code == 303
    case = case_of(smtp_app, request_id)
    assert case.received_on is not None
    assert case.due_on == deadlines.due_date(case.received_on, extended=True)
    assert case.extended_on is not None and case.extension_ground == "complexity"
    # Once only.
    assert act(agent, reference, "extend", ground="complexity").status_code == 422
    run_jobs(smtp_app)
    extended = [m for m in smtp.received.to(CAMILLE) if "plus de temps" in str(m["Subject"])]
    assert len(extended) == 1
    body = " ".join(text_of(extended[0]).split())
    assert "votre demande est complexe" in body and "12(3)" in body


def test_the_requesters_answer_reaches_the_case_and_the_pause_is_counted(smtp_app, smtp):
    """A request for proof of identity stops the clock until the requester answers."""
    requester = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, requester, filing_for(persona("Camille")))
    reference = case_of(smtp_app, request_id).reference
    agent, account = staff_client(smtp_app, "agent@example.org", "agent")
    act(agent, reference, "claim")
    asked = act(
        agent, reference, "ask", kind="identity", question="Quel est votre second prénom ?"
    )
    assert asked.status_code == 303
    waiting = case_of(smtp_app, request_id)
    assert waiting.status == "awaiting_requester" and waiting.paused_at is not None
    due_before = waiting.due_on
    assert due_before is not None
    run_jobs(smtp_app)
    question_mail = [m for m in smtp.received.to(CAMILLE) if "besoin" in str(m["Subject"])][-1]
    assert "second prénom" not in text_of(question_mail)  # the question stays on the page

    later = datetime.now(UTC) + timedelta(days=6)
    with time_machine.travel(later, tick=False):
        fresh = smtp_app.test_client()
        fresh.get(link_in(question_mail))
        page = fresh.get("/status")
        assert "Quel est votre second prénom ?" in page.get_data(as_text=True)
        empty = fresh.post(
            "/status/answer", data={"csrf_token": csrf_from(page.data), "answer": " "}
        )
        assert empty.status_code == 422
        sent = fresh.post(
            "/status/answer",
            data={"csrf_token": csrf_from(page.data), "answer": "Marie, comme ma grand-mère."},
        )
        assert sent.status_code == 303
    answered = case_of(smtp_app, request_id)
    assert answered.status == "in_review" and answered.paused_at is None
    assert answered.paused_days == 6
    # The pause is inside the period; only its end moves to a working day.
    assert answered.received_on is not None
    assert answered.due_on == deadlines.due_date(answered.received_on, suspensions=(6,))
    with smtp_app.app_context():
        note = db.session.scalar(select(CaseNote).where(CaseNote.kind == "answer"))
        assert note is not None and "grand-mère" not in note.body_encrypted  # encrypted
        db.session.remove()
    sign_in(smtp_app, agent, account)
    case_page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "Marie, comme ma grand-mère." in case_page
    actions = [a for _, a in audit_actions(smtp_app, request_id)]
    assert "clock.paused" in actions and "clock.resumed" in actions


def test_a_shared_number_is_resolved_by_staff_confirming_the_identity(smtp_app, smtp):
    requester = smtp_app.test_client()
    request_id = file_and_route(smtp_app, smtp, requester, filing_for(persona("Karim"), "access"))
    case = case_of(smtp_app, request_id)
    assert case.status == "identity_review"
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    reference = case.reference
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "ce numéro de sécurité sociale est partagé avec une autre personne" in page
    assert act(agent, reference, "claim").status_code == 303
    assert act(agent, reference, "confirm-identity").status_code == 303
    resolved = case_of(smtp_app, request_id)
    assert resolved.status == "triage"
    with smtp_app.app_context():
        plan = db.session.get(Request, request_id).plan  # type: ignore[union-attr]
        assert plan is not None and plan.number == 2 and plan.outcome == "matched"
        db.session.remove()
    # The holder takes it on from triage.
    assert act(agent, reference, "claim").status_code == 303
    assert case_of(smtp_app, request_id).status == "in_review"


def source_reads(app: Flask, request_id: int) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        found = [
            (e.actor, e.details)
            for e in db.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.request_id == request_id, AuditEvent.action == "case.source_read"
                )
                .order_by(AuditEvent.id)
            )
        ]
        db.session.remove()
    return found


def test_comparing_the_plan_with_todays_sources_is_an_audit_event(smtp_app, smtp, camille_erasure):
    """The recompute page reads every source for the case: who did it is in the trail."""
    request_id, reference = camille_erasure
    agent, account = staff_client(smtp_app, "agent@example.org", "agent")
    assert source_reads(smtp_app, request_id) == []
    assert agent.get(f"/staff/cases/{reference}/recompute").status_code == 200
    assert agent.get(f"/staff/cases/{reference}/recompute").status_code == 200
    assert source_reads(smtp_app, request_id) == [
        (f"staff:{account.id}", {"screen": "recompute"}),
        (f"staff:{account.id}", {"screen": "recompute"}),
    ]


def test_confirming_an_identity_reads_the_sources_and_the_trail_says_so(smtp_app, smtp):
    """Confirmed or still ambiguous, the read of the sources is an audit event."""
    requester = smtp_app.test_client()
    karim = file_and_route(smtp_app, smtp, requester, filing_for(persona("Karim"), "access"))
    # Two Lucas Petit and no number: after the confirmation, two people still fit.
    lucas = file_and_route(
        smtp_app,
        smtp,
        smtp_app.test_client(),
        {**filing_for(persona("Lucas"), "access"), "nir": ""},
    )
    # No contact address tells the two Lucas Petit apart: a document comes first.
    assert case_of(smtp_app, lucas).status == "awaiting_identity"
    prove(smtp_app, lucas)
    agent, account = staff_client(smtp_app, "agent@example.org", "agent")
    for request_id, code in ((karim, 303), (lucas, 422)):
        case = case_of(smtp_app, request_id)
        assert case.status == "identity_review", case.status
        assert act(agent, case.reference, "claim").status_code == 303
        assert act(agent, case.reference, "confirm-identity").status_code == code
        assert source_reads(smtp_app, request_id) == [
            (f"staff:{account.id}", {"screen": "confirm_identity"})
        ]
    assert case_of(smtp_app, lucas).status == "identity_review"


def test_every_view_of_a_case_is_an_audit_event(smtp_app, smtp, camille_erasure):
    request_id, reference = camille_erasure
    agent, account = staff_client(smtp_app, "agent@example.org", "agent")
    agent.get(f"/staff/cases/{reference}")
    agent.get(f"/staff/cases/{reference}")
    views = [e for e in audit_actions(smtp_app, request_id) if e[1] == "case.viewed"]
    assert views == [(account.actor, "case.viewed")] * 2


def test_the_case_page_masks_the_number_and_shows_subjects_only(smtp_app, smtp, camille_erasure):
    _, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    run_jobs(smtp_app)
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "278057505612390" not in page
    assert "2 78 05 ** *** *** 90" in page  # masked: sex, year, month and key only
    assert "ce que nous avons trouvé" in page.lower()  # a sent email's subject
    assert "effacé" in page.lower() or "erase" in page.lower()


def test_an_unverified_request_is_not_a_case(smtp_app, smtp):
    requester = smtp_app.test_client()

    file_form(requester, filing_for(persona("Camille")))
    with smtp_app.app_context():
        reference = db.session.scalar(select(Request.reference))
        db.session.remove()
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    assert agent.get(f"/staff/cases/{reference}").status_code == 404


@pytest.mark.postgres
def test_twenty_people_claiming_at_once_give_one_holder(smtp_app, smtp, camille_erasure):
    """On PostgreSQL, 20 threads claim the same case at the same instant: one wins."""
    import threading

    from app.models import StaffUser
    from tests.staffkit import add_staff

    request_id, _ = camille_erasure
    accounts = [add_staff(smtp_app, f"agent{i}@example.org", "agent") for i in range(20)]
    # One connection per person, as 20 web workers would have: the app's pool is smaller.
    engine = create_engine(smtp_app.config["SQLALCHEMY_DATABASE_URI"], pool_size=20)
    barrier = threading.Barrier(20, timeout=60)
    outcomes: list[str] = []
    lock = threading.Lock()
    mail = services_of(smtp_app).mail

    def claim(account: Account) -> None:
        with Session(engine) as session:
            staff = session.get(StaffUser, account.id)
            case = session.get(Request, request_id)
            assert staff is not None and case is not None
            version = case.version
            barrier.wait()
            try:
                cases.claim(
                    session, case, staff, version=version, now=datetime.now(UTC), mail=mail
                )
                session.commit()
                result = "won"
            except Exception as error:  # StaleRequest expected for 19 of them
                session.rollback()
                result = type(error).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(a,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert outcomes.count("won") == 1, outcomes
    assert set(outcomes) == {"won", "StaleRequest"}
    case = case_of(smtp_app, request_id)
    assert case.status == "in_review" and case.assignee_id in {a.id for a in accounts}
    with smtp_app.app_context():
        claims = db.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "case.claimed")
        ).all()
        db.session.remove()
    assert claims == [f"staff:{case.assignee_id}"]


def test_the_case_page_follows_the_work_and_names_who_approves_and_who_prepared(
    smtp_app, smtp, camille_erasure
):
    """Sections in the order of the work; an agent reads that a DPO will approve; the DPO's
    send-back button names the preparer."""
    _, reference = camille_erasure
    agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
    dpo, _ = staff_client(smtp_app, "dpo@example.org", "dpo")
    act(agent, reference, "claim")
    page = BeautifulSoup(agent.get(f"/staff/cases/{reference}?lang=en").data, "html.parser")
    ids = [h["id"] for h in page.select("h2[id]")]
    assert ids[:3] == ["asked", "requester", "plan"]
    assert ids.index("decisions") < ids.index("history") == len(ids) - 1
    prepare = page.select_one("form[action$='/prepare-approval']").get_text(" ", strip=True)
    assert "A data protection officer will approve it." in prepare
    assert act(agent, reference, "prepare-approval").status_code == 303
    waiting = agent.get(f"/staff/cases/{reference}?lang=en").get_data(as_text=True)
    assert "A data protection officer will approve it. Until then nothing is sent or erased." in (
        waiting
    )
    as_dpo = BeautifulSoup(dpo.get(f"/staff/cases/{reference}?lang=en").data, "html.parser")
    button = as_dpo.select_one("form[action$='/send-back'] button").get_text(strip=True)
    assert button == "Send back to the preparer, agent@example.org"

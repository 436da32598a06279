"""Issue 18's "done when", end to end over HTTP and a real SMTP conversation.

Claire Moreau (born 1976-07-09) asks, as his heir, for her late father's record
to know the causes of his death. Georges Moreau (born 1948-02-19, died
2019-11-03) is a persona of the demo warehouse (docs/demo.md). Under a frozen
clock: she files, confirms her address, proves her own identity with a
document an agent accepts, sends the death certificate and the proof of being
an heir from her status page; the agent accepts both on the case page; the
plan discloses only the hospital medical record and withholds the rest
(neither sent nor erased); the agent approves; the package is held for the 48
hours of reflection (CSP L.1111-7), then released within the 8 days, holding
only the allowed category.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import select

from app import deadlines
from app.extensions import db
from app.fulfilment import package_download
from app.models import AccessPackage, AuditEvent, Request
from app.rules.routing import WITHHOLD
from app.services import services_of
from tests.casework.test_cases import act, case_of
from tests.conftest import birth_parts, csrf_from, file_form, link_in, run_jobs, text_of
from tests.fulfilment.test_erasure import copy_of, dump, warehouse_app
from tests.identity import files
from tests.identity.kit import upload
from tests.representation.kit import decide_all, forms_for, send_proof
from tests.staffkit import Account, add_staff, sign_in

CLAIRE = "claire.moreau@example.org"
CLAIRE_BORN = "1976-07-09"
GEORGES = {
    "kind": "access",
    "for_whom": "other",
    "acts_as": "heir",
    "heir_reason": "causes_of_death",
    "first_name": "Georges",
    "last_name": "Moreau",
    **birth_parts("1948-02-19"),
    **birth_parts("2019-11-03", "died_on"),
    "nir": "148024900721553",
    "details": "",
    "requester_first_name": "Claire",
    "requester_last_name": "Moreau",
    **birth_parts(CLAIRE_BORN, "requester_birth_date"),
    "email": CLAIRE,
}
SENT = {"hospital.medical_record"}
WITHHELD = {
    "hospital.transfusion",
    "social_security.reimbursement",
    "pharmacy.prescription",
    "lab.result",
}


def _monday_after(day: date) -> datetime:
    """09:00 UTC (10:00 in Paris) on the first Monday after ``day``: a working week ahead.

    The demo warehouse counts its dates back from the day the test session
    starts, so the frozen clock stays close to it.
    """
    ahead = 7 - day.weekday() or 7
    start = day + timedelta(days=ahead)
    return datetime(start.year, start.month, start.day, 9, 0, tzinfo=UTC)


FILED = _monday_after(datetime.now(UTC).date())


def _signed_in(app, account: Account):
    """A staff browser signed in now (the frozen clock's now)."""
    browser = app.test_client()
    sign_in(app, browser, account)
    return browser


def _status(client, smtp=None) -> str:
    """The status page; with ``smtp``, opened again from the latest emailed status link
    (a status session ends after 30 minutes without use)."""
    if smtp is not None:
        with_link = [m for m in smtp.received.to(CLAIRE) if "/s/" in text_of(m)]
        assert client.get(link_in(with_link[-1])).status_code == 303
    page = client.get("/status")
    assert page.status_code == 200
    return " ".join(page.get_data(as_text=True).split())


def _shown(page: str) -> str:
    """The status the summary of the status page names."""
    found = re.search(r"<dt>Statut</dt>\s*<dd><strong>([^<]*)</strong>", page)
    assert found is not None
    return found.group(1)


def _subjects(smtp) -> list[str]:
    return [str(m["Subject"]) for m in smtp.received.to(CLAIRE)]


def _ready(smtp) -> list:
    return [m for m in smtp.received.to(CLAIRE) if "prêtes à être téléchargées" in m["Subject"]]


def _request(app) -> Request:
    with app.app_context():
        found = db.session.scalar(select(Request).where(Request.email == CLAIRE))
        assert found is not None
        db.session.expunge_all()
        db.session.remove()
    return found


def _plan_lines(app, request_id: int) -> dict[str, str]:
    with app.app_context():
        request = db.session.get(Request, request_id)
        assert request is not None and request.plan is not None
        lines = {line.category: line.action for line in request.plan.lines}
        db.session.remove()
    return lines


def _actions(app, request_id: int) -> list[str]:
    with app.app_context():
        found = db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.request_id == request_id)
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
    return list(found)


def test_claire_receives_only_what_the_causes_of_death_allow_after_48_hours(
    make_app, smtp, warehouse, tmp_path
):
    copy = copy_of(warehouse, tmp_path / "warehouse.sqlite3")
    app = warehouse_app(make_app, copy, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    before = dump(copy)
    client = app.test_client()

    # 1. Filed and confirmed: received, then waiting for her identity and her proofs.
    with time_machine.travel(FILED, tick=False):
        assert file_form(client, GEORGES).status_code == 303
        assert run_jobs(app) == 1
        [verification] = smtp.received.to(CLAIRE)
        path = link_in(verification)
        confirmed = client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
        assert confirmed.headers["Location"] == "/status"
        run_jobs(app)
    filed = _request(app)
    reference = str(filed.reference)
    assert (filed.acts_as, filed.heir_reason) == ("heir", "causes_of_death")
    assert filed.subject_died_on == date(2019, 11, 3)
    assert (filed.first_name, filed.last_name) == ("Georges", "Moreau")
    with app.app_context():
        own = json.loads(services_of(app).vault.decrypt(filed.requester_encrypted))
        db.session.remove()
    assert own == {"first_name": "Claire", "last_name": "Moreau", "birth_date": CLAIRE_BORN}
    assert filed.status == "awaiting_identity" and filed.relationship_proof == "awaited"
    assert filed.verified_at == FILED
    assert filed.assurance == "email"
    with time_machine.travel(FILED + timedelta(minutes=5), tick=False):
        page = _status(client)
    assert "Prouvez votre lien avec la personne" in page
    assert "Ce que nous avons trouvé" not in page  # nothing said about Georges yet

    # 2. Her own identity: a document sent from the status page, accepted by an agent.
    with time_machine.travel(FILED + timedelta(minutes=30), tick=False):
        account = add_staff(app, "agent@example.org", "agent")
        agent = _signed_in(app, account)
        assert upload(client, files.png(), "identite.png", "image/png").status_code == 303
        page = agent.get(f"/staff/cases/{reference}")
        action = f"/staff/cases/{reference}/identity-document/accept"
        [fields] = forms_for(page.data, action)
        assert agent.post(action, data=fields).status_code == 303
        run_jobs(app)
    proven = _request(app)
    assert proven.assurance == "document"
    # Her identity is proven; the relationship is not yet: still nothing disclosed.
    assert proven.status == "awaiting_identity" and proven.relationship_proof == "awaited"
    with time_machine.travel(FILED + timedelta(minutes=35), tick=False):
        page = _status(client)
    assert _shown(page) == "En attente des justificatifs du lien avec la personne"
    # The history keeps what the wait was for when it began: her identity, then.
    assert page.count("En attente de la preuve de votre identité") == 1
    assert "Ce que nous avons trouvé" not in page

    # 3. The death certificate and the proof of being an heir, from the status page.
    with time_machine.travel(FILED + timedelta(hours=1), tick=False):
        agent = _signed_in(app, account)
        assert send_proof(client, "death_certificate").status_code == 303
        assert _request(app).relationship_proof == "awaited"
        assert send_proof(client, "heir_proof").status_code == 303
        assert _request(app).relationship_proof == "submitted"
        # 4. The agent accepts both on the case page; the request is routed.
        case_page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
        assert "Claire Moreau" in case_page
        assert decide_all(agent, reference, accept=True) == 2
        run_jobs(app)
    routed = _request(app)
    assert routed.relationship_proof == "accepted"
    assert routed.status == "triage", routed.status
    lines = _plan_lines(app, routed.id)
    assert {c for c, a in lines.items() if a == "disclose"} == SENT
    assert {c for c, a in lines.items() if a == WITHHOLD} == WITHHELD
    assert "erase" not in lines.values()
    # The 48 hours of reflection run from receipt. His last stay ended in 2019: every
    # record is more than five years old, L.1111-7 gives two months, so the GDPR's month,
    # the stricter, stays the due date; the release at 48 hours is well within 8 days.
    assert routed.release_not_before == FILED + timedelta(hours=48)
    assert routed.received_on == FILED.date() and routed.due_on is not None
    assert routed.due_on == deadlines.due_date(routed.received_on)
    assert routed.release_not_before <= FILED + timedelta(days=8)
    with time_machine.travel(FILED + timedelta(hours=1, minutes=5), tick=False):
        page = _status(client)
    assert "Ce que nous avons trouvé" in page and "48 heures" in page
    # The withheld kinds are listed as not sent and not erased, with why.
    assert "ne servent pas le motif que vous avez indiqué" in page
    assert "elles ne sont pas effacées" in page

    # 5. The agent claims and approves (an access needs no second approval).
    with time_machine.travel(FILED + timedelta(hours=2), tick=False):
        agent = _signed_in(app, account)
        assert act(agent, reference, "claim").status_code == 303
        case_page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
        assert "délai de réflexion de 48 heures" in case_page
        assert act(agent, reference, "approve").status_code == 303
        approved = case_of(app, routed.id)
        if approved.status == "awaiting_approval":  # four eyes, should a policy ask for it
            dpo = _signed_in(app, add_staff(app, "dpo@example.org", "dpo"))
            assert act(dpo, reference, "approve").status_code == 303
        run_jobs(app)
    held = case_of(app, routed.id)
    assert held.status == "fulfilling"
    with app.app_context():
        package = db.session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == routed.id)
        )
        assert package is not None
        assert package.json_encrypted is not None and package.ready_at is None
        assert package_download.availability(package, FILED + timedelta(hours=2), 5) == "missing"
        db.session.remove()

    # 6. Not before 48 hours: no email, no link.
    with time_machine.travel(FILED + timedelta(hours=47, minutes=59), tick=False):
        run_jobs(app)
        assert _ready(smtp) == [], _subjects(smtp)
        assert case_of(app, routed.id).status == "fulfilling"
        held_page = _status(client, smtp)
        assert "délai de réflexion" in held_page and "/download" not in held_page

    # 7. At 48 hours: the link, within the 8 days; the package holds the record only.
    with time_machine.travel(FILED + timedelta(hours=48), tick=False):
        run_jobs(app)
        done = case_of(app, routed.id)
        assert done.status == "completed"
        [ready] = _ready(smtp)
        body = text_of(ready)
        for secret in ("Georges", "Claire", "Moreau", "médical", "medical", "1948"):
            assert secret not in body and secret not in str(ready["Subject"])
        reader = app.test_client()
        link = link_in(ready)
        shown = reader.get(link)
        answer = reader.post(
            link, data={"csrf_token": csrf_from(shown.data), **birth_parts(CLAIRE_BORN)}
        )
        assert answer.headers["Location"] == "/download"
        contents = reader.get("/download/file/json")
        assert contents.status_code == 200
        document = contents.get_data(as_text=True)
        html = reader.get("/download/file/html").get_data(as_text=True)
    assert done.due_on is not None and (FILED + timedelta(hours=48)).date() <= done.due_on
    assert "Choc cardiogénique" in document  # the cause of death, in the record
    for absent in ("Furosémide", "Peptide natriurétique", "Concentré de globules rouges"):
        assert absent not in document and absent not in html
    with app.app_context():
        built = db.session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == routed.id)
        )
        assert built is not None
        assert built.ready_at == FILED + timedelta(hours=48)
        db.session.remove()
    parsed = json.loads(document)
    assert _categories(parsed) == SENT, _categories(parsed)

    # Nothing of Georges's was erased or changed: his reimbursements are where they were.
    assert dump(copy) == before
    actions = _actions(app, routed.id)
    for expected in (
        "relationship.accepted",
        "identity.document_accepted",
        "package.held",
        "package.released",
    ):
        assert expected in actions, actions
    assert not any(a.startswith("erasure.") for a in actions)


def _categories(document: object) -> set[str]:
    """Every catalogue category a package document names (its "category" keys)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "category" and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return found

"""Staff check the identity document on the case page: shown inline, then decided and deleted."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlalchemy import select

from app.extensions import db
from app.models import Job, Request
from tests.conftest import run_jobs, text_of
from tests.identity import files
from tests.identity.kit import (
    count_documents,
    documents,
    events,
    requester,
    upload,
    waiting_request,
)
from tests.staffkit import mail_to, staff_client


def _with_document(app, data=None, **request):
    request_id, reference = waiting_request(app, **request)
    assert upload(requester(app, request_id), data or files.png()).status_code == 303
    [document] = [d for d in documents(app) if d.request_id == request_id]
    return request_id, reference, document


def _case_form(page: bytes, action: str) -> dict[str, str]:
    soup = BeautifulSoup(page, "html.parser")
    form = soup.find("form", attrs={"action": action})
    assert form is not None, f"no form for {action}"
    return {
        str(i["name"]): str(i.get("value", "")) for i in form.find_all("input") if i.get("name")
    }


def test_the_case_page_shows_the_document_inline_from_a_staff_only_route(app):
    """An <img> for a picture, an <iframe> for a PDF, both from the audited route."""
    request_id, reference, document = _with_document(app)
    agent, account = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    assert page.status_code == 200
    source = f"/staff/cases/{reference}/identity-document/{document.id}"
    soup = BeautifulSoup(page.data, "html.parser")
    assert soup.find("img", attrs={"src": source}) is not None
    shown = agent.get(source)
    assert shown.status_code == 200
    assert shown.mimetype == "image/png" and shown.data.startswith(b"\x89PNG")
    assert shown.headers["Content-Disposition"] == "inline"
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    csp = shown.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert shown.headers["X-Frame-Options"] == "SAMEORIGIN"
    [viewed] = [e for e in events(app, request_id) if e.action == "identity.document_viewed"]
    assert viewed.actor == account.actor
    assert viewed.details == {"document": document.id, "media_type": "image/png"}


def test_a_pdf_is_framed_and_every_view_is_audited(app):
    """Two views, two events; the requester and strangers cannot open it."""
    request_id, reference, document = _with_document(app, files.pdf())
    agent, _ = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    source = f"/staff/cases/{reference}/identity-document/{document.id}"
    assert BeautifulSoup(page.data, "html.parser").find("iframe", attrs={"src": source})
    for _ in range(2):
        assert agent.get(source).mimetype == "application/pdf"
    assert [e.action for e in events(app, request_id)].count("identity.document_viewed") == 2
    # Signed out: the staff guard; the requester's session opens no staff page.
    assert app.test_client().get(source).status_code in (302, 303, 401, 403)
    assert requester(app, request_id).get(source).status_code in (302, 303, 401, 403)
    admin, _ = staff_client(app, "admin@example.org", "admin")
    assert admin.get(source).status_code == 403
    # Another case's reference does not open this document.
    _, other, _ = _with_document(app)
    assert agent.get(f"/staff/cases/{other}/identity-document/{document.id}").status_code == 404


def test_accepting_raises_the_level_routes_again_and_deletes_the_file(app):
    """Accepted: level ``document`` by this agent, back to routing, no row, the audit kept."""
    request_id, reference, _document = _with_document(app)
    agent, account = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    action = f"/staff/cases/{reference}/identity-document/accept"
    answer = agent.post(action, data=_case_form(page.data, action))
    assert answer.status_code == 303, answer.data[:300]
    assert count_documents(app) == 0
    with app.app_context():
        case = db.session.get(Request, request_id)
        assert case.assurance == "document" and case.assurance_by == account.actor
        assert case.status == "received" and case.paused_at is None
        assert db.session.scalar(select(Job).where(Job.kind == "route", Job.request_id == case.id))
        db.session.remove()
    actions = [(e.action, e.actor) for e in events(app, request_id)]
    assert ("identity.document_accepted", account.actor) in actions
    assert ("identity.assurance", account.actor) in actions
    accepted = next(e for e in events(app, request_id) if e.action == "identity.document_accepted")
    assert accepted.details == {"media_type": "image/png"}
    run_jobs(app)
    with app.app_context():
        assert db.session.get(Request, request_id).status != "awaiting_identity"
        db.session.remove()
    # The page no longer shows a document, nor a route to it.
    assert "identity-document/" not in agent.get(f"/staff/cases/{reference}").get_data(
        as_text=True
    )


def test_asking_for_another_emails_the_reason_and_deletes_the_file(app):
    """Refused: an email with the reason and the status link, no row, a new upload possible."""
    request_id, reference, _document = _with_document(app)
    agent, account = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    action = f"/staff/cases/{reference}/identity-document/refuse"
    answer = agent.post(action, data={**_case_form(page.data, action), "reason": "expired"})
    assert answer.status_code == 303, answer.data[:300]
    assert count_documents(app) == 0
    [refused] = [e for e in events(app, request_id) if e.action == "identity.document_refused"]
    assert refused.actor == account.actor
    assert refused.details == {"media_type": "image/png", "reason": "expired"}
    with app.app_context():
        case = db.session.get(Request, request_id)
        assert case.status == "awaiting_identity" and case.assurance == "email"
        db.session.remove()
    [mail] = mail_to(app, "jeanne.essai@example.org", "autre pièce d’identité")
    body = text_of(mail)
    assert "le document n’est plus valide" in body
    assert "/s/" in body  # the status link
    assert "Essai" not in body and "1970" not in body
    # The status page says why, and takes another document.
    client = requester(app, request_id)
    status = client.get("/status").get_data(as_text=True)
    assert "Nous n’avons pas pu accepter le document que vous avez envoyé" in status
    assert upload(client, files.jpeg()).status_code == 303
    assert count_documents(app) == 1


def test_a_decision_on_a_stale_page_or_a_gone_document_changes_nothing(app):
    """The case's version and the document's id are checked: 409, then 422, nothing written."""
    request_id, reference, document = _with_document(app)
    agent, _ = staff_client(app, "agent@example.org", "agent")
    other, _ = staff_client(app, "other@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    accept = f"/staff/cases/{reference}/identity-document/accept"
    refuse = f"/staff/cases/{reference}/identity-document/refuse"
    stale = _case_form(page.data, refuse)
    # Someone else asks for another one first.
    first = other.post(
        refuse,
        data={
            **_case_form(other.get(f"/staff/cases/{reference}").data, refuse),
            "reason": "unreadable",
        },
    )
    assert first.status_code == 303
    assert agent.post(refuse, data={**stale, "reason": "expired"}).status_code == 409
    fresh = _case_form(
        agent.get(f"/staff/cases/{reference}").data, "/staff/cases/" + reference + "/claim"
    )
    again = agent.post(accept, data={**fresh, "document_id": str(document.id)})
    assert again.status_code == 422
    assert "n’est plus en attente" in again.get_data(as_text=True)
    assert [e.action for e in events(app, request_id)].count("identity.document_refused") == 1


def test_an_unknown_reason_is_refused(app):
    """Only the fixed list of reasons."""
    _, reference, _ = _with_document(app)
    agent, _ = staff_client(app, "agent@example.org", "agent")
    action = f"/staff/cases/{reference}/identity-document/refuse"
    page = agent.get(f"/staff/cases/{reference}")
    answer = agent.post(action, data={**_case_form(page.data, action), "reason": "ugly"})
    assert answer.status_code == 422
    assert count_documents(app) == 1


def test_a_disputed_request_cannot_be_raised_by_a_document(app):
    """Once the person on file said "not me", the document can only be deleted, with no email."""
    request_id, reference, _ = _with_document(app)
    with app.app_context():
        case = db.session.get(Request, request_id)
        case.disputed_at = case.created_at
        case.status = "identity_review"
        db.session.commit()
        db.session.remove()
    agent, _ = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}")
    text = page.get_data(as_text=True)
    assert "/identity-document/accept" not in text
    refuse = f"/staff/cases/{reference}/identity-document/refuse"
    answer = agent.post(refuse, data={**_case_form(page.data, refuse), "reason": "other_person"})
    assert answer.status_code == 303
    assert count_documents(app) == 0
    assert mail_to(app, "jeanne.essai@example.org", "autre pièce") == []
    with app.app_context():
        assert db.session.get(Request, request_id).assurance == "email"
        db.session.remove()

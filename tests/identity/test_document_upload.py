"""The identity document upload on the status page, over HTTP: each refusal changes nothing."""

from __future__ import annotations

import io

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.extensions import db
from app.models import IdentityDocument
from app.public.document_views import PortalRequest
from app.services import services_of
from tests.conftest import csrf_from
from tests.identity import files
from tests.identity.kit import (
    UPLOAD,
    count_documents,
    events,
    requester,
    upload,
    waiting_request,
)


def error_of(page: bytes) -> str:
    soup = BeautifulSoup(page, "html.parser")
    found = soup.select_one("#document-error")
    assert found is not None, "no error message by the file field"
    return found.get_text(" ", strip=True)


def files_under(path) -> set[str]:
    return {str(p) for p in path.rglob("*") if p.is_file()}


def test_the_form_is_on_the_page_of_a_request_waiting_for_identity(app):
    """Below the level, the status page offers the upload, with its limits."""
    request_id, _ = waiting_request(app)
    page = requester(app, request_id).get("/status")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in text
    assert "Envoyer une pièce d’identité" in text or "pièce d'identité" in text.lower()
    assert "5 Mo" in text


CASES = [
    ("empty", b"", "identite.pdf", "application/pdf", "Le fichier choisi est vide."),
    (
        "wrong type renamed .pdf",
        files.HTML,
        "identite.pdf",
        "application/pdf",
        "Le fichier choisi doit être un PDF, un JPG ou un PNG.",
    ),
    (
        "pdf with javascript",
        files.pdf_with_javascript(),
        "identite.pdf",
        "application/pdf",
        "contient un script",
    ),
    (
        "pdf with an attachment",
        files.pdf_with_attachment(),
        "identite.pdf",
        "application/pdf",
        "contient des fichiers joints",
    ),
    (
        "broken pdf",
        b"%PDF-1.7 not really",
        "identite.pdf",
        "application/pdf",
        "ne peut pas être ouvert",
    ),
]


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_refused_file_gets_its_message_and_leaves_no_row_and_no_file(
    app, tmp_path, data, filename, content_type, message
):
    """Each refusal re-shows the page (422) with one message by the field; nothing is kept."""
    request_id, _ = waiting_request(app)
    client = requester(app, request_id)
    before = files_under(tmp_path)
    answer = upload(client, data, filename, content_type)
    assert answer.status_code == 422
    assert message in error_of(answer.data)
    assert count_documents(app) == 0
    assert events(app, request_id, "identity.document") == []
    assert files_under(tmp_path) == before


def test_a_file_over_the_configured_limit_is_refused(make_app):
    """Over IDENTITY_DOCUMENT_MAX_BYTES but within the body limit: the same message."""
    app = make_app(IDENTITY_DOCUMENT_MAX_BYTES=1024 * 1024)
    request_id, _ = waiting_request(app)
    answer = upload(requester(app, request_id), b"%PDF-1.7\n" + b"0" * (1024 * 1024))
    assert answer.status_code == 422
    assert "Le fichier choisi doit faire moins de 1 Mo." in error_of(answer.data)
    assert count_documents(app) == 0


def test_an_oversized_body_gets_the_same_clear_page_not_a_bare_413(make_app):
    """Beyond the body limit the form is never parsed; the page still explains, in English too."""
    app = make_app(IDENTITY_DOCUMENT_MAX_BYTES=256 * 1024)
    request_id, _ = waiting_request(app, locale="en")
    client = requester(app, request_id)
    answer = upload(client, b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024))
    assert answer.status_code == 413
    # The page's language is French until the browser asks for another.
    assert "Le fichier choisi doit faire moins de" in error_of(answer.data)
    english = client.get("/status?lang=en")
    assert english.status_code == 200
    answer = client.post(
        UPLOAD + "?lang=en",
        data={
            "csrf_token": csrf_from(english.data),
            "document": (io.BytesIO(b"0" * (2 * 1024 * 1024)), "big.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 413
    assert "The selected file must be smaller than" in error_of(answer.data)
    assert count_documents(app) == 0


def test_no_file_chosen_asks_for_one(app):
    """Sending the form without a file."""
    request_id, _ = waiting_request(app)
    client = requester(app, request_id)
    page = client.get("/status")
    answer = client.post(
        UPLOAD, data={"csrf_token": csrf_from(page.data)}, content_type="multipart/form-data"
    )
    assert answer.status_code == 422
    assert "Choisissez le fichier de votre pièce d’identité." in error_of(answer.data)


@pytest.mark.parametrize(
    ("data", "kind"),
    [(files.pdf(), "application/pdf"), (files.jpeg(), "image/jpeg"), (files.png(), "image/png")],
    ids=["pdf", "jpeg", "png"],
)
def test_a_valid_document_is_stored_encrypted_and_the_page_says_it_waits(app, data, kind):
    """Accepted: one row, its type from the content, its bytes only as a Fernet token."""
    request_id, _ = waiting_request(app)
    client = requester(app, request_id)
    # A browser's header and the name say nothing: the content decides.
    answer = upload(client, data, "scan.bin", "application/octet-stream")
    assert answer.status_code == 303
    page = client.get("/status").get_data(as_text=True)
    assert "Votre document attend d’être vérifié." in page
    assert "<form" not in page.split('id="identity-document"')[1].split("</div>")[0]
    with app.app_context():
        stored = db.session.scalars(select(IdentityDocument)).one()
        assert stored.media_type == kind and stored.request_id == request_id
        assert stored.content_encrypted.startswith(b"gAAAAA")  # a Fernet token
        assert data[:16] not in stored.content_encrypted
        plain = services_of(app).vault.decrypt_bytes(stored.content_encrypted)
        assert plain[:4] == data[:4] and len(plain) == stored.size
        db.session.remove()
    [event] = events(app, request_id, "identity.document")
    assert event.action == "identity.document_received" and event.actor == "requester"
    assert event.details == {"media_type": kind, "size": len(plain)}


def test_a_second_upload_while_one_waits_is_refused(app):
    """One document waits at a time: the second is refused with a clear message."""
    request_id, _ = waiting_request(app)
    client = requester(app, request_id)
    assert upload(client, files.png()).status_code == 303
    assert 'action="/status/identity-document"' not in client.get("/status").get_data(as_text=True)
    # The form is gone; a forged second POST is still refused (the token of the same session).
    page = client.get("/")
    answer = client.post(
        UPLOAD,
        data={"csrf_token": csrf_from(page.data), "document": (io.BytesIO(files.pdf()), "b.pdf")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    assert "Nous avons déjà un document de vous" in answer.get_data(as_text=True)
    assert count_documents(app) == 1


def test_no_upload_without_a_status_session_or_once_proof_is_no_longer_taken(app):
    """Without the session nothing is read; a closed request takes no document."""
    anonymous = app.test_client()
    assert anonymous.post(UPLOAD, data={}).status_code in (303, 400)
    request_id, _ = waiting_request(app, status="withdrawn")
    page = requester(app, request_id).get("/status").get_data(as_text=True)
    assert 'action="/status/identity-document"' not in page
    client = requester(app, request_id)
    answer = client.post(
        UPLOAD,
        data={
            "csrf_token": csrf_from(client.get("/").data),
            "document": (io.BytesIO(files.png()), "a.png"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    assert count_documents(app) == 0


def test_uploads_are_rate_limited(make_app):
    """Past RATELIMIT_DOCUMENT, the next upload gets a 429 and stores nothing."""
    app = make_app(RATELIMIT_DOCUMENT="2 per hour")
    request_id, _ = waiting_request(app)
    client = requester(app, request_id)
    for _ in range(2):
        assert upload(client, b"").status_code == 422
    assert upload(client, files.png()).status_code == 429
    assert count_documents(app) == 0


def test_an_uploaded_file_is_kept_in_memory_never_in_a_temporary_file(app):
    """The request class gives file parts a BytesIO, and the upload route its own body limit."""
    assert app.request_class is PortalRequest
    with app.test_request_context("/status/identity-document", method="POST"):
        from flask import request

        assert isinstance(request._get_file_stream(10**7, "application/pdf"), io.BytesIO)
        assert request.max_content_length == app.config["IDENTITY_DOCUMENT_MAX_BYTES"] + 64 * 1024
    with app.test_request_context("/", method="POST"):
        from flask import request

        assert request.max_content_length == app.config["MAX_CONTENT_LENGTH"]

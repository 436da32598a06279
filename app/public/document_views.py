"""The requester sends an identity document from the status page.

One POST, from the status session only: the file is read into memory (never
to a temporary file: ``PortalRequest``), checked and rebuilt by
``app.identity.documents``, stored encrypted, and the page then says it waits
for a check. A refused file re-shows the status page with one message and
changes nothing; so does a body larger than the upload may be (413), which
would otherwise be a bare error page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from flask import Request, current_app, flash, g, redirect, url_for
from flask import request as http
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from app import lifecycle
from app.errors import render_error
from app.extensions import db, limiter
from app.identity import documents, relationship
from app.models import IdentityDocument, utcnow
from app.models import Request as PortalCase
from app.public.forms import AnswerForm, DocumentForm, ProofForm
from app.public.routes import _followed_request, _status_page, bp
from app.services import services_of

ENDPOINT = "public.document_upload"
# The proofs of a relationship are sent through the same upload (app.identity.relationship).
PROOF_ENDPOINT = "public.relationship_proof_upload"
UPLOADS = frozenset({ENDPOINT, PROOF_ENDPOINT})
# The multipart envelope and the CSRF token around the file.
ENVELOPE = 64 * 1024
MESSAGES = {
    "empty": _l("The selected file is empty."),
    "too_large": _l("The selected file must be smaller than %(size)s."),
    "wrong_type": _l("The selected file must be a PDF, JPG or PNG."),
    "unreadable": _l(
        "The selected file cannot be opened: it may be damaged. Choose another file, or "
        "take a new photo of the document."
    ),
    "too_many_pixels": _l(
        "The selected picture is too large to be checked: take the photo at a lower "
        "resolution, or send a PDF."
    ),
    "pdf_encrypted": _l(
        "The selected PDF is protected by a password: send it without a password."
    ),
    "pdf_script": _l(
        "The selected PDF contains a script, which we do not accept for your safety: scan "
        "the document again, or send a photo of it (JPG or PNG)."
    ),
    "pdf_launch": _l(
        "The selected PDF tries to open another program, which we do not accept for your "
        "safety: scan the document again, or send a photo of it (JPG or PNG)."
    ),
    "pdf_attachment": _l(
        "The selected PDF contains attached files, which we do not accept for your safety: "
        "send the document alone."
    ),
    "pdf_form": _l(
        "The selected PDF contains a form, which we do not accept for your safety: scan the "
        "document again, or send a photo of it (JPG or PNG)."
    ),
    "already_waiting": _l(
        "We already have a document from you waiting for a check: wait for our answer "
        "before sending another."
    ),
    "not_provable": _l("This request no longer takes a proof of identity."),
    "unknown_proof": _l("Choose which document you are sending."),
    "already_accepted": _l("This document has already been accepted: you need not send it again."),
}
PROOF_MESSAGES = {
    "already_waiting": _l(
        "We already have this document from you waiting for a check: wait for our answer "
        "before sending another."
    ),
    "not_provable": _l("This request no longer takes a proof of your relationship."),
}


class PortalRequest(Request):
    """Flask's request, with room for the one upload and without a temporary file for it.

    Every other page keeps ``MAX_CONTENT_LENGTH``. An uploaded file stays in
    memory (bounded by the limit above) so that an identity document is never
    written to disk unencrypted, not even for a moment.
    """

    @property
    def max_content_length(self) -> int | None:
        if self.endpoint in UPLOADS:
            return int(current_app.config["IDENTITY_DOCUMENT_MAX_BYTES"]) + ENVELOPE
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        Request.max_content_length.fset(self, value)  # type: ignore[attr-defined]

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


@dataclass(frozen=True)
class Upload:
    """What the status page shows of the upload: the form, a waiting document, a refusal."""

    form: DocumentForm
    waiting: IdentityDocument | None
    refused_reason: str | None
    size: str


def max_size() -> str:
    megabytes = max(1, current_app.config["IDENTITY_DOCUMENT_MAX_BYTES"] // (1024 * 1024))
    return _("%(num)d MB", num=megabytes)


@bp.context_processor
def _upload_context() -> dict[str, Any]:
    def document_upload(case: PortalCase) -> Upload:
        session = db.session()
        return Upload(
            form=g.get("document_form") or DocumentForm(formdata=None),
            waiting=documents.waiting(session, case),
            refused_reason=documents.last_refusal(session, case),
            size=max_size(),
        )

    return {"document_upload": document_upload}


def _upload_limit() -> str:
    return str(current_app.config["RATELIMIT_DOCUMENT"])


# Refusals about the request, not the file: the page shows no form to hold the message.
ABOUT_THE_REQUEST = frozenset({"already_waiting", "not_provable"})


def _refused(case: PortalCase, form: DocumentForm, message: str, code: int) -> tuple[str, int]:
    form.document.errors = [message]
    g.document_form = form
    return _status_page(case, AnswerForm(formdata=None), code)


@bp.post("/status/identity-document")
@limiter.limit(_upload_limit)
def document_upload() -> Response | tuple[str, int]:
    case = _followed_request()
    if case is None:
        return redirect(url_for("public.status"), 303)
    form = DocumentForm()
    if not form.validate_on_submit():
        g.document_form = form
        return _status_page(case, AnswerForm(formdata=None), 422)
    limit = current_app.config["IDENTITY_DOCUMENT_MAX_BYTES"]
    data = form.document.data.read(limit + 1)
    try:
        checked = documents.inspect(data, limit)
        documents.store(db.session(), case, checked, services_of(current_app).vault, utcnow())
    except documents.DocumentRefused as refusal:
        db.session.rollback()
        message = str(MESSAGES.get(refusal.code, MESSAGES["unreadable"])) % {"size": max_size()}
        if refusal.code in ABOUT_THE_REQUEST:
            flash(message)
        return _refused(case, form, message, 422)
    db.session.commit()
    flash(
        _(
            "Thank you: your document has been received. A member of our staff will check it "
            "and we will write to you."
        )
    )
    return redirect(url_for("public.status") + "#identity-title", 303)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Any:
    """A body beyond the limit: the upload's own message, not a bare 413 page."""
    if http.endpoint not in UPLOADS:
        return render_error(413)
    case = _followed_request()
    if case is None:
        return redirect(url_for("public.status"), 303)
    message = str(MESSAGES["too_large"]) % {"size": max_size()}
    if http.endpoint == PROOF_ENDPOINT:
        return _proof_refused(case, ProofForm(formdata=None), message, 413)
    return _refused(case, DocumentForm(formdata=None), message, 413)


@dataclass(frozen=True)
class ProofUpload:
    """What the status page shows of a relationship's proofs: each one, and its form."""

    states: list[relationship.ProofState]
    form: ProofForm
    # The proof the form that failed was about (its error is shown next to it).
    failed: str | None
    size: str
    can_send: bool


@bp.context_processor
def _proof_context() -> dict[str, Any]:
    def proof_upload(case: PortalCase) -> ProofUpload | None:
        found = services_of(current_app).representation.of(case.acts_as)
        if found is None:
            return None
        form = g.get("proof_form") or ProofForm(formdata=None)
        return ProofUpload(
            states=relationship.states(db.session(), case, found),
            form=form,
            failed=form.proof.data if form.errors else None,
            size=max_size(),
            can_send=relationship.can_send(case),
        )

    return {"proof_upload": proof_upload}


def _proof_refused(case: PortalCase, form: ProofForm, message: str, code: int) -> tuple[str, int]:
    form.document.errors = [message]
    g.proof_form = form
    return _status_page(case, AnswerForm(formdata=None), code)


@bp.post("/status/relationship-proof")
@limiter.limit(_upload_limit)
def relationship_proof_upload() -> Response | tuple[str, int]:
    """One document proving the relationship of a request made for someone else."""
    case = _followed_request()
    if case is None:
        return redirect(url_for("public.status"), 303)
    found = services_of(current_app).representation.of(case.acts_as)
    if found is None:
        flash(str(PROOF_MESSAGES["not_provable"]))
        return redirect(url_for("public.status"), 303)
    form = ProofForm()
    if not form.validate_on_submit():
        g.proof_form = form
        return _status_page(case, AnswerForm(formdata=None), 422)
    limit = current_app.config["IDENTITY_DOCUMENT_MAX_BYTES"]
    data = form.document.data.read(limit + 1)
    try:
        checked = documents.inspect(data, limit)
        relationship.store(
            db.session(),
            case,
            found,
            form.proof.data or "",
            checked,
            services_of(current_app).vault,
            utcnow(),
        )
    except (documents.DocumentRefused, lifecycle.StaleRequest) as refusal:
        db.session.rollback()
        code = getattr(refusal, "code", "already_waiting")
        text = PROOF_MESSAGES.get(code) or MESSAGES.get(code, MESSAGES["unreadable"])
        message = str(text) % {"size": max_size()}
        if code in ABOUT_THE_REQUEST:
            flash(message)
        return _proof_refused(case, form, message, 422)
    db.session.commit()
    flash(
        _(
            "Thank you: your document has been received. A member of our staff will check it "
            "and we will write to you."
        )
    )
    return redirect(url_for("public.status") + "#relationship-title", 303)

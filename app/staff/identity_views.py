"""The identity document on the case page: shown inline, then accepted or refused.

The file is served decrypted by a route of its own, to staff who work cases,
each view an audit event: ``inline`` (shown in the page, never offered as a
download), not stored by the browser, of the exact type decided at upload,
and sandboxed (``security_headers.DOCUMENT_CSP``) so that nothing in it runs.
The decisions are case forms like the others (``case_views._decide``): they
carry the case's version and the document's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.casework.cases import CaseError
from app.extensions import db
from app.identity import assurance, documents, proof_files, relationship
from app.intake import read_requester
from app.labels import DOCUMENT_REASON_LABELS, PROOF_REASON_LABELS
from app.models import IdentityDocument, RelationshipProof, Request, utcnow
from app.rules.representation import Reason, Relationship
from app.security_headers import DOCUMENT_CSP
from app.services import services_of
from app.staff.access import can, me, requires
from app.staff.case_forms import DocumentForm, DocumentRefuseForm, ProofRefuseForm
from app.staff.case_views import _decide, case_or_404
from app.staff.routes import bp
from app.staffing import roles


@dataclass(frozen=True)
class Review:
    """What the case page shows of a waiting document, and its two decisions."""

    document: IdentityDocument | None
    may_decide: bool
    may_accept: bool
    accept: DocumentForm
    refuse: DocumentRefuseForm


def _reason_choices(form: DocumentRefuseForm) -> None:
    form.reason.choices = [
        SelectChoice(r, str(DOCUMENT_REASON_LABELS[r])) for r in documents.REFUSAL_REASONS
    ]


@bp.context_processor
def _review_context() -> dict[str, Any]:
    def document_review(case: Request) -> Review:
        document = documents.waiting(db.session(), case)
        values = {"version": case.version, "document_id": document.id if document else 0}
        refuse = DocumentRefuseForm(formdata=None, **values)
        _reason_choices(refuse)
        return Review(
            document=document,
            may_decide=can(roles.WORK_CASES),
            may_accept=assurance.can_prove(case),
            accept=DocumentForm(formdata=None, **values),
            refuse=refuse,
        )

    return {"document_review": document_review}


def _served(body: bytes, media_type: str) -> Response:
    """A document a requester sent, shown inline to staff and nothing else on the page."""
    response = Response(body, mimetype=media_type)
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = DOCUMENT_CSP
    # Framed by the case page (same origin) only; security_headers keeps the rest.
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.get("/cases/<reference>/identity-document/<int:document_id>")
@requires(roles.WORK_CASES)
def identity_document(reference: str, document_id: int) -> Response:
    case = case_or_404(reference)
    document = db.session.get(IdentityDocument, document_id)
    if document is None or document.request_id != case.id:
        abort(404)
    body = proof_files.content(document, services_of(current_app).vault)
    proof_files.record_view(db.session(), case, document, documents.KIND, me(), utcnow())
    db.session.commit()
    return _served(body, document.media_type)


@bp.post("/cases/<reference>/identity-document/accept")
@requires(roles.WORK_CASES)
def identity_document_accept(reference: str) -> Response | tuple[str, int]:
    form = DocumentForm()
    return _decide(
        reference,
        form,
        lambda case: documents.decide(
            db.session(),
            case,
            me(),
            document_id=form.document_id.data or 0,
            accepted=True,
            reason=None,
            version=form.version.data or 0,
            now=utcnow(),
            mail=services_of(current_app).mail,
        ),
        _(
            "Document accepted: the identity is proven (document level), the document is "
            "deleted and the request goes on."
        ),
    )


@bp.post("/cases/<reference>/identity-document/refuse")
@requires(roles.WORK_CASES)
def identity_document_refuse(reference: str) -> Response | tuple[str, int]:
    form = DocumentRefuseForm()
    _reason_choices(form)
    return _decide(
        reference,
        form,
        lambda case: documents.decide(
            db.session(),
            case,
            me(),
            document_id=form.document_id.data or 0,
            accepted=False,
            reason=form.reason.data,
            version=form.version.data or 0,
            now=utcnow(),
            mail=services_of(current_app).mail,
        ),
        _("Another document is asked for: the requester is told why by email."),
    )


# A request made for someone else: who asks, for whom, and the proofs of the relationship.


@dataclass(frozen=True)
class ProofReview:
    """One proof as the case page shows it, with its decisions when a document waits."""

    state: relationship.ProofState
    accept: DocumentForm | None
    refuse: ProofRefuseForm | None


@dataclass(frozen=True)
class Representative:
    """What the case page shows of a request made for someone else."""

    relationship: Relationship
    reason: Reason | None
    requester: dict[str, str] | None
    proofs: list[ProofReview]
    may_decide: bool
    may_accept: bool


def _proof_reason_choices(form: ProofRefuseForm) -> None:
    form.reason.choices = [
        SelectChoice(r, str(PROOF_REASON_LABELS[r])) for r in relationship.REFUSAL_REASONS
    ]


def _relationship_of(case: Request) -> Relationship:
    found = services_of(current_app).representation.of(case.acts_as)
    if found is None:
        raise CaseError("not_for_someone_else")
    return found


@bp.context_processor
def _representative_context() -> dict[str, Any]:
    def representative(case: Request) -> Representative | None:
        services = services_of(current_app)
        found = services.representation.of(case.acts_as)
        if found is None:
            return None
        reviews = []
        for state in relationship.states(db.session(), case, found):
            accept = refuse = None
            if state.document is not None:
                values = {"version": case.version, "document_id": state.document.id}
                accept = DocumentForm(formdata=None, **values)
                refuse = ProofRefuseForm(formdata=None, **values)
                _proof_reason_choices(refuse)
            reviews.append(ProofReview(state, accept, refuse))
        return Representative(
            relationship=found,
            reason=services.representation.reason(case.heir_reason),
            requester=read_requester(case, services.vault),
            proofs=reviews,
            may_decide=can(roles.WORK_CASES),
            may_accept=assurance.can_prove(case),
        )

    return {"representative": representative}


@bp.get("/cases/<reference>/relationship-proof/<int:document_id>")
@requires(roles.WORK_CASES)
def relationship_proof(reference: str, document_id: int) -> Response:
    case = case_or_404(reference)
    document = db.session.get(RelationshipProof, document_id)
    if document is None or document.request_id != case.id:
        abort(404)
    body = proof_files.content(document, services_of(current_app).vault)
    proof_files.record_view(db.session(), case, document, relationship.KIND, me(), utcnow())
    db.session.commit()
    return _served(body, document.media_type)


@bp.post("/cases/<reference>/relationship-proof/accept")
@requires(roles.WORK_CASES)
def relationship_proof_accept(reference: str) -> Response | tuple[str, int]:
    form = DocumentForm()
    return _decide(
        reference,
        form,
        lambda case: relationship.decide(
            db.session(),
            case,
            me(),
            _relationship_of(case),
            document_id=form.document_id.data or 0,
            accepted=True,
            reason=None,
            version=form.version.data or 0,
            now=utcnow(),
            mail=services_of(current_app).mail,
        ),
        _(
            "Proof accepted and deleted. Once every proof is accepted, the request goes on "
            "(the requester's own identity must still reach its level)."
        ),
    )


@bp.post("/cases/<reference>/relationship-proof/refuse")
@requires(roles.WORK_CASES)
def relationship_proof_refuse(reference: str) -> Response | tuple[str, int]:
    form = ProofRefuseForm()
    _proof_reason_choices(form)
    return _decide(
        reference,
        form,
        lambda case: relationship.decide(
            db.session(),
            case,
            me(),
            _relationship_of(case),
            document_id=form.document_id.data or 0,
            accepted=False,
            reason=form.reason.data,
            version=form.version.data or 0,
            now=utcnow(),
            mail=services_of(current_app).mail,
        ),
        _("Another document is asked for: the requester is told why by email."),
    )

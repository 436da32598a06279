"""The files a requester sent as proof, on the case page: shown inline, accepted or refused.

An identity document and a proof of relationship are reviewed alike (``_File``
says what differs).

The file is served decrypted by a route of its own, to staff who work cases,
each view an audit event: ``inline`` (shown in the page, never offered as a
download), not stored by the browser, of the exact type decided at upload,
and sandboxed (``security_headers.DOCUMENT_CSP``) so that nothing in it runs.
The decisions are case forms like the others (``case_views._decide``): they
carry the case's version and the document's id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.casework.cases import CaseError
from app.extensions import db
from app.identity import assurance, documents, proof_files, relationship
from app.intake import read_requester
from app.labels import DOCUMENT_REASON_LABELS, PROOF_REASON_LABELS
from app.models import IdentityDocument, Request, StaffUser, utcnow
from app.rules.representation import Reason, Relationship
from app.security_headers import DOCUMENT_CSP
from app.services import services_of
from app.staff.access import can, me, requires
from app.staff.case_forms import DocumentForm, DocumentRefuseForm
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


@dataclass(frozen=True)
class _File:
    """What the views of one kind of file differ in."""

    kind: proof_files.Kind
    labels: Mapping[str, Any]  # the reasons to refuse it, as the requester reads them
    decide: Callable[..., object]  # the kind's decision, called with the same keywords

    def refusal(self, **values: Any) -> DocumentRefuseForm:
        form = DocumentRefuseForm(**values)
        form.reason.choices = [SelectChoice(r, str(self.labels[r])) for r in self.kind.reasons]
        return form


def _decide_proof(session: Session, case: Request, staff: StaffUser, **decision: Any) -> str:
    return relationship.decide(session, case, staff, _relationship_of(case), **decision)


def _relationship_of(case: Request) -> Relationship:
    found = services_of(current_app).representation.of(case.acts_as)
    if found is None:
        raise CaseError("not_for_someone_else")
    return found


IDENTITY_DOCUMENT = _File(documents.KIND, DOCUMENT_REASON_LABELS, documents.decide)
RELATIONSHIP_PROOF = _File(relationship.KIND, PROOF_REASON_LABELS, _decide_proof)


@bp.context_processor
def _review_context() -> dict[str, Any]:
    def document_review(case: Request) -> Review:
        document = documents.waiting(db.session(), case)
        values = {"version": case.version, "document_id": document.id if document else 0}
        return Review(
            document=document,
            may_decide=can(roles.WORK_CASES),
            may_accept=assurance.can_prove(case),
            accept=DocumentForm(formdata=None, **values),
            refuse=IDENTITY_DOCUMENT.refusal(formdata=None, **values),
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


# A request made for someone else: who asks, for whom, and the proofs of the relationship.


@dataclass(frozen=True)
class ProofReview:
    """One proof as the case page shows it, with its decisions when a document waits."""

    state: relationship.ProofState
    accept: DocumentForm | None
    refuse: DocumentRefuseForm | None


@dataclass(frozen=True)
class Representative:
    """What the case page shows of a request made for someone else."""

    relationship: Relationship
    reason: Reason | None
    requester: dict[str, str] | None
    proofs: list[ProofReview]
    may_decide: bool
    may_accept: bool


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
                refuse = RELATIONSHIP_PROOF.refusal(formdata=None, **values)
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


def _show(reference: str, document_id: int, file: _File) -> Response:
    """A file waiting on the case, decrypted for staff who work cases; each opening audited."""
    case = case_or_404(reference)
    document = db.session.get(file.kind.table, document_id)
    if not isinstance(document, file.kind.table) or document.request_id != case.id:
        abort(404)
    body = proof_files.content(document, services_of(current_app).vault)
    proof_files.record_view(db.session(), case, document, file.kind, me(), utcnow())
    db.session.commit()
    return _served(body, document.media_type)


def _decide_on(
    reference: str, file: _File, accepted: bool, done: str
) -> Response | tuple[str, int]:
    """Accept the file (flashing ``done``) or ask for another: a case decision (``_decide``)."""
    refusal = None if accepted else file.refusal()
    form = DocumentForm() if refusal is None else refusal
    return _decide(
        reference,
        form,
        lambda case: file.decide(
            db.session(),
            case,
            me(),
            document_id=form.document_id.data or 0,
            accepted=accepted,
            reason=None if refusal is None else refusal.reason.data,
            version=form.version.data or 0,
            now=utcnow(),
            mail=services_of(current_app).mail,
            policy=services_of(current_app).assurance,
        ),
        done
        if accepted
        else _("Another document is asked for: the requester is told why by email."),
    )


@bp.get("/cases/<reference>/identity-document/<int:document_id>")
@requires(roles.WORK_CASES)
def identity_document(reference: str, document_id: int) -> Response:
    return _show(reference, document_id, IDENTITY_DOCUMENT)


@bp.get("/cases/<reference>/relationship-proof/<int:document_id>")
@requires(roles.WORK_CASES)
def relationship_proof(reference: str, document_id: int) -> Response:
    return _show(reference, document_id, RELATIONSHIP_PROOF)


# Each decides on one kind of file; the two rules of each differ in ``accepted`` only.
@bp.post(
    "/cases/<reference>/identity-document/accept",
    endpoint="identity_document_accept",
    defaults={"accepted": True},
)
@bp.post(
    "/cases/<reference>/identity-document/refuse",
    endpoint="identity_document_refuse",
    defaults={"accepted": False},
)
@requires(roles.WORK_CASES)
def identity_document_decision(reference: str, accepted: bool) -> Response | tuple[str, int]:
    return _decide_on(
        reference,
        IDENTITY_DOCUMENT,
        accepted,
        _(
            "Document accepted: the identity is proven (document level), the document is "
            "deleted and the request goes on."
        ),
    )


@bp.post(
    "/cases/<reference>/relationship-proof/accept",
    endpoint="relationship_proof_accept",
    defaults={"accepted": True},
)
@bp.post(
    "/cases/<reference>/relationship-proof/refuse",
    endpoint="relationship_proof_refuse",
    defaults={"accepted": False},
)
@requires(roles.WORK_CASES)
def relationship_proof_decision(reference: str, accepted: bool) -> Response | tuple[str, int]:
    return _decide_on(
        reference,
        RELATIONSHIP_PROOF,
        accepted,
        _(
            "Proof accepted and deleted. Once every proof is accepted, the request goes on "
            "(the requester's own identity must still reach its level)."
        ),
    )

"""The documents proving a request made for someone else: sent, stored encrypted, decided.

A parent, a guardian, a mandatary, an heir or a partner proves the
relationship with the documents ``Relationship.proofs`` lists
(app.rules.representation). Each is sent through the same checks as an
identity document (``documents.inspect``: the file is rebuilt, never kept as
sent), stored encrypted by the vault, at most one waiting per request and
proof (the database refuses a second), and deleted in the transaction of the
staff decision. The audit keeps what was decided, by whom and when, as codes:
never the requester's identity, never a category.

Where a request stands is ``Request.relationship_proof``: ``awaited`` until
every proof was sent, ``submitted`` while some wait for a check, ``refused``
when staff asked for another (the requester is told why and sends it on the
status page), ``accepted`` once every proof is. Only then is anything about
the person shown, sent, approved or erased (``assurance.relationship_proven``);
a request that waited for it is routed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, lifecycle
from app.casework import clock
from app.crypto import Vault
from app.identity import assurance, decision, proof_files
from app.identity.policy import AssurancePolicy
from app.identity.proof_files import Checked, DocumentRefused
from app.models import AuditEvent, RelationshipProof, Request, StaffUser
from app.outbox import emails, jobs
from app.rules.representation import Proof, Relationship

# Why staff ask for another document; the requester reads the reason (labels).
REFUSAL_REASONS = ("unreadable", "incomplete", "wrong_document", "other_person", "expired")
REFUSED_EMAIL = "relationship_proof_refused"
# The relationship accepted, and whether the identity is still awaited (as assurance's).
ACCEPTED_EMAIL = "proof_accepted"
# What proof_files keeps and audits of a proof, and decision decides on.
KIND = proof_files.Kind(
    table=RelationshipProof,
    kept=RelationshipProof.proof,
    reasons=REFUSAL_REASONS,
    received="relationship.proof_received",
    viewed="relationship.proof_viewed",
    accepted="relationship.proof_accepted",
    refused="relationship.proof_refused",
    missing="no_proof",
)


@dataclass(frozen=True)
class ProofState:
    """One document a relationship needs, and where it stands."""

    proof: Proof
    # "awaited", "submitted" (waiting for a check), "accepted" or "refused".
    state: str
    document: RelationshipProof | None = None
    reason: str | None = None


def waiting(session: Session, request: Request) -> dict[str, RelationshipProof]:
    """The documents waiting for a check on this request, by proof code."""
    rows = session.scalars(
        select(RelationshipProof)
        .where(RelationshipProof.request_id == request.id)
        .order_by(RelationshipProof.id)
    )
    return {row.proof: row for row in rows}


def _decisions(session: Session, request: Request) -> dict[str, AuditEvent]:
    """The last event of each proof code (received, accepted or refused)."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.request_id == request.id,
            AuditEvent.action.in_((KIND.received, KIND.accepted, KIND.refused)),
        )
        .order_by(AuditEvent.id)
    )
    return {str(event.details.get("proof")): event for event in events}


def states(session: Session, request: Request, relationship: Relationship) -> list[ProofState]:
    """Each proof the relationship needs, in its order, with its state."""
    rows = waiting(session, request)
    last = _decisions(session, request)
    found = []
    for proof in relationship.proofs:
        document = rows.get(proof.code)
        event = last.get(proof.code)
        if document is not None:
            found.append(ProofState(proof, "submitted", document))
        elif event is not None and event.action == KIND.accepted:
            found.append(ProofState(proof, "accepted"))
        elif event is not None and event.action == KIND.refused:
            found.append(ProofState(proof, "refused", reason=event.details.get("reason")))
        else:
            found.append(ProofState(proof, "awaited"))
    return found


def overall(found: list[ProofState]) -> str:
    """Where the relationship stands, from its proofs (``models.PROOF_STATES``)."""
    kinds = {item.state for item in found}
    if kinds <= {"accepted"}:
        return "accepted"
    if "refused" in kinds:
        return "refused"
    if kinds <= {"accepted", "submitted"}:
        return "submitted"
    return "awaited"


def can_send(request: Request) -> bool:
    """Whether the requester can still send a proof of the relationship."""
    return (
        request.acts_as != "self"
        and request.relationship_proof != "accepted"
        and assurance.can_prove(request)
    )


def store(
    session: Session,
    request: Request,
    relationship: Relationship,
    code: str,
    checked: Checked,
    vault: Vault,
    now: datetime,
) -> RelationshipProof:
    """Keep a checked file, encrypted, as the waiting document of one proof.

    Refused (``DocumentRefused``) with ``not_provable`` when the request takes no
    proof any more, ``unknown_proof`` for a code the relationship does not need,
    ``already_accepted`` and ``already_waiting`` (the unique pair decides between
    two sent at once).
    """
    if not can_send(request):
        raise DocumentRefused("not_provable")
    if code not in {proof.code for proof in relationship.proofs}:
        raise DocumentRefused("unknown_proof")
    current = {item.proof.code: item.state for item in states(session, request, relationship)}
    if current[code] == "accepted":
        raise DocumentRefused("already_accepted")
    if current[code] == "submitted":
        raise DocumentRefused("already_waiting")
    document = proof_files.keep(
        session, request, RelationshipProof(proof=code), KIND, checked, vault, now
    )
    _settle(session, request, relationship, actor=proof_files.REQUESTER, now=now)
    return document


def _settle(
    session: Session, request: Request, relationship: Relationship, *, actor: str, now: datetime
) -> str:
    """Write where the relationship stands now; returns it."""
    state = overall(states(session, request, relationship))
    if state != request.relationship_proof:
        lifecycle.touch(session, request, actor=actor, now=now, relationship_proof=state)
    return state


def decide(
    session: Session,
    request: Request,
    staff: StaffUser,
    relationship: Relationship,
    *,
    document_id: int,
    accepted: bool,
    reason: str | None,
    version: int,
    now: datetime,
    mail: emails.MailSettings,
    policy: AssurancePolicy,
) -> str:
    """Staff checked one proof: accept it, or ask for another with a reason.

    Returns where the relationship stands after it. The document is deleted
    first, by one conditional ``DELETE``: of two decisions made at once, one
    finds it and the other is refused. When every proof is accepted, the
    request waiting for it is routed again if its requester's own identity
    reaches its right's level (``assurance``); otherwise it waits for that, and
    the requester is told what was accepted and what is still awaited. A
    refusal is emailed with its reason only (no category, no name); the
    requester sends another.
    """
    decided = decision.take(
        session, request, staff, KIND, document_id, accepted, reason, version, now
    )
    who = decided.who
    before = request.relationship_proof
    state = _settle(session, request, relationship, actor=who, now=now)
    if before == state:
        # The page a stale form was read from no longer holds this document.
        lifecycle.touch(session, request, actor=who, now=now)
    if not accepted:
        if decided.provable:
            emails.queue_email(
                session, request, REFUSED_EMAIL, now, mail, extra={"reason": reason}
            )
        return state
    if state == "accepted" and before != "accepted":
        audit.record(
            session,
            actor=who,
            action="relationship.accepted",
            now=now,
            request_id=request.id,
            details={"acts_as": request.acts_as},
        )
        if request.status != "awaiting_identity":
            return state
        if not assurance.identity_proven(policy, request):
            # Routing again would only bring it back here: the clock stays stopped.
            emails.queue_email(
                session,
                request,
                ACCEPTED_EMAIL,
                now,
                mail,
                extra={"accepted": "relationship", "awaited": "identity"},
            )
            return state
        clock.resume(session, request, actor=who, now=now)
        lifecycle.change_status(
            session,
            request,
            "received",
            actor=who,
            now=now,
            mail=mail,
            details={"relationship": "accepted"},
            # The news is the relationship: the identity was confirmed, and told, before.
            template=ACCEPTED_EMAIL,
            email={"accepted": "relationship"},
        )
        jobs.enqueue(session, jobs.ROUTE, now=now, request_id=request.id)
    return state

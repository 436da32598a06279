"""A request's identity assurance: what its level lets it do, and raising it.

The level is written with an audit event saying how it was reached and by
whom (``identity.assurance``). Below the level its right needs, a routed
request waits in ``awaiting_identity`` with its clock stopped; the proof that
raises it (a sign-in, a document accepted by staff) sends it back to
``received`` and routing runs again, now with the level known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app import audit, lifecycle
from app.casework import clock
from app.identity.policy import AssurancePolicy
from app.models import Request
from app.outbox import emails, jobs

# The levels a proof raises a request to; ``email`` comes with the link alone.
PROOFS = ("contact_match", "oidc", "document")
# Where a proof may still change something: open and not yet approved.
PROVABLE = frozenset(
    {
        "received",
        "awaiting_identity",
        "identity_review",
        "triage",
        "in_review",
        "awaiting_requester",
    }
)


class AssuranceRefused(Exception):
    """No proof is taken for this request now; ``reason`` says why (a code)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Assured(Protocol):
    """What the requester's checks read: a ``Request`` or the status page's plain row."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def assurance(self) -> str: ...
    @property
    def disputed_at(self) -> datetime | None: ...
    @property
    def acts_as(self) -> str: ...
    @property
    def relationship_proof(self) -> str | None: ...


def relationship_proven(request: Assured) -> bool:
    """Whether the request is the person's own, or its relationship's proofs are accepted.

    A request made for someone else shows, sends, approves and erases nothing
    about the person before staff accepted every document proving the
    relationship (app.identity.relationship); the requester's own identity must
    still reach the level, like anyone's.
    """
    return request.acts_as == "self" or request.relationship_proof == "accepted"


# Not a status: how ``awaiting_identity`` is named while the requester's own identity is
# proven and only the documents proving the relationship are awaited (app.labels).
AWAITING_RELATIONSHIP = "awaiting_relationship"
# A request made for someone else needs two proofs, the requester's identity and the
# relationship: when one is accepted and the other still awaited, the requester is told
# both, since the status page now asks for the other one only (``extra``: ``accepted``,
# ``awaited``, each "identity" or "relationship"; no ``awaited`` once both are proven).
PROOF_ACCEPTED_EMAIL = "proof_accepted"


def identity_proven(policy: AssurancePolicy, request: Assured) -> bool:
    """Whether the requester's own identity reaches the level its right needs to be acted on."""
    return request.disputed_at is None and policy.allows(request.kind, "act", request.assurance)


def shown_status(policy: AssurancePolicy, request: Assured) -> str:
    """The status as people read it: ``request.status``, or ``AWAITING_RELATIONSHIP``.

    A request made for someone else waits in ``awaiting_identity`` until both the
    requester's identity and the relationship are proven; once the identity reaches the
    level its right needs, what is still awaited is the relationship's proofs alone.
    """
    if (
        request.status == "awaiting_identity"
        and not relationship_proven(request)
        and identity_proven(policy, request)
    ):
        return AWAITING_RELATIONSHIP
    return request.status


def identity_shows_plan(policy: AssurancePolicy, request: Assured) -> bool:
    """Whether the requester's own identity reaches the level that shows the plan."""
    return request.disputed_at is None and policy.allows(
        request.kind, "show_plan", request.assurance
    )


def shows_plan(policy: AssurancePolicy, request: Assured) -> bool:
    """Whether the requester may see what was found: kinds of data, counts, the report."""
    return identity_shows_plan(policy, request) and relationship_proven(request)


def may_act(policy: AssurancePolicy, request: Request) -> bool:
    """Whether staff may approve the request and have it carried out."""
    return (
        request.disputed_at is None
        and relationship_proven(request)
        and policy.allows(request.kind, "act", request.assurance)
    )


def can_prove(request: Assured) -> bool:
    """Whether the requester can still give a proof of identity for this request."""
    return request.disputed_at is None and request.status in PROVABLE


@dataclass(frozen=True)
class Standing:
    """Where a request stands on identity, as the case page shows it."""

    level: str
    shows_plan: bool
    may_act: bool
    # The levels its right needs to be acted on, weakest first.
    needed: tuple[str, ...]


def standing(policy: AssurancePolicy, request: Request) -> Standing:
    return Standing(
        request.assurance,
        shows_plan(policy, request),
        may_act(policy, request),
        policy.levels(request.kind, "act"),
    )


def routed_status(policy: AssurancePolicy, request: Request, outcome: str) -> str:
    """Where routing sends a request, given its plan's outcome and its level.

    Below the level, a doubt about the match is not told either: the requester
    is asked to prove who they are, whatever was or was not found.
    """
    if outcome == "identity_review":
        return "identity_review" if shows_plan(policy, request) else "awaiting_identity"
    return "triage" if may_act(policy, request) else "awaiting_identity"


def record_level(
    session: Session,
    request: Request,
    level: str,
    *,
    method: str,
    actor: str,
    now: datetime,
    **also: Any,
) -> None:
    """Write a request's new level, with who reached it, how and when.

    ``also``: other fields of the case written in the same UPDATE.
    """
    previous = request.assurance
    lifecycle.touch(
        session, request, actor=actor, now=now, **_level_fields(level, actor, now), **also
    )
    _record_level_event(session, request, level, previous, method=method, actor=actor, now=now)


def set_level(
    session: Session, request: Request, level: str, *, method: str, actor: str, now: datetime
) -> None:
    """``record_level`` for a caller that moves the status next, in the same transaction.

    The fields are set through the ORM and the event recorded, unflushed:
    ``lifecycle.change_status`` writes them in its own statement, under its
    version check, instead of an UPDATE of their own before it (routing).
    """
    previous = request.assurance
    for key, value in _level_fields(level, actor, now).items():
        setattr(request, key, value)
    _record_level_event(session, request, level, previous, method=method, actor=actor, now=now)


def _level_fields(level: str, actor: str, now: datetime) -> dict[str, Any]:
    return {"assurance": level, "assurance_at": now, "assurance_by": actor}


def _record_level_event(
    session: Session,
    request: Request,
    level: str,
    previous: str,
    *,
    method: str,
    actor: str,
    now: datetime,
) -> None:
    audit.record(
        session,
        actor=actor,
        action="identity.assurance",
        now=now,
        request_id=request.id,
        details={"level": level, "method": method, "from": previous},
    )


def raise_level(
    session: Session,
    request: Request,
    level: str,
    *,
    method: str,
    actor: str,
    now: datetime,
    mail: emails.MailSettings,
    policy: AssurancePolicy,
) -> bool:
    """A proof of identity was given: record it and, if the request waited for it, route again.

    Returns whether the request left ``awaiting_identity``. Refused, changing
    nothing, for a disputed request (the person on file said "not me") or one
    no proof can change any more. A request made for someone else whose
    relationship is still unproven stays where it is; its requester is emailed
    once, when the identity first reaches its level.
    """
    if level not in PROOFS:
        raise ValueError(f"{level!r} is not a level a proof gives")
    if request.disputed_at is not None:
        raise AssuranceRefused("disputed")
    if request.status not in PROVABLE:
        raise AssuranceRefused("not_open")
    shown_before = shown_status(policy, request)
    record_level(session, request, level, method=method, actor=actor, now=now)
    if not relationship_proven(request):
        # Waiting for the proof of the relationship too: that decision routes it again.
        if (
            shown_before != AWAITING_RELATIONSHIP
            and shown_status(policy, request) == AWAITING_RELATIONSHIP
        ):
            emails.queue_email(
                session,
                request,
                PROOF_ACCEPTED_EMAIL,
                now,
                mail,
                extra={"accepted": "identity", "awaited": "relationship"},
            )
        return False
    # Every pause of the clock waits for proof of identity: this is it.
    clock.resume(session, request, actor=actor, now=now)
    if request.status != "awaiting_identity":
        return False
    lifecycle.change_status(
        session, request, "received", actor=actor, now=now, mail=mail, details={"level": level}
    )
    jobs.enqueue(session, jobs.ROUTE, now=now, request_id=request.id)
    return True


def refer_to_staff(
    session: Session,
    request: Request,
    *,
    reason: str,
    actor: str,
    now: datetime,
    mail: emails.MailSettings,
) -> None:
    """A proof that does not fit the person found (e.g. other names): a person decides.

    The level does not change; ``reason`` is a code for the audit and the case page.
    """
    audit.record(
        session,
        actor=actor,
        action="identity.refused",
        now=now,
        request_id=request.id,
        details={"reason": reason},
    )
    if request.status == "awaiting_identity":
        lifecycle.change_status(
            session,
            request,
            "identity_review",
            actor=actor,
            now=now,
            mail=mail,
            details={"reason": reason},
        )

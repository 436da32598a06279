"""A file a requester sent as proof, while it waits for staff: kept, opened, each opening audited.

An identity document (``documents``) and a proof of relationship
(``relationship``) are kept alike: one row, the content encrypted by the
vault, at most one waiting per request (and proof). Each caller checks that
first, but two files sent at once both pass the check: the unique index then
keeps one, and the other is refused with ``already_waiting``, its savepoint
rolled back and the caller's transaction untouched. The audit keeps codes
only: who, which file, its type and size, never what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app import audit
from app.casework.cases import actor, require
from app.crypto import Vault
from app.models import IdentityDocument, RelationshipProof, Request, StaffUser
from app.staffing import roles

REQUESTER = "requester"
Sent = TypeVar("Sent", IdentityDocument, RelationshipProof)


class DocumentRefused(Exception):
    """The file is not taken; ``code`` says why (the page explains it), nothing was stored."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Checked:
    """A file that passed ``documents.inspect``: its type and the bytes rebuilt from it."""

    media_type: str
    content: bytes


@dataclass(frozen=True)
class Kind:
    """What differs between two kinds of file: here and in the staff decision (``decision``)."""

    table: type[IdentityDocument] | type[RelationshipProof]
    # The code column of ``table`` the audit keeps of a file (its type, or which proof it is).
    kept: InstrumentedAttribute[str]
    reasons: tuple[str, ...]
    # The audit actions.
    received: str
    viewed: str
    accepted: str
    refused: str
    missing: str  # the error when no such file waits on the request


def keep(
    session: Session,
    request: Request,
    row: Sent,
    kind: Kind,
    checked: Checked,
    vault: Vault,
    now: datetime,
) -> Sent:
    """Fill ``row`` with the checked file, encrypted, and add it; audit its receipt.

    ``row`` carries what the kind adds (a proof's code). Raises
    ``DocumentRefused("already_waiting")`` when the unique index refuses it.
    """
    row.request_id = request.id
    row.media_type = checked.media_type
    row.size = len(checked.content)
    row.content_encrypted = vault.encrypt_bytes(checked.content)
    row.uploaded_at = now
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise DocumentRefused("already_waiting") from None
    audit.record(
        session,
        actor=REQUESTER,
        action=kind.received,
        now=now,
        request_id=request.id,
        details={**_code(kind, row), "media_type": row.media_type, "size": row.size},
    )
    return row


def content(row: IdentityDocument | RelationshipProof, vault: Vault) -> bytes:
    return vault.decrypt_bytes(row.content_encrypted)


def record_view(
    session: Session,
    request: Request,
    row: IdentityDocument | RelationshipProof,
    kind: Kind,
    staff: StaffUser,
    now: datetime,
) -> None:
    """Every time staff open a file is an audit event (codes only)."""
    require(staff, roles.WORK_CASES)
    audit.record(
        session,
        actor=actor(staff),
        action=kind.viewed,
        now=now,
        request_id=request.id,
        details={"document": row.id, **_code(kind, row)},
    )


def _code(kind: Kind, row: IdentityDocument | RelationshipProof) -> dict[str, str]:
    return {kind.kept.key: getattr(row, kind.kept.key)}

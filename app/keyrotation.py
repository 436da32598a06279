"""Re-encrypting what the vault encrypted under the newest key, so an old key can go.

``ENCRYPTED`` lists every column the portal encrypts at rest with
``DATA_ENCRYPTION_KEYS`` (a test fails when a model gains an ``*_encrypted``
column that is not listed). ``rotate`` walks one column in primary-key order,
in batches committed one by one: a value already under the newest key is left
alone, so a run that stops half-way is resumed by running it again. Each
update is conditional on the value read, so a row changed meanwhile is left
to the next run rather than overwritten. ``census`` says which key every
stored value needs: once it shows nothing under an old key, that key can be
removed from ``DATA_ENCRYPTION_KEYS``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.crypto import Vault
from app.models import (
    AccessPackage,
    CaseNote,
    IdentityDocument,
    RelationshipProof,
    Request,
    StaffUser,
)


@dataclass(frozen=True)
class Column:
    """One encrypted column: its model and attribute (text, or bytes for packages)."""

    model: Any
    name: str

    @property
    def label(self) -> str:
        return f"{self.model.__tablename__}.{self.name}"

    @property
    def attribute(self) -> InstrumentedAttribute[Any]:
        return getattr(self.model, self.name)


ENCRYPTED = (
    Column(Request, "nir_encrypted"),
    Column(Request, "details_encrypted"),
    Column(Request, "refusal_message_encrypted"),
    Column(StaffUser, "totp_secret_encrypted"),
    Column(CaseNote, "body_encrypted"),
    Column(AccessPackage, "json_encrypted"),
    Column(AccessPackage, "html_encrypted"),
    Column(IdentityDocument, "content_encrypted"),
    Column(Request, "requester_encrypted"),
    Column(RelationshipProof, "content_encrypted"),
)


@dataclass
class Outcome:
    """What one run did to one column."""

    seen: int = 0
    rotated: int = 0
    changed_meanwhile: int = 0
    unreadable: int = 0


def _rows(session: Session, column: Column, batch: int) -> Iterator[list[tuple[int, Any]]]:
    """The column's non-empty values in primary-key order, a batch at a time."""
    after = 0
    key = column.model.id
    while True:
        rows = [
            (int(row[0]), row[1])
            for row in session.execute(
                select(key, column.attribute)
                .where(key > after, column.attribute.is_not(None))
                .order_by(key)
                .limit(batch)
            )
        ]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def count(session: Session, column: Column) -> int:
    return int(session.scalar(select(func.count()).where(column.attribute.is_not(None))) or 0)


def rotate(
    session: Session,
    vault: Vault,
    column: Column,
    *,
    batch: int = 500,
    progress: Callable[[int], None] = lambda done: None,
) -> Outcome:
    """Re-encrypt every value of ``column`` that is not under the newest key; commits per batch."""
    outcome = Outcome()
    # One executemany per batch (psycopg pipelines it): a round trip per value made
    # a rotation of 100,000 requests take ten minutes (bench/keys_rotate.py).
    table = column.model.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c[column.name] == bindparam("stored"))
        .values({column.name: bindparam("fresh")})
    )
    for rows in _rows(session, column, batch):
        changes = []
        for row_id, stored in rows:
            outcome.seen += 1
            if not stored:
                continue
            index = vault.key_index(stored)
            if index == 0:
                continue
            if index is None:
                outcome.unreadable += 1
                continue
            is_bytes = isinstance(stored, bytes)
            fresh = vault.rotate(stored.decode() if is_bytes else stored)
            changes.append(
                {
                    "row_id": row_id,
                    "stored": stored,
                    "fresh": fresh.encode() if is_bytes else fresh,
                }
            )
        if changes:
            # Conditional on the value read: a row changed meanwhile is left to the next run.
            changed = session.connection().execute(statement, changes).rowcount
            outcome.rotated += changed
            outcome.changed_meanwhile += len(changes) - changed
        session.commit()
        progress(len(rows))
    return outcome


def census(session: Session, vault: Vault, column: Column, batch: int = 1000) -> Counter[str]:
    """How many values of ``column`` each key opens: ``newest``, ``old-1``, ..., ``none``."""
    tally: Counter[str] = Counter()
    for rows in _rows(session, column, batch):
        for _, stored in rows:
            if not stored:
                continue
            index = vault.key_index(stored)
            tally["none" if index is None else "newest" if index == 0 else f"old-{index}"] += 1
    session.rollback()
    return tally

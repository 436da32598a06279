"""Keyed digests of requesters' names, so staff find a request by name through an index.

A digest is HMAC-SHA-256, under a key of ``NAME_SEARCH_KEYS`` (held outside the
database), of the name folded as matching folds it (``matching.normalize_name``:
case, accents, ligatures, spaces, hyphens and apostrophes), so "N'Diaye",
"ndiaye" and "N DIAYE" give one digest. Without the key a digest cannot be
checked against a guessed name, as a plain hash of a name could
(docs/security.md, "Searching names").

Two digests per request: the last name alone, and the first name followed by the
last. A search term is folded and looked up in both, and a term of several words
also in every order that puts some of its words first ("Dupont Marie" finds
Marie Dupont). It is an exact match: a digest cannot do substring.

Keys rotate like ``AUDIT_KEYS``: the first key writes, every key is searched, and
``flask keys rotate`` rewrites the digests under the first key (``rehash``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.models import Request
from app.rules.matching import normalize_name

DIGEST_LENGTH = 64
MAX_WORDS = 6  # a longer term is looked up as typed only


@dataclass(frozen=True)
class NameIndex:
    """The name-search keys, newest first."""

    keys: tuple[bytes, ...]

    @classmethod
    def of(cls, keys: list[str] | tuple[str, ...]) -> NameIndex:
        if not keys:
            raise ValueError("at least one name-search key is needed")
        return cls(tuple(key.encode() for key in keys))

    def _digest(self, key: bytes, folded: str) -> str:
        return hmac.new(key, folded.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def digests(self, first_name: str, last_name: str) -> dict[str, str | None]:
        """The two stored digests of a requester, under the newest key (None for an empty name)."""
        last = normalize_name(last_name)
        whole = normalize_name(first_name) + last
        return {
            "last_name_digest": self._digest(self.keys[0], last) if last else None,
            "full_name_digest": self._digest(self.keys[0], whole) if whole else None,
        }

    def search(self, term: str) -> tuple[str, ...]:
        """Every digest ``term`` may be stored as, under every key: empty when it holds no name."""
        folded = {normalize_name(t) for t in _orders(term)} - {""}
        return tuple(sorted({self._digest(key, text) for key in self.keys for text in folded}))


def _orders(term: str) -> Iterator[str]:
    """The term as typed, and with its first words moved to the end."""
    words = term.split()
    yield term
    if 1 < len(words) <= MAX_WORDS:
        for cut in range(1, len(words)):
            yield " ".join(words[cut:] + words[:cut])


def rehash(session: Session, index: NameIndex, *, batch: int = 1000) -> int:
    """Write every request's digests under the newest key; commits per batch; returns the count.

    Run after a key is added at the front of ``NAME_SEARCH_KEYS``: once it has run,
    the old key can be removed. Each update is conditional on the names read.
    """
    table: Any = Request.__table__
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            table.c.first_name == bindparam("first"),
            table.c.last_name == bindparam("last"),
        )
        .values(
            last_name_digest=bindparam("new_last"),
            full_name_digest=bindparam("new_full"),
        )
    )
    after, done = 0, 0
    while True:
        rows = session.execute(
            select(
                Request.id,
                Request.first_name,
                Request.last_name,
                Request.last_name_digest,
                Request.full_name_digest,
            )
            .where(Request.id > after)
            .order_by(Request.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        changes = []
        for row_id, first, last, stored_last, stored_full in rows:
            fresh = index.digests(first, last)
            if (stored_last, stored_full) != (
                fresh["last_name_digest"],
                fresh["full_name_digest"],
            ):
                changes.append(
                    {
                        "row_id": row_id,
                        "first": first,
                        "last": last,
                        "new_last": fresh["last_name_digest"],
                        "new_full": fresh["full_name_digest"],
                    }
                )
        if changes:
            done += session.connection().execute(statement, changes).rowcount
        session.commit()
        after = rows[-1][0]

"""The keys of the audit chain: HMAC-SHA256 keys held outside the database.

``AUDIT_KEYS`` lists them newest first: the first seals new events, every one
verifies the events sealed with it. Each key is known by an id derived from
it (``key_id``), which the sealed event records, so a chain sealed over
several rotations verifies event by event with the key that sealed it. The id
is an HMAC of a fixed label under the key: it names the key without telling
anything about it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KEY_ID_LENGTH = 16


def key_id(secret: str) -> str:
    """The short public name of a key, as the sealed events record it."""
    digest = hmac.new(secret.encode(), b"audit key id", hashlib.sha256).hexdigest()
    return digest[:KEY_ID_LENGTH]


@dataclass(frozen=True)
class Keyring:
    """The audit keys by id, and the id of the one that seals."""

    signing_id: str
    keys: Mapping[str, bytes]

    @classmethod
    def of(cls, secrets: Sequence[str]) -> Keyring:
        """The keyring of ``AUDIT_KEYS``, newest first; config.py has checked each key."""
        if not secrets:
            raise ValueError("the audit chain needs at least one key (AUDIT_KEYS)")
        return cls(key_id(secrets[0]), {key_id(s): s.encode() for s in secrets})

    def mac(self, kid: str, body: bytes) -> str | None:
        """HMAC-SHA256 of ``body`` under key ``kid``; None when this keyring lacks it."""
        key = self.keys.get(kid)
        if key is None:
            return None
        return hmac.new(key, body, hashlib.sha256).hexdigest()

"""Encryption at rest of the few sensitive values the portal stores.

Keys come from ``DATA_ENCRYPTION_KEYS`` (newest first): MultiFernet encrypts
with the first and decrypts with any, which is how a key is rotated.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class UnknownKey(Exception):
    """A stored value was encrypted with a key that is no longer configured."""

    def __init__(self) -> None:
        super().__init__(
            "a stored value cannot be decrypted with DATA_ENCRYPTION_KEYS: keep the old key "
            "in the list (after the new one) until every value has been rotated"
        )


class Vault:
    """Encrypts and decrypts short texts with the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed")
        self._keys = [Fernet(k) for k in keys]
        self._fernet = MultiFernet(self._keys)

    def encrypt(self, text: str | None) -> str | None:
        if text is None or text == "":
            return None
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise UnknownKey() from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a value under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise UnknownKey() from None

    def key_index(self, token: str | bytes) -> int | None:
        """Which configured key opens ``token`` (0 is the newest), or None: no key does."""
        raw = token.encode() if isinstance(token, str) else token
        for index, key in enumerate(self._keys):
            try:
                key.decrypt(raw)
            except InvalidToken:
                continue
            return index
        return None

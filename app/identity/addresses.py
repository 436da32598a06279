"""Comparing email addresses as mail servers deliver them, not as text."""

from __future__ import annotations

import idna


def address_key(email: str | None) -> str:
    """The address with its local part lower-cased and its domain in IDNA 2008 (ASCII) form.

    Not ``casefold``: ``groß.de`` and ``gross.de`` are different domains, and
    IDNA 2003 (Python's ``"idna"`` codec) would map one to the other. An
    address whose domain is not a valid name keeps it lower-cased, so it can
    never equal a valid one.
    """
    local, at, domain = (email or "").strip().rpartition("@")
    if not at:
        return (email or "").strip().lower()
    domain = domain.rstrip(".")
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        ascii_domain = domain.lower()
    return f"{local.lower()}@{ascii_domain.lower()}"


def same_address(one: str | None, other: str | None) -> bool:
    """Whether two addresses reach the same mailbox by the rules of ``address_key``."""
    if not one or not other:
        return False
    return address_key(one) == address_key(other)

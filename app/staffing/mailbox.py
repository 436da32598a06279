"""The mailbox an address reaches: one person, one staff account (docs/security.md, "Staff").

Plain Python with no import from the portal, so that ``app.models`` can use it
as the default of ``StaffUser.email_key``, whose unique index is what finally
refuses a second account for the same mailbox.
"""

from __future__ import annotations


def mailbox_key(email: str) -> str:
    """The address as the mailbox it reaches: ``ValueError`` if it is not an address.

    Capitals never make another mailbox (the local part is folded too, which
    mail servers do in practice), a ``+tag`` after the local part reaches the
    same mailbox as the address without it, and the domain is compared in its
    IDNA (ASCII) form, so ``é`` and ``xn--9ca`` are one domain. Erring towards
    "the same" only ever refuses an account, never merges two.
    """
    local, at, domain = email.strip().rpartition("@")
    local = local.split("+", 1)[0].casefold()
    if not at or not local or not domain or "@" in local:
        raise ValueError("not an email address")
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise ValueError("not an email address") from error
    if not ascii_domain:
        raise ValueError("not an email address")
    return f"{local}@{ascii_domain}"

"""Serialising a check and the write it guards when no existing row can be locked.

A limit such as "at most five filings per address per hour" counts rows and
then inserts one. On PostgreSQL, under READ COMMITTED, two transactions
counting at once both see the same count and both insert: the check is not a
limit. Where a row exists, the code locks it (``SELECT ... FOR UPDATE``) or
writes it conditionally (``UPDATE ... WHERE ...``). An address has no row of
its own, so its sequences take a transaction-level advisory lock on a hash of
the normalised address instead: released at commit or rollback, never left
behind by a crashed process.

On SQLite, ``BEGIN IMMEDIATE`` (``app._tune_sqlite``) already gives every
writing transaction the database's single write lock from its first
statement, so there is nothing to do.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session

# Separates these keys from any other advisory lock a deployment may use.
ADDRESS_NAMESPACE = b"portal:address:"


def lock_key(address: str) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock`` (a collision only serialises more)."""
    digest = hashlib.sha256(ADDRESS_NAMESPACE + address.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_address(session: Session, address: str) -> None:
    """Wait for, then hold until the end of the transaction, the lock of one address.

    Call it before the first read of the check: under READ COMMITTED each
    statement sees what was committed when it began, so the count that
    follows sees every filing or link that the previous holder committed.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(address)})


# Duties that one worker at a time does for all (housekeeping, sealing the audit chain).
DUTY_NAMESPACE = b"portal:duty:"
# Sealing the audit chain (and anchoring it): the name housekeeping gives its
# "audit" duty, which ``flask audit seal`` takes too.
SEAL_DUTY = "housekeeping:audit"


def duty_key(name: str) -> int:
    digest = hashlib.sha256(DUTY_NAMESPACE + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def try_duty(session: Session, name: str) -> bool:
    """Take, until the end of the transaction, the lock of a shared duty, if it is free.

    False when another worker holds it: that worker is doing the duty right now,
    so this one skips it instead of waiting (two workers never queue behind each
    other's housekeeping or sealing). On SQLite the database's single write lock
    already serialises writers: always True.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": duty_key(name)})
    )

"""The queue as CSV: the same rows as the page, cells a spreadsheet never runs.

Written in keyset batches so memory stays flat and no transaction stays open
while a slow client downloads (see ``export_batches``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.casework.queue import QueueFilter, QueueRow, batch, key_of

EXPORT_BATCH = 1000
CSV_HEADER = (
    "reference",
    "right",
    "status",
    "received_on",
    "due_on",
    "days_left",
    "assignee_email",
    "identity_review",
    "retained",
    "extended",
    "decision_pending",
)
# A spreadsheet runs a cell starting with these as a formula (or, for tab and
# CR, may shift it into one): OWASP "CSV injection".
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs: formula starts get a leading quote.

    Numbers we computed ourselves (days left) stay numbers: "-3" is not a formula.
    """
    if value is None:
        return ""
    if isinstance(value, int | date) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def csv_cells(row: QueueRow) -> list[str]:
    values: list[object] = [
        row.reference,
        row.kind,
        row.status,
        row.received_on,
        row.due_on,
        row.days_left,
        row.assignee_email,
        _yes(row.identity_review),
        _yes(row.retained),
        _yes(row.extended),
        row.pending_decision,
    ]
    return [csv_safe(value) for value in values]


def export_batches(
    session: Session, flt: QueueFilter, today: date, size: int = EXPORT_BATCH
) -> Iterator[list[list[str]]]:
    """The CSV lines of the whole filtered queue, header first, in keyset batches.

    Batches keep memory flat however long the export, and let the caller end
    its transaction between two of them, so no cursor, snapshot or (on
    SQLite) lock is held while a slow client reads. A case changed meanwhile
    shows in one state or the other; the keyset never repeats a row.
    """
    yield [list(CSV_HEADER)]
    after: tuple[Any, int] | None = None
    while True:
        rows = batch(session, flt, today, after, size)
        yield [csv_cells(row) for row in rows]
        if len(rows) < size:
            return
        after = key_of(rows[-1], flt.sort)


def export_rows(session: Session, flt: QueueFilter, today: date) -> Iterator[list[str]]:
    """The CSV lines of the whole filtered queue, header first, one by one."""
    for lines in export_batches(session, flt, today):
        yield from lines

"""Queue filters a member of staff names and keeps: at most ten each, listed on the queue.

A saved filter is a name and the queue's query string, checked by
``queue.parse_filter`` and written back in its canonical form, without the search
box (a name or an address typed there is personal data, and is not kept) and
without a page position. Saving a name already used replaces its query.

The cap is a limit, not a hope: the person's ``staff_users`` row is locked
(``SELECT ... FOR UPDATE``) before counting, so saves made at once by the same
person count one after the other (on SQLite, ``BEGIN IMMEDIATE`` serialises
writers already, ``app.locks``).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.casework import queue
from app.models import SavedFilter, StaffUser

MAX_PER_PERSON = 10
NAME_MAX = 60
QUERY_MAX = 1000
# What a saved filter never keeps: the search term, the page position.
DROPPED = ("q", "after", "seen")


class FilterError(Exception):
    """A save refused; ``reason`` is a code the view explains."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def canonical(query: str, me_id: int, staff_ids: set[int]) -> str:
    """The query string as the queue reads it, without what is never kept."""
    pairs = {k: v for k, v in parse_qsl(query[: QUERY_MAX * 2]) if k not in DROPPED}
    flt, _problems = queue.parse_filter(pairs, me_id, staff_ids)
    args = {k: v for k, v in flt.args().items() if k not in DROPPED}
    return urlencode(args)


def listed(session: Session, staff_id: int) -> list[SavedFilter]:
    return list(
        session.scalars(
            select(SavedFilter).where(SavedFilter.staff_id == staff_id).order_by(SavedFilter.name)
        )
    )


def save(
    session: Session, staff: StaffUser, name: str, query: str, *, now: datetime
) -> SavedFilter:
    """Keep ``query`` (already ``canonical``) under ``name`` for ``staff``; flushes."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise FilterError("empty_name")
    if len(cleaned) > NAME_MAX:
        raise FilterError("name_too_long")
    if len(query) > QUERY_MAX:
        raise FilterError("query_too_long")
    # The lock that makes the count a limit (see the module's docstring).
    session.execute(select(StaffUser.id).where(StaffUser.id == staff.id).with_for_update())
    existing = session.scalar(
        select(SavedFilter).where(SavedFilter.staff_id == staff.id, SavedFilter.name == cleaned)
    )
    if existing is not None:
        existing.query = query
        session.flush()
        return existing
    kept = session.scalar(
        select(func.count()).select_from(SavedFilter).where(SavedFilter.staff_id == staff.id)
    )
    if (kept or 0) >= MAX_PER_PERSON:
        raise FilterError("too_many")
    saved = SavedFilter(staff_id=staff.id, name=cleaned, query=query, created_at=now)
    session.add(saved)
    session.flush()
    return saved


def remove(session: Session, staff: StaffUser, filter_id: int) -> bool:
    """Delete one of ``staff``'s own filters; False when it is not theirs or is gone."""
    result = session.execute(
        delete(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.staff_id == staff.id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

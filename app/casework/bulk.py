"""Claiming, releasing or assigning several cases at once, each as if done alone.

A bulk action is the single action (``app.casework.cases`` ``claim``, ``release``,
``assign``) run once per case, with the version the queue showed for that case:
the same role check, the same stale-read refusal, one audit event per case. Each
case is its own transaction (``commit`` after each, ``rollback`` after a
refusal), so one refused case keeps nothing of itself and changes nothing of the
others, and two bulk actions never hold each other's rows. The cases are taken
in id order, the order every other writer locks them in.

There is no bulk approval: four eyes stays per case (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import lifecycle
from app.casework import cases
from app.models import Request, StaffUser
from app.outbox import emails
from app.staffing import roles

ACTIONS = ("claim", "release", "assign")
MAX_CASES = 50
# What each action needs of the person, checked before any case is touched.
PERMISSION = {"claim": roles.WORK_CASES, "release": roles.WORK_CASES, "assign": roles.ASSIGN}


class BulkError(Exception):
    """The bulk action as a whole is refused; ``reason`` is a code the view explains."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    """What happened to one case: done, or refused with a reason code."""

    reference: str
    done: bool
    reason: str = ""  # a cases reason code, "changed", "not_found"
    changed_by: str | None = None  # who changed the case meanwhile ("changed")
    changed_at: datetime | None = None


def parse_items(values: Sequence[str]) -> list[tuple[str, int]]:
    """The "reference:version" values of the ticked boxes; malformed ones refuse the whole."""
    items: dict[str, int] = {}
    for value in values:
        reference, colon, version = value.strip().rpartition(":")
        if not colon or not reference or not (version.isascii() and version.isdigit()):
            raise BulkError("malformed")
        if len(reference) > 20 or len(version) > 9:
            raise BulkError("malformed")
        items.setdefault(reference.upper(), int(version))
    if not items:
        raise BulkError("none_chosen")
    if len(items) > MAX_CASES:
        raise BulkError("too_many")
    return list(items.items())


def apply(
    session: Session,
    staff: StaffUser,
    action: str,
    items: Sequence[tuple[str, int]],
    *,
    assignee: StaffUser | None = None,
    now: datetime,
    mail: emails.MailSettings,
    commit: Callable[[], None],
    rollback: Callable[[], None],
) -> list[Outcome]:
    """Run ``action`` on each (reference, version); commits each case that succeeds.

    Refused as a whole (``BulkError``, nothing done) for an unknown action, a
    role that does not allow it, more than ``MAX_CASES`` cases, or an assignment
    without an assignee.
    """
    if action not in ACTIONS:
        raise BulkError("unknown_action")
    if not staff.is_active or not roles.allowed(staff.role, PERMISSION[action]):
        raise cases.Forbidden("role")
    if len(items) > MAX_CASES:
        raise BulkError("too_many")
    if action == "assign" and assignee is None:
        raise BulkError("no_assignee")
    wanted = dict(items)
    found = {
        row.reference: row.id
        for row in session.execute(
            select(Request.reference, Request.id).where(Request.reference.in_(list(wanted)))
        )
    }
    rollback()  # the lookup's read transaction ends: each case starts its own
    outcomes: dict[str, Outcome] = {
        ref: Outcome(ref, False, "not_found") for ref in wanted if ref not in found
    }
    for reference, request_id in sorted(found.items(), key=lambda pair: pair[1]):
        outcomes[reference] = _one(
            session, staff, action, request_id, reference, wanted[reference], assignee, now, mail
        )
        if outcomes[reference].done:
            commit()
        else:
            rollback()
    return [outcomes[ref] for ref in wanted]


def _one(
    session: Session,
    staff: StaffUser,
    action: str,
    request_id: int,
    reference: str,
    version: int,
    assignee: StaffUser | None,
    now: datetime,
    mail: emails.MailSettings,
) -> Outcome:
    request = session.get(Request, request_id, populate_existing=True)
    if request is None:
        return Outcome(reference, False, "not_found")
    try:
        if action == "claim":
            cases.claim(session, request, staff, version=version, now=now, mail=mail)
        elif action == "release":
            cases.release(session, request, staff, version=version, now=now, mail=mail)
        else:
            assert assignee is not None
            cases.assign(session, request, staff, assignee, version=version, now=now, mail=mail)
    except cases.CaseError as refusal:
        return Outcome(reference, False, refusal.reason)
    except lifecycle.StaleRequest as error:
        return Outcome(reference, False, "changed", error.changed_by, error.changed_at)
    return Outcome(reference, True)

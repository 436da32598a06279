"""What an irreversible decision will do, shown before it is confirmed.

Approving a plan releases health data (access, portability) or changes it
(objection, rectification); a DPO's approval of a prepared erasure erases
records, and of a prepared refusal closes the request. The confirmation step
(``app.staff.confirm_views``) shows this preview, per category and count, and
to whom, then asks for an explicit second POST. Plain data, read from the
plan in force and the catalogue: nothing is written, nothing is read from the
sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models import PlanLine, Request
from app.rules.catalogue import Catalogue

# What each outcome does, as the preview names it (``app.staff`` words them).
RELEASE = "release"  # a copy leaves for the requester
ERASE = "erase"
OBJECT = "object"
RECTIFY = "rectify"
REFUSE = "refuse"
NOTHING_FOUND = "nothing_found"
# The erasure and correction reach organisations that received the data (Art. 19).
_NOTIFIES = frozenset({"erase", "rectify"})


@dataclass(frozen=True)
class Preview:
    """What confirming the decision on one case will do."""

    outcome: str
    # The plan lines acted on (released, erased, left out of reuse, corrected).
    acted: tuple[PlanLine, ...]
    # The plan lines the law keeps, with their basis and date.
    kept: tuple[PlanLine, ...]
    # Organisations told of an erasure or a correction (GDPR Art. 19), by name.
    notified: tuple[str, ...]
    # The refusal ground, for a refusal.
    ground: str | None

    @property
    def records(self) -> int:
        return sum(line.record_count for line in self.acted)


def _outcome(request: Request, decision: str) -> str:
    if decision == "refuse":
        return REFUSE
    plan = request.plan
    if plan is None or plan.outcome == "no_data":
        return NOTHING_FOUND
    return {
        "access": RELEASE,
        "portability": RELEASE,
        "erasure": ERASE,
        "objection": OBJECT,
        "rectification": RECTIFY,
    }.get(request.kind, RELEASE)


def preview(request: Request, decision: str, catalogue: Catalogue) -> Preview:
    """What approving ``decision`` ("plan", "approve" or "refuse") on ``request`` does."""
    outcome = _outcome(request, decision)
    lines = tuple(request.plan.lines) if request.plan and outcome != REFUSE else ()
    # Records set aside for a request made for someone else are not acted on either.
    acted = tuple(
        line
        for line in lines
        if line.action not in ("retain", "withhold", "secret") and line.record_count
    )
    kept = tuple(line for line in lines if line.action == "retain")
    notified: set[str] = set()
    for line in acted:
        if line.action not in _NOTIFIES:
            continue
        try:
            info = catalogue.info(line.source, line.category)
        except (KeyError, StopIteration):  # a source or category since removed
            continue
        notified.update(recipient.name for recipient in info.recipients)
    ground = request.pending_ground if outcome == REFUSE else None
    return Preview(outcome, acted, kept, tuple(sorted(notified)), ground)

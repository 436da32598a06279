"""The plan and the report as the status page tells them: a summary, then one card per category.

A plan has one line per source, category and action, so an erasure that
erases part of a category and keeps the rest has two lines for it. A person
reads one card per category, saying what happens to each part and why. The
summary adds up the records per action ("15 records will be erased; 10 are
kept, the longest until ...").

Plain functions over lines already in hand (the plan's lines as rows, the
report's JSON lines): no query, no Flask. ``app.public.fragments`` renders
their result once per plan and language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.models import PlanLine

# The order a card tells its parts in: what was asked for first, what is kept after.
ACTION_ORDER = (
    "disclose",
    "erase",
    "exclude_from_reuse",
    "rectify",
    "retain",
    "refer",
    "withhold",
)
# Lines a requester never sees: a minor's records kept secret from a parent (CSP L.1111-5).
# Even a line saying "some records are not sent" would tell the parent that they exist.
HIDDEN_ACTIONS = frozenset({"secret"})


@dataclass(frozen=True)
class Outcome:
    """One part of a category: what happens to how many records, why, on which basis."""

    action: str
    count: int
    explanation: str | None
    basis: str | None
    kept_until: date | None = None
    # A rectification's report says whether anything was changed (None: not said).
    corrected: bool | None = None


@dataclass
class Card:
    category: str
    label: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(outcome.count for outcome in self.outcomes)


@dataclass(frozen=True)
class Summary:
    """The records per action, in ACTION_ORDER, and the latest date a kept record is kept to."""

    totals: tuple[tuple[str, int], ...]
    kept_longest: date | None

    @property
    def empty(self) -> bool:
        return not self.totals


def _rank(action: str) -> int:
    return ACTION_ORDER.index(action) if action in ACTION_ORDER else len(ACTION_ORDER)


def _cards(parts: Iterable[tuple[str, str, Outcome]]) -> list[Card]:
    cards: dict[str, Card] = {}
    for category, label, outcome in parts:
        card = cards.setdefault(category, Card(category, label))
        same = next((o for o in card.outcomes if _same_kind(o, outcome)), None)
        if same is None:
            card.outcomes.append(outcome)
        else:
            # The same category in two sources, with the same reason: one part.
            card.outcomes[card.outcomes.index(same)] = Outcome(
                same.action,
                same.count + outcome.count,
                same.explanation,
                same.basis,
                max(filter(None, (same.kept_until, outcome.kept_until)), default=None),
                same.corrected,
            )
    for card in cards.values():
        card.outcomes.sort(key=lambda o: _rank(o.action))
    return list(cards.values())


def _same_kind(a: Outcome, b: Outcome) -> bool:
    return (a.action, a.explanation, a.basis, a.corrected) == (
        b.action,
        b.explanation,
        b.basis,
        b.corrected,
    )


def plan_cards(lines: Iterable[PlanLine | Any], locale: str) -> list[Card]:
    """The plan's lines as one card per category, in the plan's order.

    A line is a ``PlanLine`` or any row with its columns as attributes (the status
    page reads plain rows, ``app.public.fragments``)."""
    lang = "en" if locale.startswith("en") else "fr"
    return _cards(
        (
            line.category,
            str(getattr(line, f"label_{lang}")),
            Outcome(
                line.action,
                line.record_count,
                getattr(line, f"explanation_{lang}") or None,
                getattr(line, f"basis_{lang}") or None,
                line.kept_until,
            ),
        )
        for line in lines
        if line.action not in HIDDEN_ACTIONS
    )


def report_cards(lines: Iterable[Mapping[str, Any]], locale: str) -> list[Card]:
    """The completion report's lines as one card per category, in the report's order."""
    lang = "en" if locale.startswith("en") else "fr"
    return _cards(
        (
            str(line["category"]),
            str(line.get(f"label_{lang}") or line["category"]),
            Outcome(
                str(line["action"]),
                int(line.get("count") or 0),
                line.get(f"explanation_{lang}") or None,
                line.get(f"basis_{lang}") or None,
                date.fromisoformat(line["kept_until"]) if line.get("kept_until") else None,
                bool(line["corrected"]) if "corrected" in line else None,
            ),
        )
        for line in lines
        if str(line["action"]) not in HIDDEN_ACTIONS
    )


def summary(cards: Iterable[Card]) -> Summary:
    """How many records per action, and until when the longest kept record is kept."""
    totals: dict[str, int] = {}
    longest: date | None = None
    for card in cards:
        for outcome in card.outcomes:
            totals[outcome.action] = totals.get(outcome.action, 0) + outcome.count
            if outcome.kept_until and (longest is None or outcome.kept_until > longest):
                longest = outcome.kept_until
    ordered = tuple(sorted(((a, n) for a, n in totals.items() if n), key=lambda t: _rank(t[0])))
    return Summary(ordered, longest)

"""The parts of the status page that never change once written, rendered once per language.

A plan is a snapshot: its texts and legal bases are copied in when it is
computed, and a recompute writes plan N+1 rather than changing plan N
(``app.models.Plan``); a completion report is written once. So the cards of a
plan or a report, and their summary, render to the same HTML for every view in
a given language: they are kept in a bounded in-process LRU, keyed on what
identifies the snapshot (its id, its request, when it was written, the
catalogue digest a plan was computed against; a digest of a report's lines) and
the locale. The blank public form's fields are kept the same way, per locale,
without their CSRF token.

Only the content is cached, never the decision to show it: the view decides per
request, from the request's identity assurance, whether the plan is shown at
all (``app.identity.assurance.shows_plan``) before it asks this cache for
anything. A plan's lines are read only on a miss, as plain rows (no ORM objects,
not their record keys). Nothing here holds a form, a CSRF token or anything
about who is looking.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import Any, NamedTuple

from flask import Flask, current_app
from markupsafe import Markup
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import FulfilmentReport, Plan, PlanLine
from app.public import plan_view

EXTENSION = "status_fragments"
DEFAULT_SIZE = 1024


class PlanHead(NamedTuple):
    """What the status page reads of the plan in force, without its lines."""

    id: int
    request_id: int
    outcome: str
    computed_on: date
    catalogue_digest: str
    created_at: datetime


class Cards(NamedTuple):
    """A plan's or a report's summary panel and card list, rendered."""

    summary: Markup
    cards: Markup


class LRU:
    """A thread-safe LRU of at most ``size`` entries (gthread workers share it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = build()  # outside the lock: two threads may build the same entry, alike
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


def cache_of(app: Flask) -> LRU:
    cache = app.extensions.get(EXTENSION)
    if cache is None:
        cache = app.extensions[EXTENSION] = LRU(DEFAULT_SIZE)
    return cache


# Built once: the views only bind the id (a statement built per view costs more than
# running it on SQLite).
PLAN_HEAD_COLUMNS = (
    Plan.id,
    Plan.request_id,
    Plan.outcome,
    Plan.computed_on,
    Plan.catalogue_digest,
    Plan.created_at,
)
PLAN_HEAD = (
    select(*PLAN_HEAD_COLUMNS)
    .where(Plan.request_id == bindparam("request_id"))
    .order_by(Plan.number.desc())
    .limit(1)
)

# What a card reads of a line: both languages' texts, never the record keys.
LINE_COLUMNS = (
    PlanLine.category,
    PlanLine.action,
    PlanLine.record_count,
    PlanLine.kept_until,
    PlanLine.label_fr,
    PlanLine.label_en,
    PlanLine.explanation_fr,
    PlanLine.explanation_en,
    PlanLine.basis_fr,
    PlanLine.basis_en,
)


PLAN_LINES = (
    select(*LINE_COLUMNS)
    .where(PlanLine.plan_id == bindparam("plan_id"))
    .order_by(PlanLine.position)
)


def plan_in_force(session: Session, request_id: int) -> PlanHead | None:
    """The latest plan of the request (one statement), without its lines."""
    row = session.execute(PLAN_HEAD, {"request_id": request_id}).first()
    return PlanHead(*row) if row is not None else None


def _macro(template: str, name: str, *args: Any, **kwargs: Any) -> Markup:
    """A macro of an (autoescaped) template called from Python: Markup, escaped by Jinja."""
    rendered = getattr(current_app.jinja_env.get_template(template).module, name)(*args, **kwargs)
    assert isinstance(rendered, Markup), "templates are autoescaped"
    return rendered


def _render(cards: list[plan_view.Card], done: bool) -> Cards:
    kit = "public/_plan_cards.html"
    return Cards(
        _macro(kit, "summary_panel", plan_view.summary(cards), done=done),
        _macro(kit, "card_list", cards, done=done),
    )


def plan_cards(session: Session, plan: PlanHead, locale: str) -> Cards:
    """The plan's summary and cards in ``locale``, its lines read only the first time."""

    def build() -> Cards:
        lines = session.execute(PLAN_LINES, {"plan_id": plan.id}).all()
        return _render(plan_view.plan_cards(lines, locale), done=False)

    key = ("plan", plan.id, plan.request_id, plan.created_at, plan.catalogue_digest, locale)
    return cache_of(current_app).get(key, build)


class ReportHead(NamedTuple):
    """What the status page reads of a completion report (``REPORT_COLUMNS``)."""

    id: int
    request_id: int
    lines: list[dict[str, Any]]
    created_at: datetime


REPORT_COLUMNS = (
    FulfilmentReport.id,
    FulfilmentReport.request_id,
    FulfilmentReport.lines,
    FulfilmentReport.created_at,
)


def report_cards(report: FulfilmentReport | ReportHead, locale: str) -> Cards:
    """The completion report's summary and cards in ``locale``, rendered once per content."""

    def build() -> Cards:
        return _render(plan_view.report_cards(report.lines, locale), done=True)

    # A report's lines may be written again until the request completes (a held
    # package): the key holds a digest of the lines themselves.
    digest = hashlib.sha256(
        json.dumps(report.lines, sort_keys=True, default=str).encode()
    ).hexdigest()
    key = ("report", report.id, report.request_id, digest, locale)
    return cache_of(current_app).get(key, build)


def blank_request_form(form: Any, kind_help: Any, locale: str) -> Markup | None:
    """The public form's fields, blank, in ``locale``: the same for every GET.

    A blank form has no data and no errors; its CSRF token is written by the page
    around these fields, never kept here. None for a form that is not blank (the
    page then renders its fields itself)."""
    if form.errors or any(
        field.data and field.data != field.default for field in form if field.name != "csrf_token"
    ):
        return None

    def build() -> Markup:
        return _macro("public/_request_form.html", "fields", form, kind_help)

    return cache_of(current_app).get(("request_form", locale), build)

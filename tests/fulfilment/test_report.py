"""The completion report's line (app.fulfilment.report), built once for every right."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from app.fulfilment.report import report_line
from app.models import PlanLine
from app.rules.catalogue import Text
from app.rules.routing import Line

LINE = Line(
    "hospital",
    "hospital.stay",
    "retain",
    3,
    Text("Séjours", "Stays"),
    Text("base", "basis"),
    Text("pourquoi", "why"),
    date(2040, 1, 31),
    {"stays": [[1], [2], [3]]},
)
STORED = PlanLine(
    position=0,
    source="hospital",
    category="hospital.stay",
    action="retain",
    record_count=3,
    label_fr="Séjours",
    label_en="Stays",
    basis_fr="base",
    basis_en="basis",
    explanation_fr="pourquoi",
    explanation_en="why",
    kept_until=date(2040, 1, 31),
    record_keys={"stays": [[1], [2], [3]]},
)
PLAIN = {
    "source": "hospital",
    "category": "hospital.stay",
    "action": "retain",
    "count": 3,
    "label_fr": "Séjours",
    "label_en": "Stays",
    "basis_fr": "base",
    "basis_en": "basis",
    "kept_until": "2040-01-31",
}


def test_a_stored_line_and_a_computed_one_give_the_same_report_line():
    """The plan's line as stored or as computed: the same entry, in the same key order."""
    assert list(report_line(STORED).items()) == list(report_line(LINE).items())
    assert list(report_line(LINE).items()) == list(PLAIN.items())


def test_a_right_adds_what_is_its_own():
    """A counted package line replaces the count and says how many were not found."""
    entry = report_line(LINE, count=2, not_found=1)
    assert list(entry) == [
        "source", "category", "action", "count", "not_found",
        "label_fr", "label_en", "basis_fr", "basis_en", "kept_until",
    ]  # fmt: skip
    assert (entry["count"], entry["not_found"]) == (2, 1)


def test_an_explained_line_carries_the_explanation_before_the_date():
    """Objection and rectification reports tell the requester why a record is kept."""
    entry = report_line(STORED, explained=True)
    assert list(entry)[-3:] == ["explanation_fr", "explanation_en", "kept_until"]
    assert (entry["explanation_fr"], entry["explanation_en"]) == ("pourquoi", "why")


def test_a_line_kept_without_end_has_no_date():
    """No retention end: kept_until is None, not a string."""
    assert report_line(replace(LINE, kept_until=None))["kept_until"] is None


def test_a_stored_line_copied_out_shares_nothing_with_the_session():
    """Line.of copies the record keys: changing them leaves the stored line as it was."""
    copied = Line.of(STORED)
    copied.record_keys["stays"].append([4])
    assert STORED.record_keys == {"stays": [[1], [2], [3]]}

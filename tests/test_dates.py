"""Dates as readers write them: "1er décembre 2026", "1 December 2026", Paris time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app import dates

ROOT = Path(__file__).resolve().parent.parent
NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "fr", "en"),
    [
        (date(2026, 12, 1), "1er décembre 2026", "1 December 2026"),
        (date(2026, 5, 15), "15 mai 2026", "15 May 2026"),
        (date(2046, 5, 1), "1er mai 2046", "1 May 2046"),
    ],
)
def test_a_long_date_is_day_month_year_with_1er_in_french(value, fr, en):
    """French writes the first of the month "1er"; English is British, day first."""
    assert dates.long_date(value, "fr") == fr
    assert dates.long_date(value, "en") == en


def test_a_short_date_keeps_the_same_order():
    """Tables use abbreviated months, in the same order."""
    assert dates.short_date(date(2026, 12, 1), "fr") == "1er déc. 2026"
    assert dates.short_date(date(2026, 12, 1), "en") == "1 Dec 2026"


def test_a_time_is_paris_time_whatever_the_servers_zone():
    """23:30 UTC on 30 November is already 1 December in Paris (winter, UTC+1)."""
    instant = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert dates.date_time(instant, "fr").replace(NBSP, " ") == "1er décembre 2026 à 0 h 30"
    assert dates.date_time(instant, "en").replace(NBSP, " ") == "1 December 2026 at 00:30"
    summer = datetime(2026, 7, 14, 12, 0)  # naive, as SQLite gives it back: UTC
    assert dates.date_time(summer, "fr").replace(NBSP, " ") == "14 juillet 2026 à 14 h 00"


def test_no_template_formats_a_date_any_other_way():
    """Every template goes through the one helper (long_date, short_date, date_time)."""
    others = [
        path.relative_to(ROOT)
        for path in (ROOT / "templates").rglob("*")
        if path.is_file()
        and ("dateformat" in path.read_text() or "timeformat" in path.read_text())
    ]
    assert others == []

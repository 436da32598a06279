"""Dates as a reader writes them: "1er décembre 2026" in French, "1 December 2026" in English.

The one formatter of dates and times for pages and emails (the templates' ``long_date``,
``short_date`` and ``date_time`` filters, app.i18n). Babel's own "long" format says
"1 décembre" (French writes the first of the month "1er") and "December 1, 2026"
(American order); English here is British, day month year. Times are Paris time,
whatever zone the server runs in, as the requester's calendar is (app.deadlines).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

PARIS = ZoneInfo("Europe/Paris")
# A non-breaking space: "15 h 04" never breaks over two lines.
NBSP = "\u00a0"


def _french(locale: str) -> bool:
    return str(locale).lower().startswith("fr")


def in_paris(value: datetime) -> datetime:
    """A stored instant in Paris time (SQLite gives back naive UTC values)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(PARIS)


def _day(value: date, locale: str) -> str:
    return "1er" if _french(locale) and value.day == 1 else str(value.day)


def long_date(value: date | datetime, locale: str) -> str:
    """1er décembre 2026 / 1 December 2026."""
    if isinstance(value, datetime):
        value = in_paris(value).date()
    if _french(locale):
        return f"{_day(value, locale)} {format_date(value, 'MMMM y', locale='fr')}"
    return format_date(value, "d MMMM y", locale="en_GB")


def short_date(value: date | datetime, locale: str) -> str:
    """1er déc. 2026 / 1 Dec 2026: for tables."""
    if isinstance(value, datetime):
        value = in_paris(value).date()
    if _french(locale):
        return f"{_day(value, locale)} {format_date(value, 'MMM y', locale='fr')}"
    return format_date(value, "d MMM y", locale="en_GB")


def date_time(value: datetime, locale: str) -> str:
    """1er décembre 2026 à 15 h 04 / 1 December 2026 at 15:04, in Paris time."""
    local = in_paris(value)
    if _french(locale):
        hour = format_time(local, f"H'{NBSP}h{NBSP}'mm", locale="fr")
        return f"{long_date(local.date(), locale)} à {hour}"
    return f"{long_date(local.date(), locale)} at {format_time(local, 'HH:mm', locale='en_GB')}"

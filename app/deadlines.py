"""Legal deadline arithmetic for data-subject requests: the one place a due date is computed.

``due_date`` gives a request's due date from its receipt date, its track, its
extension and its suspensions; every module that sets ``Request.due_on`` calls
it, from the receipt each time (never from a stored due date). The rest are
the calendar pieces it is built from.

GDPR Art. 12(3) gives the controller one month from receipt of a request to
act on it, extendable by two further months. How "one month" is counted is
set by Regulation (EEC, Euratom) No 1182/71:

* Art. 3(1): the day on which the request is received does not count;
* Art. 3(2)(c): a period in months ends on the day of the last month that
  has the same date as the day of receipt, or on the last day of that month
  when no such date exists;
* Art. 3(4): a period ending on a Saturday, Sunday or public holiday ends on
  the following working day.

Access to a medical record follows the Public Health Code instead when it is
stricter (L.1111-7: eight days, or two months for information over five years
old); which requests communicate a medical record is the catalogue's
knowledge, decided in ``app.rules.routing``, which passes the plain result.

Public holidays are those of metropolitan France, where the controller is
established. Plain functions only: no Flask, no database.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

PARIS = ZoneInfo("Europe/Paris")

_SATURDAY = 5

MONTH = 1  # GDPR Art. 12(3): one month
EXTENDED_MONTHS = 3  # the month plus two further months
MEDICAL_RECORD_DAYS = 8
MEDICAL_RECORD_OLD_YEARS = 5
MEDICAL_RECORD_OLD_MONTHS = 2


def receipt_date(moment: datetime) -> date:
    """Return the calendar date in Europe/Paris on which ``moment`` falls.

    Raises ValueError for a naive datetime.
    """
    # A naive value could be server-local or UTC; guessing would shift receipts
    # made around midnight onto the wrong day, and with them the deadline.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("receipt_date needs a timezone-aware datetime")
    return moment.astimezone(PARIS).date()


@lru_cache(maxsize=256)
def _french_holidays(year: int) -> frozenset[date]:
    # Building a holidays.France calendar is far slower than a set lookup, and
    # deadlines are computed for every request listed; a frozenset also cannot
    # be mutated by a caller through the shared cache. Bounded, but 256 years
    # covers every date the portal will ever see.
    return frozenset(holidays.France(years=year).keys())


def is_working_day(day: date) -> bool:
    """True unless ``day`` is a Saturday, a Sunday or a French public holiday."""
    return day.weekday() < _SATURDAY and day not in _french_holidays(day.year)


def next_working_day(day: date) -> date:
    """Return ``day`` itself if it is a working day, else the next working day."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_months(received: date, months: int) -> date:
    """Return the last day of a period of ``months`` months starting on ``received``.

    Same date ``months`` months later, clamped to the end of a shorter month
    (received 31 January -> 28 or 29 February). Weekends and holidays are not
    considered here; see ``due_date``.

    Raises TypeError for a datetime (convert it with ``receipt_date`` first) and
    ValueError when ``months`` is less than 1.
    """
    # datetime is a subclass of date; passing a UTC timestamp straight through
    # would silently skip the Paris-date conversion that decides the receipt day.
    if isinstance(received, datetime):
        raise TypeError("pass receipt_date(moment), not a datetime")
    if months < 1:
        raise ValueError("a legal period is at least one month")
    # relativedelta clamps to the last day of the month, as Art. 3(2)(c) requires.
    return received + relativedelta(months=months)


@dataclass(frozen=True)
class Track:
    """Which law's period runs for a request: the GDPR month, or the medical record's.

    Build the medical one with ``Track.medical_record(newest)``: ``newest`` is
    the date of the newest piece of information communicated (None when none
    is dated, read as old).
    """

    name: Literal["gdpr", "medical_record"] = "gdpr"
    newest_record: date | None = None

    @classmethod
    def medical_record(cls, newest_record: date | None) -> "Track":
        return cls("medical_record", newest_record)


GDPR = Track()


def medical_record_is_recent(received: date, newest_record: date | None) -> bool:
    """Whether the medical-record track gives eight days (some information is
    less than five years old) rather than two months (L.1111-7)."""
    recent_since = received - relativedelta(years=MEDICAL_RECORD_OLD_YEARS)
    return newest_record is not None and newest_record >= recent_since


def _medical_record_end(received: date, newest_record: date | None) -> date:
    # L.1111-7: eight days from the request, or two months when every piece of
    # information is more than five years old. Not moved past weekends: the
    # stricter reading, as this track is meant to be the fast one.
    if medical_record_is_recent(received, newest_record):
        return received + timedelta(days=MEDICAL_RECORD_DAYS)
    return add_months(received, MEDICAL_RECORD_OLD_MONTHS)


def due_date(
    received: date,
    track: Track = GDPR,
    *,
    extended: bool = False,
    suspensions: Sequence[int] = (),
) -> date:
    """Return the last day to answer a request received on ``received``.

    ``track``: ``GDPR`` (one month, moved to the next working day) or
    ``Track.medical_record(newest)`` (the Public Health Code's eight days or two
    months, not moved). ``extended``: the two-month extension was notified
    (GDPR track only; ValueError on the other, which has none).
    ``suspensions``: the days the clock stood still, one entry per pause (or
    their total as one entry: only the sum counts).

    The paused days belong to the period (Reg. 1182/71, Art. 3): they are
    added to its last day, and only then does the end of the GDPR period move
    to the next working day (Art. 3(4)). Received so that the month ends on
    Sunday 28 February, paused 3 days: due Wednesday 3 March, not Thursday 4.
    The medical-record track is never moved, paused or not.
    """
    paused = timedelta(days=sum(suspensions))
    if track.name == "medical_record":
        if extended:
            raise ValueError("the Public Health Code's track has no extension")
        return _medical_record_end(received, track.newest_record) + paused
    months = EXTENDED_MONTHS if extended else MONTH
    return next_working_day(add_months(received, months) + paused)

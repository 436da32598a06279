"""Tests for the GDPR Art. 12(3) deadline arithmetic in app.deadlines."""

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.deadlines import (
    PARIS,
    add_months,
    due_date,
    is_working_day,
    next_working_day,
    receipt_date,
)

# Expected weekdays and holidays below were checked against the calendar and
# holidays.France before being written down.
receipt_days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


def test_receipt_after_midnight_paris_is_next_day():
    """A request at 22:30 UTC on 13 June (00:30 in Paris, summer) is received on 14 June."""
    assert receipt_date(datetime(2026, 6, 13, 22, 30, tzinfo=UTC)) == date(2026, 6, 14)


def test_receipt_before_midnight_paris_is_same_day():
    """A request at 21:30 UTC on 13 June (23:30 in Paris) is received on 13 June."""
    assert receipt_date(datetime(2026, 6, 13, 21, 30, tzinfo=UTC)) == date(2026, 6, 13)


def test_receipt_new_year_in_winter_time():
    """At 23:30 UTC on 31 December Paris (UTC+1) is already on 1 January."""
    assert receipt_date(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 1, 1)


def test_receipt_accepts_any_aware_timezone():
    """An aware datetime in another zone is converted to the Paris calendar date."""
    new_york = timezone(timedelta(hours=-4))
    assert receipt_date(datetime(2026, 6, 13, 19, 0, tzinfo=new_york)) == date(2026, 6, 14)
    assert receipt_date(datetime(2026, 6, 14, 0, 30, tzinfo=PARIS)) == date(2026, 6, 14)


def test_receipt_rejects_naive_datetime():
    """A naive datetime raises ValueError instead of guessing its timezone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        receipt_date(datetime(2026, 6, 13, 22, 30))


def test_add_months_clamps_31_january_to_28_february():
    """31 January 2025 plus one month is 28 February 2025, a Friday, also the due date."""
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert due_date(date(2025, 1, 31)) == date(2025, 2, 28)


def test_add_months_clamps_to_29_february_in_leap_year():
    """31 January 2024 plus one month is 29 February 2024, a Thursday, also the due date."""
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert due_date(date(2024, 1, 31)) == date(2024, 2, 29)


def test_add_months_rejects_datetime():
    """A datetime must go through receipt_date first, so add_months refuses it."""
    with pytest.raises(TypeError):
        add_months(datetime(2026, 6, 13, 22, 30, tzinfo=UTC), 1)


@pytest.mark.parametrize("months", [0, -1])
def test_add_months_rejects_empty_or_negative_period(months):
    """A period shorter than one month is a programming error."""
    with pytest.raises(ValueError):
        add_months(date(2026, 1, 15), months)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # 15 March 2025 is a Saturday.
        (date(2025, 2, 15), date(2025, 3, 17)),
        # 14 July 2026 (Bastille Day) is a Tuesday.
        (date(2026, 6, 14), date(2026, 7, 15)),
        # 25 December 2025 is a Thursday; 26 December is not a holiday outside Alsace-Moselle.
        (date(2025, 11, 25), date(2025, 12, 26)),
        # 1 January 2026 is a Thursday.
        (date(2025, 12, 1), date(2026, 1, 2)),
        # Easter Monday 2026 is 6 April.
        (date(2026, 3, 6), date(2026, 4, 7)),
        # 1 May 2026 is a Friday, followed by a weekend.
        (date(2026, 4, 1), date(2026, 5, 4)),
        # 8 May 2026 (Victory Day) is a Friday, followed by a weekend.
        (date(2026, 4, 8), date(2026, 5, 11)),
        # Saturday 4 April 2026, then Sunday, then Easter Monday.
        (date(2026, 3, 4), date(2026, 4, 7)),
        # Christmas 2027 is a Saturday.
        (date(2027, 11, 25), date(2027, 12, 27)),
        # 30 April 2026 is an ordinary Thursday: no shift.
        (date(2026, 3, 31), date(2026, 4, 30)),
    ],
)
def test_due_date_moves_past_weekends_and_holidays(received, expected):
    """A period ending on a weekend or French public holiday ends on the next working day."""
    assert due_date(received) == expected


def test_extended_period_of_three_months():
    """The extended period counts three months, clamps, then skips the weekend."""
    # 30 November 2025 + 3 months = 28 February 2026, a Saturday.
    assert due_date(date(2025, 11, 30), months=3) == date(2026, 3, 2)


def test_receipt_to_due_date_end_to_end():
    """A request at 00:30 Paris on 14 June 2026 is due on 15 July, after Bastille Day."""
    received = receipt_date(datetime(2026, 6, 13, 22, 30, tzinfo=UTC))
    assert due_date(received) == date(2026, 7, 15)


def test_working_day_examples():
    """Weekdays are working days; weekends and public holidays are not."""
    assert is_working_day(date(2026, 7, 15))
    assert not is_working_day(date(2026, 7, 14))
    assert not is_working_day(date(2026, 6, 13))
    assert not is_working_day(date(2026, 6, 14))
    assert next_working_day(date(2026, 7, 15)) == date(2026, 7, 15)
    assert next_working_day(date(2026, 5, 1)) == date(2026, 5, 4)


@given(receipt_days)
def test_due_date_is_after_receipt(received):
    """The due date is strictly after the day of receipt."""
    assert due_date(received) > received


@given(receipt_days)
def test_due_date_is_working_day(received):
    """The due date is always a working day."""
    assert is_working_day(due_date(received))


@given(receipt_days)
def test_due_date_never_before_one_month(received):
    """The due date is never earlier than the end of the one-month period."""
    assert due_date(received) >= add_months(received, 1)


@given(receipt_days)
def test_due_date_shift_is_at_most_five_days(received):
    """Skipping weekends and holidays never adds more than five days."""
    assert due_date(received) - add_months(received, 1) <= timedelta(days=5)


@given(receipt_days, st.integers(min_value=1, max_value=3))
def test_add_months_keeps_day_unless_clamped(received, months):
    """add_months keeps the day of month, or clamps it to the last day of a shorter month."""
    end = add_months(received, months)
    assert (end.year * 12 + end.month) - (received.year * 12 + received.month) == months
    last_day = calendar.monthrange(end.year, end.month)[1]
    assert end.day == received.day or (end.day == last_day < received.day)


# Small gaps matter most: month-end clamping maps several receipt days onto
# one end date, which is where an ordering bug would show.
@given(receipt_days, st.integers(min_value=1, max_value=62))
def test_due_date_is_monotonic(received, gap):
    """A later receipt never gives an earlier due date."""
    later = received + timedelta(days=gap)
    assert due_date(received) <= due_date(later)


def test_medical_record_access_is_due_in_eight_days_when_recent():
    """L.1111-7: eight days for information under five years old."""
    from app.deadlines import medical_record_due_date

    received = date(2026, 3, 2)
    assert medical_record_due_date(received, date(2024, 1, 1)) == date(2026, 3, 10)
    assert medical_record_due_date(received, date(2021, 3, 2)) == date(2026, 3, 10)


def test_medical_record_access_gets_two_months_when_all_is_old():
    """Every piece of information over five years old: two months."""
    from app.deadlines import medical_record_due_date

    received = date(2026, 3, 2)
    assert medical_record_due_date(received, date(2021, 3, 1)) == date(2026, 5, 2)
    assert medical_record_due_date(received, None) == date(2026, 5, 2)

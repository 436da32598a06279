"""Tests for the deadline arithmetic in app.deadlines: receipt, tracks, extension, pauses.

``due_date`` is the one function every path calls (intake, routing, the
resume and the extension); the pause properties compare it with the rule
written out (``_reference``), and the tables with dates checked by hand.
"""

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from app.deadlines import (
    GDPR,
    PARIS,
    Track,
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
    assert due_date(date(2025, 11, 30), extended=True) == date(2026, 3, 2)


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
    received = date(2026, 3, 2)
    assert due_date(received, Track.medical_record(date(2024, 1, 1))) == date(2026, 3, 10)
    assert due_date(received, Track.medical_record(date(2021, 3, 2))) == date(2026, 3, 10)


def test_medical_record_access_gets_two_months_when_all_is_old():
    """Every piece of information over five years old: two months."""
    received = date(2026, 3, 2)
    assert due_date(received, Track.medical_record(date(2021, 3, 1))) == date(2026, 5, 2)
    assert due_date(received, Track.medical_record(None)) == date(2026, 5, 2)


# --- Pauses: the paused days belong to the period (Reg. 1182/71, Art. 3; issue 18) ---


def _reference(received, track, extended, paused):
    """The rule written out: the period's end, plus the days paused, then (GDPR) moved."""
    total = timedelta(days=sum(paused))
    if track.name == "medical_record":
        newest = track.newest_record
        if newest is not None and newest >= received - relativedelta(years=5):
            return received + timedelta(days=8) + total
        return add_months(received, 2) + total
    return next_working_day(add_months(received, 3 if extended else 1) + total)


pauses = st.lists(st.integers(min_value=0, max_value=60), max_size=4)
newest_records = st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
tracks = st.just(GDPR) | st.builds(Track.medical_record, newest_records)


@given(receipt_days, tracks, st.booleans(), pauses)
def test_the_paused_days_are_added_to_the_period_before_its_end_moves(
    received, track, extended, paused
):
    """Any track, extension and pauses: the period's end plus the pauses, then moved."""
    extended = extended and track == GDPR
    due = due_date(received, track, extended=extended, suspensions=paused)
    assert due == _reference(received, track, extended, paused)


@given(receipt_days, tracks, st.booleans(), pauses)
def test_only_the_total_of_the_pauses_counts(received, track, extended, paused):
    """Paused three times or once for as long: the same date, so a request keeps the total."""
    extended = extended and track == GDPR
    assert due_date(received, track, extended=extended, suspensions=paused) == due_date(
        received, track, extended=extended, suspensions=(sum(paused),)
    )


@given(receipt_days, tracks, st.booleans(), pauses, st.integers(min_value=0, max_value=60))
def test_a_longer_pause_never_gives_an_earlier_date(received, track, extended, paused, days):
    """One more day paused never brings the due date forward."""
    extended = extended and track == GDPR
    so_far = due_date(received, track, extended=extended, suspensions=paused)
    again = due_date(received, track, extended=extended, suspensions=(*paused, days))
    assert so_far <= again


@given(receipt_days, tracks, pauses)
def test_a_pause_of_no_day_changes_nothing(received, track, paused):
    """A pause that began and ended the same day moves no date, even a Saturday one."""
    with_zeros = [d for days in paused for d in (0, days, 0)]
    assert due_date(received, track, suspensions=with_zeros) == due_date(
        received, track, suspensions=paused
    )


@given(receipt_days, tracks, st.booleans(), pauses)
def test_pauses_add_their_days_to_the_period_and_at_most_five_more(
    received, track, extended, paused
):
    """The pauses lengthen the period by their days, plus at most one weekend and holidays."""
    extended = extended and track == GDPR
    if track == GDPR:
        end = add_months(received, 3 if extended else 1)
    else:
        end = due_date(received, track)
    due = due_date(received, track, extended=extended, suspensions=paused)
    assert end + timedelta(days=sum(paused)) <= due <= end + timedelta(days=sum(paused) + 5)


@given(receipt_days, st.booleans(), pauses)
def test_the_gdpr_due_date_is_a_working_day(received, extended, paused):
    """The GDPR track always ends on a working day, paused or not."""
    assert is_working_day(due_date(received, extended=extended, suspensions=paused))


@given(receipt_days, pauses)
def test_an_extension_always_ends_later(received, paused):
    """Three months, pauses alike, end after the one month with the same pauses."""
    assert due_date(received, extended=True) >= add_months(received, 3)
    month = due_date(received, suspensions=paused)
    assert due_date(received, extended=True, suspensions=paused) > month


@given(receipt_days, newest_records)
def test_the_medical_track_is_stricter_only_for_recent_records(received, newest):
    """Eight days always beat the month; two months never do (routing keeps the month)."""
    medical = due_date(received, Track.medical_record(newest))
    recent = newest is not None and newest >= received - relativedelta(years=5)
    assert (medical < due_date(received)) == recent
    assert medical == (received + timedelta(days=8) if recent else add_months(received, 2))


@given(receipt_days, newest_records, st.integers(min_value=1, max_value=62))
def test_the_medical_track_is_monotonic(received, newest, gap):
    """With the same records, a later receipt never gives an earlier medical due date."""
    track = Track.medical_record(newest)
    assert due_date(received, track) <= due_date(received + timedelta(days=gap), track)


@given(receipt_days, newest_records)
def test_the_medical_track_has_no_extension(received, newest):
    """An extension on the Public Health Code's track is a programming error."""
    with pytest.raises(ValueError, match="no extension"):
        due_date(received, Track.medical_record(newest), extended=True)


RECENT = Track.medical_record(date(2025, 12, 1))
OLD = Track.medical_record(date(2020, 1, 1))


@pytest.mark.parametrize(
    ("received", "track", "extended", "paused", "expected"),
    [
        # The GDPR month. Monday 2 March 2026 -> Thursday 2 April.
        (date(2026, 3, 2), GDPR, False, (), date(2026, 4, 2)),
        # + 3 days: Sunday 5 April (Easter), then Easter Monday -> Tuesday 7.
        (date(2026, 3, 2), GDPR, False, (3,), date(2026, 4, 7)),
        # Friday 27 March + 1 + 1 = Sunday 29 -> Monday 30, as one pause of 2 days:
        # the pauses are in the period, only its end moves.
        (date(2026, 2, 27), GDPR, False, (1, 1), date(2026, 3, 30)),
        (date(2026, 2, 27), GDPR, False, (2,), date(2026, 3, 30)),
        # Extended: Tuesday 2 June; + 3 -> Friday 5; + 2 (Thursday 4), + 3 -> Sunday -> Monday 8.
        (date(2026, 3, 2), GDPR, True, (), date(2026, 6, 2)),
        (date(2026, 3, 2), GDPR, True, (3,), date(2026, 6, 5)),
        (date(2026, 3, 2), GDPR, True, (2, 3), date(2026, 6, 8)),
        # Medical record, recent: eight days, Tuesday 10 March; + 3 -> Friday 13.
        (date(2026, 3, 2), RECENT, False, (), date(2026, 3, 10)),
        (date(2026, 3, 2), RECENT, False, (3,), date(2026, 3, 13)),
        # Eight days ending on Saturday 14 March stay there: the track is not moved ...
        (date(2026, 3, 6), RECENT, False, (), date(2026, 3, 14)),
        (date(2026, 3, 6), RECENT, False, (0,), date(2026, 3, 14)),
        # ... nor after a pause: + 1 = Sunday 15; + 1, + 1 = Monday 16.
        (date(2026, 3, 6), RECENT, False, (1,), date(2026, 3, 15)),
        (date(2026, 3, 6), RECENT, False, (1, 1), date(2026, 3, 16)),
        # Medical record, old (or undated): two months, Saturday 2 May, not moved; + 2 = Monday 4.
        (date(2026, 3, 2), OLD, False, (), date(2026, 5, 2)),
        (date(2026, 3, 2), Track.medical_record(None), False, (), date(2026, 5, 2)),
        (date(2026, 3, 2), OLD, False, (2,), date(2026, 5, 4)),
        # Five years to the day is still recent; one day more is old.
        (date(2026, 3, 2), Track.medical_record(date(2021, 3, 2)), False, (), date(2026, 3, 10)),
        (date(2026, 3, 2), Track.medical_record(date(2021, 3, 1)), False, (), date(2026, 5, 2)),
        # Received 29 February 2024: five years before is 28 February 2019 (clamped).
        (date(2024, 2, 29), Track.medical_record(date(2019, 2, 28)), False, (), date(2024, 3, 8)),
        (date(2024, 2, 29), Track.medical_record(date(2019, 2, 27)), False, (), date(2024, 4, 29)),
    ],
)
def test_due_date_for_each_track_extension_and_pauses(received, track, extended, paused, expected):
    """Every combination of track, extension and pauses, on dates checked by hand."""
    assert due_date(received, track, extended=extended, suspensions=paused) == expected


@pytest.mark.parametrize(
    ("received", "track", "extended", "paused", "expected"),
    [
        # Month ends. 31 October 2025 + 3 months = Saturday 31 January 2026 -> Monday 2 February.
        (date(2025, 10, 31), GDPR, True, (), date(2026, 2, 2)),
        # 31 December 2025 + 2 months = Saturday 28 February 2026, not moved (old records).
        (date(2025, 12, 31), OLD, False, (), date(2026, 2, 28)),
        # 31 January 2024 + 1 month = Thursday 29 February (leap year); + 1 -> Friday 1 March.
        (date(2024, 1, 31), GDPR, False, (1,), date(2024, 3, 1)),
        # French holidays. Sunday 8 November 2026 -> Monday 9; Sunday 8 + 3 = Armistice
        # Day (Wednesday 11) -> Thursday 12.
        (date(2026, 10, 8), GDPR, False, (), date(2026, 11, 9)),
        (date(2026, 10, 8), GDPR, False, (3,), date(2026, 11, 12)),
        # Ascension, Thursday 14 May 2026 -> Friday 15.
        (date(2026, 4, 14), GDPR, False, (), date(2026, 5, 15)),
        # Whit Monday, 25 May 2026 -> Tuesday 26.
        (date(2026, 4, 25), GDPR, False, (), date(2026, 5, 26)),
        # Assumption, Saturday 15 August 2026 -> Monday 17.
        (date(2026, 7, 15), GDPR, False, (), date(2026, 8, 17)),
        # All Saints' Day, Sunday 1 November 2026 -> Monday 2.
        (date(2026, 10, 1), GDPR, False, (), date(2026, 11, 2)),
        # Christmas 2026 (Friday) seen from a pause: Thursday 24 December + 1 -> Monday 28.
        (date(2026, 11, 24), GDPR, False, (1,), date(2026, 12, 28)),
    ],
)
def test_due_date_at_month_ends_and_holidays(received, track, extended, paused, expected):
    """Clamped month ends, weekends and French public holidays, on each path."""
    assert due_date(received, track, extended=extended, suspensions=paused) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Summer time starts at 02:00 on Sunday 29 March 2026 (UTC+1 before, UTC+2 after).
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 4, 29)),  # 00:30 on the 29th
        (datetime(2026, 3, 29, 21, 30, tzinfo=UTC), date(2026, 4, 29)),  # 23:30 on the 29th
        (datetime(2026, 3, 29, 22, 30, tzinfo=UTC), date(2026, 4, 30)),  # 00:30 on the 30th
        # Winter time starts at 03:00 on Sunday 25 October 2026 (UTC+2 before, UTC+1 after).
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 11, 25)),  # 00:30 on the 25th
        (datetime(2026, 10, 25, 22, 30, tzinfo=UTC), date(2026, 11, 25)),  # 23:30 on the 25th
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), date(2026, 11, 26)),  # 00:30 on the 26th
    ],
)
def test_receipt_and_due_date_across_daylight_saving_changes(moment, expected):
    """The Paris calendar day decides the receipt on the nights the clocks change."""
    assert due_date(receipt_date(moment)) == expected


def test_a_pause_belongs_to_the_period():
    """Issue 18: 28 February 2027 + 3 days = Wednesday 3 March, a working day."""
    assert due_date(date(2027, 1, 28), suspensions=(3,)) == date(2027, 3, 3)

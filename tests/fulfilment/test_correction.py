"""Typing a correction's inputs (app.fulfilment.correction), without a database."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Numeric, String, Table, Text

from app.fulfilment.correction import TEXT_MAX, RectifyError, convert, is_date

TABLE = Table(
    "t",
    MetaData(),
    Column("born", Date, nullable=False),
    Column("seen_at", DateTime),
    Column("count", Integer),
    Column("dose", Numeric),
    Column("code", String(5)),
    Column("note", Text),
)


def test_each_input_takes_its_columns_type():
    """Dates, date-times, numbers and text come back typed; an empty nullable input is None."""
    c = TABLE.c
    assert convert(c.born, " 1980-05-17 ") == date(1980, 5, 17)
    assert convert(c.seen_at, "2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5)
    assert convert(c.count, "12") == 12
    assert convert(c.dose, "2.5") == 2.5
    assert convert(c.code, "AB") == "AB"
    assert convert(c.count, "") is None


@pytest.mark.parametrize(
    ("column", "raw", "reason"),
    [
        ("born", "", "required"),
        ("born", "17/05/1980", "invalid_date"),
        ("count", "twelve", "invalid_number"),
        ("code", "ABCDEF", "too_long"),
        ("note", "x" * (TEXT_MAX + 1), "too_long"),
    ],
)
def test_a_wrong_input_is_refused_naming_its_field(column, raw, reason):
    """The refusal carries the reason code and the column's name."""
    with pytest.raises(RectifyError) as refused:
        convert(TABLE.c[column], raw)
    assert (refused.value.reason, refused.value.field) == (reason, column)


def test_only_a_date_without_time_is_a_date():
    """The screen's date hint is for Date columns, not DateTime ones."""
    assert is_date(TABLE.c.born) and not is_date(TABLE.c.seen_at)

"""A date of birth as three fields, day, month and year (the GOV.UK "memorable date" pattern).

One text box with a date picker let a typed 31/02 through as "missing" and showed
its own order next to a hint in another. Three short numeric boxes cannot be
misread, and each error names the part that is wrong: ``read`` is the one
parser, pure, and ``MemorableDateField`` the WTForms field around it. The
field's inputs are ``<name>-day``, ``<name>-month`` and ``<name>-year``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Field
from wtforms.utils import unset_value

PARTS = ("day", "month", "year")
EARLIEST = date(1900, 1, 1)
MISSING = {
    ("day",): _l("The date of birth must include a day."),
    ("month",): _l("The date of birth must include a month."),
    ("year",): _l("The date of birth must include a year."),
    ("day", "month"): _l("The date of birth must include a day and a month."),
    ("day", "year"): _l("The date of birth must include a day and a year."),
    ("month", "year"): _l("The date of birth must include a month and a year."),
}


# The messages that name the date: a date of birth unless a field says otherwise.
BIRTH = {
    "empty": _l("Enter your date of birth."),
    "missing": MISSING,
    "future": _l("The date of birth cannot be in the future."),
    "early": _l("Check the year of your date of birth."),
}
DEATH = {
    "empty": _l("Enter the date of death."),
    "missing": {
        ("day",): _l("The date of death must include a day."),
        ("month",): _l("The date of death must include a month."),
        ("year",): _l("The date of death must include a year."),
        ("day", "month"): _l("The date of death must include a day and a month."),
        ("day", "year"): _l("The date of death must include a day and a year."),
        ("month", "year"): _l("The date of death must include a month and a year."),
    },
    "future": _l("The date of death cannot be in the future."),
    "early": _l("Check the year of the date of death."),
}


@dataclass(frozen=True)
class Reading:
    """What three typed parts say: a date, or a message and the parts it blames."""

    value: date | None
    message: Any = None  # a lazy string
    wrong: tuple[str, ...] = ()


def _number_within(text: str, low: int, high: int) -> bool:
    # isdigit() alone lets other scripts' digits (and superscripts) through.
    return text.isascii() and text.isdigit() and low <= int(text) <= high


def read(
    day: str, month: str, year: str, *, today: date, messages: dict[str, Any] = BIRTH
) -> Reading:
    """The date the three parts name, or the first thing wrong with them."""
    typed = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    empty = tuple(part for part in PARTS if not typed[part])
    if len(empty) == len(PARTS):
        return Reading(None, messages["empty"], ("day", "month", "year"))
    if empty:
        return Reading(None, messages["missing"][empty], empty)
    if not _number_within(typed["day"], 1, 31):
        return Reading(None, _l("The day must be a number between 1 and 31."), ("day",))
    if not _number_within(typed["month"], 1, 12):
        return Reading(None, _l("The month must be a number between 1 and 12."), ("month",))
    if not (_number_within(typed["year"], 0, 9999) and len(typed["year"]) == 4):
        return Reading(None, _l("The year must have 4 digits, for example 1980."), ("year",))
    numbers = int(typed["day"]), int(typed["month"]), int(typed["year"])
    try:
        value = date(numbers[2], numbers[1], numbers[0])
    except ValueError:
        shown = f"{numbers[0]:02d}/{numbers[1]:02d}/{numbers[2]}"
        return Reading(
            None,
            _l("%(date)s does not exist: check the day and the month.", date=shown),
            ("day", "month"),
        )
    if value > today:
        return Reading(None, messages["future"], PARTS)
    if value < EARLIEST:
        return Reading(None, messages["early"], ("year",))
    return Reading(value)


class MemorableDateField(Field):
    """Three inputs read as one date; ``wrong`` names the parts an error blames.

    ``today`` is a callable so that the requester's calendar (Paris) is read when the
    form is, not when the module is imported.
    """

    def __init__(
        self,
        label: Any = None,
        *,
        today: Any,
        messages: dict[str, Any] = BIRTH,
        applies: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, **kwargs)
        self.today = today
        self.messages = messages
        # A callable of the form: when it answers False the boxes are not read (no error).
        self.applies = applies
        self.typed: dict[str, str] = {part: "" for part in PARTS}
        self.wrong: tuple[str, ...] = ()

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        self.process_errors = []
        self.wrong = ()
        if data is unset_value:
            data = self.default() if callable(self.default) else self.default
        self.object_data = data
        self.data = data
        if isinstance(data, date):
            self.typed = {
                "day": str(data.day),
                "month": str(data.month),
                "year": str(data.year),
            }
        if formdata is None:
            return
        self.typed = {part: str(formdata.get(self.part_name(part), "")) for part in PARTS}
        self.raw_data = [self.typed[part] for part in PARTS]
        reading = read(**self.typed, today=self.today(), messages=self.messages)
        self.data = reading.value
        if reading.value is None:
            self.wrong = reading.wrong
            self.process_errors.append(str(reading.message))

    def validate(self, form: Any, extra_validators: Any = ()) -> bool:
        if self.applies is not None and not self.applies(form):
            self.errors: list[Any] = []
            self.data = None
            self.wrong = ()
            return True
        return bool(super().validate(form, extra_validators))

    def part_name(self, part: str) -> str:
        return f"{self.name}-{part}"

    def part_id(self, part: str) -> str:
        return f"{self.id}-{part}"

    @property
    def error_anchor(self) -> str:
        """Where the error summary's link goes: the first part that is wrong."""
        return self.part_id(self.wrong[0] if self.wrong else PARTS[0])

    def _value(self) -> str:
        return self.data.isoformat() if isinstance(self.data, date) else ""

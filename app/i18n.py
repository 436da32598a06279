"""Language of the pages: French first, English on request, remembered in the session."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, request, session
from flask_babel import format_decimal, get_locale

from app import dates
from app.labels import (
    ACTION_LABELS,
    ASSURANCE_LABELS,
    DOCUMENT_REASON_LABELS,
    EXTENSION_LABELS,
    KIND_LABELS,
    REFUSAL_LABELS,
    STATUS_LABELS,
)

LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT = "fr"


def select_locale() -> str:
    """The chosen language: ``?lang=`` sets it, the session keeps it, French otherwise."""
    return str(session.get("lang", DEFAULT))


def _remember_choice() -> None:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen


def _locale() -> str:
    return str(get_locale() or DEFAULT)


def long_date(value: date | datetime) -> str:
    return dates.long_date(value, _locale())


def short_date(value: date | datetime) -> str:
    return dates.short_date(value, _locale())


def date_time(value: datetime) -> str:
    return dates.date_time(value, _locale())


def init_app(app: Flask) -> None:
    app.before_request(_remember_choice)
    # Numbers grouped as the reader expects: 12 345 in French, 12,345 in English.
    app.add_template_filter(format_decimal, "format_number")
    # Email payloads carry dates as ISO text (JSON); templates format them per locale.
    app.add_template_filter(date.fromisoformat, "isodate")
    # The one way dates are written (app.dates), in the page's or the email's language.
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(short_date, "short_date")
    app.add_template_filter(date_time, "date_time")

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {
            # Pages that name their Request model ``request`` hide Flask's: the
            # layout reads the endpoint under a name of its own. No link is
            # built from the request's path: the language switch is the fixed
            # relative "?lang=xx", which stays on this page whatever the path
            # holds (a "/\\host" path once made it lead off-site).
            "current_endpoint": request.endpoint,
            "languages": LANGUAGES,
            "current_locale": select_locale(),
            "kind_labels": KIND_LABELS,
            "status_labels": STATUS_LABELS,
            "action_labels": ACTION_LABELS,
            "refusal_labels": REFUSAL_LABELS,
            "extension_labels": EXTENSION_LABELS,
            "assurance_labels": ASSURANCE_LABELS,
            "document_reason_labels": DOCUMENT_REASON_LABELS,
        }

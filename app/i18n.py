"""Language of the pages: French first, English on request, remembered in the session."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app, g, request, session
from flask_babel import format_decimal, get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app import dates
from app.labels import (
    ACTION_LABELS,
    ASSURANCE_LABELS,
    DOCUMENT_REASON_LABELS,
    EXTENSION_LABELS,
    KIND_LABELS,
    PROOF_REASON_LABELS,
    PROOF_STATE_LABELS,
    REFUSAL_LABELS,
    STATUS_LABELS,
    kind_label,
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


def translations() -> Any:
    """Flask-Babel's translations for the locale in force, looked up once per locale change.

    Flask-Babel finds them again on every ``_()`` of a template (four lookups of the
    request's context and the locale's name each time); a page calls it some thirty
    times. The result is kept beside Flask-Babel's own locale on the context and used
    while that locale object is the same: ``force_locale`` (emails) sets another one,
    so it is never the wrong language."""
    holder = g.get("_flask_babel") if g else None
    if holder is None:
        return get_translations()
    locale = getattr(holder, "babel_locale", None)
    kept = getattr(holder, "portal_translations", None)
    if locale is not None and kept is not None and kept[0] is locale:
        return kept[1]
    found = get_translations()
    holder.portal_translations = (get_locale(), found)
    return found


# The code-to-words tables the templates read, by the name they read them under.
LABEL_TABLES = {
    "kind_labels": KIND_LABELS,
    "status_labels": STATUS_LABELS,
    "action_labels": ACTION_LABELS,
    "refusal_labels": REFUSAL_LABELS,
    "extension_labels": EXTENSION_LABELS,
    "assurance_labels": ASSURANCE_LABELS,
    "document_reason_labels": DOCUMENT_REASON_LABELS,
    "proof_reason_labels": PROOF_REASON_LABELS,
    "proof_state_labels": PROOF_STATE_LABELS,
}
_translated_tables: dict[str, dict[str, dict[str, str]]] = {}


def label_tables() -> dict[str, dict[str, str]]:
    """LABEL_TABLES translated into the locale in force, once per locale for the process.

    The tables hold lazy strings, each translated again whenever a page prints one
    (the status page prints one per event of its timeline); the catalogues do not
    change while the process runs."""
    locale = str(get_locale())
    found = _translated_tables.get(locale)
    if found is None:
        found = {
            name: {code: str(words) for code, words in table.items()}
            for name, table in LABEL_TABLES.items()
        }
        _translated_tables[locale] = found
    return found


@pass_context
def _template_gettext(context: Context, string: str, **variables: Any) -> str:
    """``_()`` in templates: Jinja's newstyle gettext (escaped, always %-formatted) in one call."""
    text = translations().ugettext(string)
    if context.eval_ctx.autoescape:
        # As Jinja's own newstyle gettext: the catalogue's text is trusted, the
        # variables are escaped by the % below.
        text = Markup(text)  # noqa: S704
    return text % variables


def _locale() -> str:
    return str(get_locale() or DEFAULT)


# Babel builds each text from the locale's patterns; the same few dates come back on
# every view of a page (received, due, each event), and the text depends on the value
# and the locale only.
_long_date = functools.lru_cache(maxsize=4096)(dates.long_date)
_short_date = functools.lru_cache(maxsize=4096)(dates.short_date)
_date_time = functools.lru_cache(maxsize=4096)(dates.date_time)


def long_date(value: date | datetime) -> str:
    return _long_date(value, _locale())


def short_date(value: date | datetime) -> str:
    return _short_date(value, _locale())


def date_time(value: datetime) -> str:
    return _date_time(value, _locale())


def shown_status(item: Any) -> str:
    """The code a request's status is named by (``app.identity.assurance.shown_status``)."""
    from app.identity import assurance
    from app.services import services_of

    return assurance.shown_status(services_of(current_app).assurance, item)


def init_app(app: Flask) -> None:
    app.before_request(_remember_choice)
    # Templates' _() and ngettext() through the lookup above (Flask-Babel installs its own).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals["_"] = _template_gettext
    # Numbers grouped as the reader expects: 12 345 in French, 12,345 in English.
    app.add_template_filter(format_decimal, "format_number")
    # Email payloads carry dates as ISO text (JSON); templates format them per locale.
    app.add_template_filter(date.fromisoformat, "isodate")
    # The one way dates are written (app.dates), in the page's or the email's language.
    app.add_template_filter(long_date, "long_date")
    app.add_template_filter(short_date, "short_date")
    app.add_template_filter(date_time, "date_time")
    app.add_template_global(shown_status, "shown_status")
    # The right as the requester reads it, on pages and in emails (the same environment).
    app.add_template_global(kind_label, "right_label")

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
            **label_tables(),
        }

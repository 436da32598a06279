"""The access package as a page people read: the JSON document written for a person.

``render_html`` turns the document of ``package_document.build`` into the
page of ``templates/package/package.html``: who holds the data first, a
summary, the contents, then each category's Art. 15 information and its
records. Each value is written as its column's kind says (a date in the
reader's format, euros, yes or no, a code with its meaning); hidden columns
and internal keys never reach the page. Everything comes from the document
itself, so the page and the JSON cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.fulfilment.package_words import count, language, redacted, words
from config import ROOT

TEMPLATES = ROOT / "templates" / "package"
# Babel's locales: English in day-month-year order, as in the United Kingdom.
BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
EMPTY = "—"
_TRUE = {"1", "true", "yes", "oui", "y", "t"}
_FALSE = {"0", "false", "no", "non", "n", "f"}
# What may go inside a CSS string of the print footer.
_CSS_UNSAFE = re.compile(r"[^\w .,:()/'-]", re.UNICODE)


@dataclass(frozen=True)
class Cell:
    """One value as people read it; ``code`` is shown before the text, set apart."""

    text: str
    code: str = ""


@dataclass
class TableView:
    label: str
    headings: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.rows)


def day(value: Any, locale: str) -> str:
    """A date as the reader writes it: 29/10/2025 in both languages (en-GB order)."""
    try:
        parsed = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return format_date(parsed, "dd/MM/yyyy", locale=BABEL_LOCALES[language(locale)])


def cell(value: Any, column: dict[str, Any], row: dict[str, Any], doc: dict[str, Any]) -> Cell:
    """``value`` written as ``column``'s kind says, in the document's language."""
    locale = doc["language"]
    babel_locale = BABEL_LOCALES[language(locale)]
    if value is None or value == "":
        return Cell(EMPTY)
    kind = column.get("kind", "text")
    if kind == "date":
        return Cell(day(value, locale))
    if kind in ("euros", "number"):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return Cell(str(value))
        if kind == "euros":
            return Cell(format_currency(number, "EUR", locale=babel_locale))
        return Cell(format_decimal(number, locale=babel_locale))
    if kind == "yes_no":
        said = str(value).strip().lower()
        if said in _TRUE:
            return Cell(words(locale)["yes"])
        if said in _FALSE:
            return Cell(words(locale)["no"])
        return Cell(str(value))
    if kind == "code":
        code = str(value)
        if column.get("meaning"):
            meaning = row.get(column["meaning"])
        else:
            meaning = doc.get("code_lists", {}).get(column.get("codes", ""), {}).get(code)
        if meaning in (None, ""):
            return Cell(code)
        return Cell(str(meaning), code if column.get("show_code", True) else "")
    return Cell(str(value))


def _tables(doc: dict[str, Any]) -> dict[tuple[str, str], list[TableView]]:
    """Per (source, category): one view per table, in the category's order, rows formatted."""
    views: dict[tuple[str, str, str], TableView] = {}
    shown: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    grouped: dict[tuple[str, str], list[TableView]] = {}
    for category in doc["categories"]:
        group = grouped.setdefault((category["source"], category["category"]), [])
        for table in category["tables"]:
            key = (category["source"], category["category"], table["table"])
            columns = [c for c in table["columns"] if c["shown"]]
            shown[key] = columns
            views[key] = TableView(table["label"], [c["label"] for c in columns])
            group.append(views[key])
    for entry in doc["records"]:
        key = (entry["source"], entry["category"], entry["table"])
        if key not in views:
            continue
        fields = entry["fields"]
        views[key].rows.append([cell(fields.get(c["name"]), c, fields, doc) for c in shown[key]])
    return {k: [t for t in v if t.rows] for k, v in grouped.items()}


def period(category: dict[str, Any], locale: str) -> str:
    """ "from 12/03/2019 to 28/11/2026", "on 12/03/2019", or nothing without dates."""
    span = category.get("period")
    if not span:
        return ""
    say = words(locale)
    start, end = day(span["from"], locale), day(span["to"], locale)
    if start == end:
        return say["period_one"] % {"date": start}
    return say["period_range"] % {"start": start, "end": end}


def _css_text(text: str) -> str:
    return _CSS_UNSAFE.sub("", text)


_environment: Environment | None = None


def render_html(document: dict[str, Any], locale: str) -> str:
    """The printable page, from ``templates/package/package.html`` (autoescaped)."""
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined
        )
    say = words(locale, bool(document.get("for_someone_else")))
    return _environment.get_template("package.html").render(
        doc=document,
        say=say,
        intro=say["intro"] % {"reference": document["reference"]},
        tables=_tables(document),
        count=lambda n: count(locale, n),
        redacted=lambda n: redacted(locale, n),
        period=lambda category: period(category, locale),
        produced_on=day(document["generated_at"], locale),
        total=sum(c["records"] for c in document["categories"]),
        print_reference=_css_text(f"{say['reference']} {document['reference']}"),
        print_page=_css_text(say["page"]),
        print_of=_css_text(say["page_of"]),
    )

"""Tests that the French catalog covers every user-facing string the code and templates mark.

They read files only: no database, no Flask application. The extraction is run
afresh with the same ``babel.cfg`` and keywords as ``translations/README.md``,
so a string added anywhere in app/ or templates/ fails here until it is translated.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
# Keep in step with the extract command of translations/README.md and the Makefile.
EXTRACT_ARGS = ["-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--add-comments=TRANSLATORS:"]
# Named printf placeholders such as %(reference)s or %(max)d.
# Jinja comments, expressions and statements: what is left of a template is its literal text.
JINJA_CODE = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", re.S)
WORDS = re.compile(r"[^\W\d_]{2,}")
# Attributes a reader hears or sees as text.
TEXT_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}
# Templates that are in one language on purpose, and why.
ONE_LANGUAGE = {
    # GDPR Art. 19 notice to the recipients of the data: French health bodies.
    "email/recipient_notice/body.html": "fr",
}
NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +\-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _texts(value: str | tuple[str, ...] | list[str]) -> list[str]:
    """The singular and plural forms of a msgid or msgstr, as a list."""
    return [value] if isinstance(value, str) else list(value)


def _label(message: Message) -> str:
    return repr(_texts(message.id)[0])


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A template extracted now from app/ and templates/, as pybabel would write it."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            *EXTRACT_ARGS,
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stderr}"
    with pot.open("rb") as handle:
        catalog = read_po(handle)
    assert len([m for m in catalog if m.id]) > 0, "the extraction found no message at all"
    return catalog


@pytest.fixture(scope="module")
def french() -> Catalog:
    """The French catalog as committed."""
    with CATALOG.open("rb") as handle:
        return read_po(handle, locale="fr")


def test_every_extracted_message_has_a_french_translation(
    extracted: Catalog, french: Catalog
) -> None:
    """Every string marked in app/ or templates/ has a non-empty, non-fuzzy French translation."""
    missing, empty, fuzzy = [], [], []
    for message in extracted:
        if not message.id:
            continue
        translated = french.get(message.id, context=message.context)
        if translated is None:
            missing.append(_label(message))
        elif translated.fuzzy:
            fuzzy.append(_label(message))
        elif not all(text.strip() for text in _texts(translated.string)):
            empty.append(_label(message))
    problems = []
    if missing:
        problems.append(
            "messages not in the catalog (run pybabel update):\n  " + "\n  ".join(missing)
        )
    if empty:
        problems.append("messages with an empty translation:\n  " + "\n  ".join(empty))
    if fuzzy:
        problems.append(
            "messages marked fuzzy (check, then remove the flag):\n  " + "\n  ".join(fuzzy)
        )
    assert not problems, (
        f"{CATALOG.relative_to(ROOT)}:\n" + "\n".join(problems) + "\nSee translations/README.md."
    )


def test_catalog_holds_no_message_the_code_no_longer_uses(
    extracted: Catalog, french: Catalog
) -> None:
    """The catalog has no active entry left over from a string removed from the code."""
    current = {(message.id, message.context) for message in extracted if message.id}
    leftover = [
        _label(message)
        for message in french
        if message.id and (message.id, message.context) not in current
    ]
    assert not leftover, (
        "messages no longer in app/ or templates/ (run pybabel update with "
        "--ignore-obsolete):\n  " + "\n  ".join(leftover)
    )


def test_placeholders_are_the_same_in_msgid_and_msgstr(french: Catalog) -> None:
    """Each translation keeps exactly the named placeholders of its English original."""
    wrong = []
    for message in french:
        if not message.id:
            continue
        expected_specs = {
            spec.group(0)
            for text in _texts(message.id)
            for spec in NAMED_PLACEHOLDER.finditer(text)
        }
        for text in _texts(message.string):
            if not text:
                continue  # an empty translation is reported by the coverage test
            specs = {spec.group(0) for spec in NAMED_PLACEHOLDER.finditer(text)}
            if specs != expected_specs:
                wrong.append(
                    f"{_label(message)}: expected {sorted(expected_specs)}, "
                    f"found {sorted(specs)} in {text!r}"
                )
    assert not wrong, "placeholders differ between msgid and msgstr:\n  " + "\n  ".join(wrong)


def test_catalog_has_no_obsolete_entries(french: Catalog) -> None:
    """The French catalog keeps no obsolete ``#~`` entries."""
    obsolete_lines = [
        line for line in CATALOG.read_text(encoding="utf-8").splitlines() if line.startswith("#~")
    ]
    assert not french.obsolete and not obsolete_lines, (
        "obsolete entries left in the catalog (delete them, or update with "
        "--ignore-obsolete):\n  " + "\n  ".join(obsolete_lines[:20])
    )


def test_catalog_header_declares_french() -> None:
    """The catalog header names French, its two plural forms, and is not fuzzy."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    assert str(catalog.locale) == "fr"
    assert catalog.num_plurals == 2
    assert catalog.plural_expr.replace(" ", "") == "(n>1)"
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"


class _LiteralText(HTMLParser):
    """Collects words written in a template outside ``{{ _() }}``: text and text attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._verbatim = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"style", "script", "code"}:
            self._verbatim += 1
        shown = set(TEXT_ATTRIBUTES)
        if tag == "input" and dict(attrs).get("type") in {"submit", "button", "reset"}:
            shown.add("value")  # the label of a button
        for name, value in attrs:
            if name in shown and value and WORDS.search(value):
                self.found.append((self.getpos()[0], f"{name}={value!r}"))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"style", "script", "code"}:
            self._verbatim -= 1

    def handle_data(self, data: str) -> None:
        if not self._verbatim and WORDS.search(data):
            self.found.append((self.getpos()[0], data.strip()))


def test_templates_write_no_text_outside_gettext() -> None:
    """Every word a template shows goes through gettext, so it exists in both languages."""
    templates = ROOT / "templates"
    untranslated = []
    for path in sorted(templates.rglob("*.html")):
        name = path.relative_to(templates).as_posix()
        if name in ONE_LANGUAGE:
            continue
        # Keep line numbers: each Jinja block becomes as many newlines as it held.
        literal = JINJA_CODE.sub(
            lambda match: "\n" * match.group(0).count("\n") + " ", path.read_text("utf-8")
        )
        parser = _LiteralText()
        parser.feed(literal)
        untranslated += [f"templates/{name}:{line}: {text[:70]!r}" for line, text in parser.found]
    assert not untranslated, (
        "text written outside {{ _(...) }} is shown untranslated in one of the languages:\n  "
        + "\n  ".join(untranslated)
    )

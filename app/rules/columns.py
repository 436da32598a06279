"""What the catalogue says about each column a person sees in their access package.

A data table of ``sources.toml`` describes its columns in a ``columns``
section: each column is either hidden (``{ shown = false }``: technical keys,
internal ids) or shown under a label in both languages, with a **kind** that
says how its values are written for people (a date, an amount in euros, yes or
no, a code with its meaning, a number, free text). Code meanings come from a
column of the same row (``meaning = "label"``: the ICD-10 label stored beside
the code) or from a code list of the catalogue (``codes = "acts"``,
``[code_lists.acts]``). A free-text column that may mention other people (a
letter, a summary) says so with ``mentions_others = true``: before such records
are released, the holder reviews them and masks the passages about third
parties (``app.casework.third_parties``). ``check_live`` (in ``catalogue``) refuses a live column
the catalogue does not describe: it would otherwise reach a citizen under its
database name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.rules.toml_checks import Problems, Text, read_text, unknown_keys

KINDS = ("text", "date", "euros", "yes_no", "code", "number")
_COLUMN_FIELDS = ("fr", "en", "kind", "shown", "meaning", "codes", "show_code", "mentions_others")


@dataclass(frozen=True)
class Column:
    """One column of a data table: hidden, or shown under ``label`` as ``kind``."""

    name: str
    label: Text | None
    kind: str = "text"
    shown: bool = True
    # For a code: the column of the same row that holds its meaning, or a code list.
    meaning: str | None = None
    codes: str | None = None
    # False where the code is itself a word ("email"): its meaning alone is shown.
    show_code: bool = True
    # Free text that may name other people: reviewed, and redacted, before release.
    mentions_others: bool = False


CodeLists = Mapping[str, Mapping[str, Text]]


def read_code_lists(raw: Any, p: Problems) -> dict[str, dict[str, Text]]:
    """``[code_lists.NAME]`` tables: each code with its meaning in both languages."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        p.add(
            "code_lists", 'must hold [code_lists.NAME] tables: CODE = { fr = "...", en = "..." }.'
        )
        return {}
    lists: dict[str, dict[str, Text]] = {}
    for name, entries in raw.items():
        key = f"code_lists.{name}"
        if not isinstance(entries, Mapping) or not entries:
            p.add(key, 'must list codes: CODE = { fr = "...", en = "..." }.')
            continue
        lists[name] = {}
        for code, text in entries.items():
            meaning = read_text(text, f'{key}."{code}"', p)
            if meaning:
                lists[name][str(code)] = meaning
    return lists


def _column(name: str, raw: Any, key: str, p: Problems) -> Column | None:
    if not isinstance(raw, Mapping):
        p.add(
            key,
            'must be { fr = "...", en = "...", kind = "..." } for a column people see, '
            "or { shown = false } for a technical key.",
        )
        return None
    unknown_keys(raw, _COLUMN_FIELDS, key, p)
    shown = raw.get("shown", True)
    if not isinstance(shown, bool):
        p.add(f"{key}.shown", "must be true or false.")
        return None
    mentions_others = raw.get("mentions_others", False)
    if not isinstance(mentions_others, bool):
        p.add(f"{key}.mentions_others", "must be true or false.")
        return None
    if not shown:
        if mentions_others:
            p.add(
                f"{key}.mentions_others",
                "is for a column people see: a hidden column is never released, so there "
                "is nothing to review. Remove it, or show the column.",
            )
            return None
        return Column(name, None, shown=False)
    missing = [lang for lang in ("fr", "en") if not str(raw.get(lang, "")).strip()]
    if missing:
        p.add(
            key,
            f"is shown to people but has no label in {' and '.join(missing)}. "
            f'Add {missing[0]} = "...", or set shown = false if it is a technical key.',
        )
        return None
    label = Text(str(raw["fr"]).strip(), str(raw["en"]).strip())
    kind = raw.get("kind", "text")
    if kind not in KINDS:
        p.add(f"{key}.kind", f"'{kind}' is not a kind. Choose one of: {', '.join(KINDS)}.")
        return None
    meaning, codes = raw.get("meaning"), raw.get("codes")
    if kind == "code" and bool(meaning) == bool(codes):
        p.add(
            key,
            'is a code: say where its meaning is, either meaning = "COLUMN" (a column of '
            'the same row) or codes = "LIST" (a [code_lists.LIST] table).',
        )
        return None
    show_code = raw.get("show_code", True)
    if kind != "code" and (meaning or codes or "show_code" in raw):
        p.add(key, 'meaning, codes and show_code are for kind = "code" only.')
        return None
    if not isinstance(show_code, bool):
        p.add(f"{key}.show_code", "must be true or false.")
        return None
    for value, field_name in ((meaning, "meaning"), (codes, "codes")):
        if value is not None and not (isinstance(value, str) and value.strip()):
            p.add(f"{key}.{field_name}", "must be a non-empty string.")
            return None
    if mentions_others and kind != "text":
        p.add(
            f"{key}.mentions_others",
            f'is for free text (kind = "text"), where a passage about someone else can be '
            f'masked; this column is kind = "{kind}". Remove mentions_others.',
        )
        return None
    return Column(name, label, str(kind), True, meaning, codes, show_code, mentions_others)


def read_columns(
    raw: Any,
    key: str,
    keys: tuple[str, ...],
    code_lists: CodeLists,
    p: Problems,
) -> tuple[Column, ...]:
    """The ``columns`` section of a data table; ``keys`` (its ids) must not be shown."""
    if not isinstance(raw, Mapping) or not raw:
        p.add(
            key,
            "missing. Describe every column of the table: "
            'NAME = { fr = "...", en = "...", kind = "text" } or NAME = { shown = false }.',
        )
        return ()
    columns = []
    for name, spec in raw.items():
        column = _column(str(name), spec, f"{key}.{name}", p)
        if column is None:
            continue
        if column.shown and column.name in keys:
            p.add(
                f"{key}.{name}",
                "is an internal key (the primary key or the subject column): people must "
                "not see it. Set shown = false.",
            )
            continue
        if column.meaning and column.meaning not in raw:
            p.add(
                f"{key}.{name}.meaning",
                f"'{column.meaning}' is not a column of this table. Describe it in {key}.",
            )
            continue
        if column.codes and column.codes not in code_lists:
            known = ", ".join(sorted(code_lists)) or "none"
            p.add(
                f"{key}.{name}.codes",
                f"'{column.codes}' is not a code list (known: {known}). "
                f"Add a [code_lists.{column.codes}] table.",
            )
            continue
        columns.append(column)
    return tuple(columns)

"""The pieces the catalogue and the policy files are both read with.

``sources.toml`` and ``rules.toml`` are written by a data protection officer,
not by the authors of this code: both readers collect every problem before
failing (``Problems``), name unknown keys with a guess at the intended one
(``unknown_keys``), and read each sentence in both languages (``read_text``,
giving a ``Text``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Text:
    """A sentence in each language the portal speaks."""

    fr: str
    en: str

    def in_(self, locale: str) -> str:
        return self.en if locale.startswith("en") else self.fr


class Problems:
    """Collects messages that all start with the file's name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.path.name}: {key}: {message}")


def unknown_keys(
    table: Mapping[str, Any], allowed: tuple[str, ...], key: str, p: Problems
) -> None:
    """Report each key of ``table`` not in ``allowed``, with the closest allowed one."""
    for name in table:
        if name not in allowed:
            guess = difflib.get_close_matches(name, allowed, n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else f" Allowed: {', '.join(allowed)}."
            p.add(f"{key}.{name}", f"unknown key.{hint}")


def read_text(value: Any, key: str, p: Problems) -> Text | None:
    """Read a ``{ fr = "...", en = "..." }`` table; both languages are required."""
    if not isinstance(value, Mapping):
        p.add(key, 'must be a table with both languages: { fr = "...", en = "..." }.')
        return None
    missing = [lang for lang in LANGUAGES if not str(value.get(lang, "")).strip()]
    if missing:
        p.add(key, f'the text in {" and ".join(missing)} is missing. Add {missing[0]} = "...".')
        return None
    unknown_keys(value, LANGUAGES, key, p)
    return Text(fr=str(value["fr"]).strip(), en=str(value["en"]).strip())

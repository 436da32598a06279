"""French typography in the message catalogue: a non-breaking space before : ; ! ?, and one
apostrophe, the typographic ’ (U+2019), never the straight ' (U+0027).

The space is U+00A0 before a colon, U+202F (narrow) before ; ! ? as the Imprimerie
nationale's rules have it; either is accepted. URLs, times (10:30) and format
placeholders are not sentences and are left out of the scan.
"""

from __future__ import annotations

import re
import tomllib

from babel.messages.pofile import read_po

from tests.conftest import ROOT

CATALOGUE = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
NOT_PROSE = re.compile(r"https?://\S+|www\.\S+|\b\d{1,2}:\d{2}\b|%\([a-z_]+\)[sd]|\{[a-z_]*\}")
# A plain space before the mark, or a letter, digit or closing mark right against it.
WRONG_SPACE = re.compile(r"(?: |(?<=[\w»)\]’]))[:;!?](?=\s|$)")


def _msgstrs() -> list[tuple[str, str]]:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    found = []
    for message in catalogue:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [(key, text) for text in strings]
    return found


def test_french_puts_a_non_breaking_space_before_double_marks():
    """No msgstr has a plain space, or none, before : ; ! ? (outside URLs, times, placeholders)."""
    wrong = [
        (key, text) for key, text in _msgstrs() if WRONG_SPACE.search(NOT_PROSE.sub("", text))
    ]
    assert wrong == []


def test_french_uses_the_typographic_apostrophe_only():
    """Every apostrophe in French is ’; the straight ' appears in no msgstr."""
    assert [key for key, text in _msgstrs() if "'" in text] == []


def test_the_scan_sees_a_wrong_space():
    """The pattern finds what it is for, and spares URLs and times."""
    assert WRONG_SPACE.search("Attention : ceci")
    assert WRONG_SPACE.search("Vraiment?")
    assert not WRONG_SPACE.search("Attention\u00a0: ceci ; non".replace(" ;", "\u202f;"))
    assert not WRONG_SPACE.search(NOT_PROSE.sub("", "à 10:30 sur https://a.fr/b:c"))


def test_counts_take_the_plural_they_need(app):
    """'Ouvert 1 fois', '1 sur 1 enregistrement' and '3 sur 10 enregistrements'."""
    from flask_babel import force_locale, ngettext

    with app.test_request_context(), force_locale("fr"):
        once = "Opened %(num)d time by staff (each view is recorded in the audit trail)."
        many = "Opened %(num)d times by staff (each view is recorded in the audit trail)."
        assert ngettext(once, many, 1).startswith("Ouvert 1 fois")
        assert ngettext(once, many, 3).startswith("Ouvert 3 fois")
        one = "%(done)s of %(total)s record"
        ten = "%(done)s of %(total)s records"
        assert ngettext(one, ten, 1, done=1, total=1) == "1 sur 1 enregistrement"
        assert ngettext(one, ten, 10, done=3, total=10) == "3 sur 10 enregistrements"


def _catalogue_french() -> list[tuple[str, str]]:
    """Every French sentence of the catalogue files (``fr`` and ``staff_fr`` keys)."""
    found: list[tuple[str, str]] = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("fr", "staff_fr") and isinstance(item, str):
                    found.append((f"{path}.{key}", item))
                else:
                    walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    for path in sorted((ROOT / "catalogue").glob("*.toml")):
        with path.open("rb") as handle:
            walk(tomllib.load(handle), path.name)
    return found


def test_the_catalogue_files_follow_french_typography_too():
    """What the requester and staff read from rules.toml, sources.toml and the others:
    the same spaces before : ; ! ? and the same apostrophe as the message catalogue."""
    sentences = _catalogue_french()
    assert len(sentences) > 100
    wrong = [key for key, text in sentences if WRONG_SPACE.search(NOT_PROSE.sub("", text))]
    assert wrong == []
    assert [key for key, text in sentences if "'" in text] == []

"""The assurance policy (``catalogue/assurance.toml``): what each level of identity allows.

For every right, two lists of levels: ``show_plan``, the levels at which the
requester's status page shows what was found (categories, counts, the report),
and ``act``, the levels at which staff may approve the request and it is
carried out. ``load_assurance`` refuses a file that leaves a right or a list
out, names an unknown level, or lets the emailed link alone show someone's
data or release, erase or change it; the portal does not start with such a
file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.models import KINDS
from app.rules.toml_checks import Problems, unknown_keys

# The levels a request can reach, weakest first (``none``: not yet verified).
LEVELS = ("email", "contact_match", "oidc", "document")
NEEDS = ("show_plan", "act")
# Rights whose fulfilment only restricts a use of the data: the emailed link may do.
RESTRICTING = frozenset({"objection"})


class AssuranceError(Exception):
    """The assurance policy cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AssurancePolicy:
    """For each (right, need), the levels that satisfy it."""

    accepted: dict[tuple[str, str], frozenset[str]]

    def allows(self, kind: str, need: str, level: str) -> bool:
        return level in self.accepted.get((kind, need), frozenset())

    def levels(self, kind: str, need: str) -> tuple[str, ...]:
        """The accepted levels of a right's need, in the order of ``LEVELS``."""
        accepted = self.accepted.get((kind, need), frozenset())
        return tuple(level for level in LEVELS if level in accepted)


def load_assurance(path: Path) -> AssurancePolicy:
    """Read and check the assurance policy file."""
    p = Problems(path)
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise AssuranceError(
            [f"{path}: cannot be read ({error.strerror}). Set ASSURANCE_FILE to the policy."]
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AssuranceError([f"{path.name}: not valid TOML: {error}."]) from None
    unknown_keys(raw, KINDS, "(top level)", p)
    accepted: dict[tuple[str, str], frozenset[str]] = {}
    for kind in KINDS:
        table = raw.get(kind)
        if not isinstance(table, dict):
            p.add(
                kind, f"no levels for this right: add a [{kind}] table with {' and '.join(NEEDS)}."
            )
            continue
        unknown_keys(table, NEEDS, kind, p)
        for need in NEEDS:
            levels = _levels(table.get(need), f"{kind}.{need}", p)
            if levels is None:
                continue
            if "email" in levels and (need == "show_plan" or kind not in RESTRICTING):
                p.add(
                    f"{kind}.{need}",
                    "'email' is not enough: a confirmed link proves control of an address, "
                    "not who the person is. Only an objection's act may accept it.",
                )
            accepted[(kind, need)] = levels
    if p.items:
        raise AssuranceError(p.items)
    return AssurancePolicy(accepted)


def _levels(value: Any, key: str, p: Problems) -> frozenset[str] | None:
    if value is None:
        p.add(key, f"missing: list the levels that allow it, among {', '.join(LEVELS)}.")
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        p.add(key, f"must be a non-empty list of levels, among {', '.join(LEVELS)}.")
        return None
    unknown = [v for v in value if v not in LEVELS]
    if unknown:
        p.add(key, f"unknown level {', '.join(map(repr, unknown))}: use {', '.join(LEVELS)}.")
        return None
    return frozenset(value)

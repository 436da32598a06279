"""The routing policy (``rules.toml``): what each right does to each category.

A rule says, for one category and one or more rights, the action, its legal
basis and the explanation the requester reads. ``load_policy`` refuses a
policy that leaves any (category, right) without a rule, that covers one
twice, or whose rules contradict each other; the portal does not start
with such a policy.

``decide`` is the pure function routing applies to each record: it is where
"never erase what the law keeps" is enforced, and the hypothesis properties
in the tests exercise it directly.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta

from app.models import KINDS
from app.rules.toml_checks import Problems, Text, read_text, unknown_keys

ACTIONS = ("disclose", "erase", "retain", "exclude_from_reuse", "rectify", "refer")
ALLOWED: dict[str, frozenset[str]] = {
    "access": frozenset({"disclose", "refer"}),
    "portability": frozenset({"disclose", "refer"}),
    "erasure": frozenset({"erase", "retain", "refer"}),
    # An objection leaves the data in place: it never erases (docs/legal.md).
    "objection": frozenset({"exclude_from_reuse", "retain", "refer"}),
    "rectification": frozenset({"rectify", "retain", "refer"}),
}
ANCHORS = ("record", "last_record")
_RULE_FIELDS = (
    "category",
    "rights",
    "action",
    "basis",
    "explanation",
    "retention",
    "portable",
    "controller",
)
_RETENTION_FIELDS = (
    "from",
    "years",
    "until_age",
    "extended_years",
    "extended_when",
    "after_death_years",
    "basis",
    "explanation",
)
# CSP R.1112-7: the medical record of a deceased person is kept at least ten years after
# the death, whatever its other periods say. A floor of the law, not of the policy: routing
# applies it to every category the catalogue marks medical_record, and ``load_policy``
# refuses an erasure rule of such a category that does not say so.
AFTER_DEATH_FLOOR_YEARS = 10
AFTER_DEATH_BASIS = Text(
    "Code de la santé publique, R.1112-7\u202f: dossier conservé au moins dix ans après le décès",
    "Public Health Code, R.1112-7: record kept at least ten years after the death",
)
AFTER_DEATH_EXPLANATION = Text(
    "La loi oblige à conserver le dossier médical d’une personne décédée au moins dix ans "
    "après son décès.",
    "The law requires the medical record of a deceased person to be kept at least ten years "
    "after their death.",
)


class PolicyError(Exception):
    """The policy cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Retention:
    """How long the law keeps a record, counted from its date column.

    ``anchor`` "record" counts from each record's own date; "last_record" from
    the subject's latest record of the category (the medical record is kept 20
    years after the last stay, as a whole). ``after_death_years``: for a
    deceased person, the period cannot end before that many years after the
    death (R.1112-7).
    """

    anchor: str
    years: int
    basis: Text
    explanation: Text
    until_age: int | None = None
    extended_years: int | None = None
    extended_when: str | None = None
    after_death_years: int | None = None

    def end(
        self,
        *,
        record_date: date | None,
        last_date: date | None,
        birth_date: date,
        flagged: bool,
        died_on: date | None = None,
    ) -> date | None:
        """The last day the record must be kept; None when its date is unknown."""
        start = record_date if self.anchor == "record" else last_date
        if start is None:
            return None
        years = self.extended_years if flagged and self.extended_years else self.years
        end = start + relativedelta(years=years)
        if self.until_age is not None:
            end = max(end, birth_date + relativedelta(years=self.until_age))
        if self.after_death_years is not None and died_on is not None:
            end = max(end, died_on + relativedelta(years=self.after_death_years))
        return end


@dataclass(frozen=True)
class Referral:
    """Another controller that answers for the category, and how to reach it."""

    name: str
    contact: str


@dataclass(frozen=True)
class Rule:
    category: str
    right: str
    action: str
    basis: Text
    explanation: Text
    number: int
    retention: Retention | None = None
    portable: bool | None = None
    controller: Referral | None = None


@dataclass(frozen=True)
class Decision:
    """What happens to one record, and why."""

    action: str
    basis: Text
    explanation: Text
    kept_until: date | None = None


@dataclass(frozen=True)
class Policy:
    path: Path
    rules: Mapping[tuple[str, str], Rule]
    digest: str

    def rule(self, category: str, right: str) -> Rule:
        return self.rules[(category, right)]


def decide(
    rule: Rule,
    *,
    record_date: date | None,
    last_date: date | None,
    birth_date: date,
    flagged: bool,
    today: date,
    died_on: date | None = None,
    medical: bool = False,
) -> Decision:
    """Apply one rule to one record.

    An ``erase`` rule with a retention period is an exemption (Art. 17(3)):
    the record is kept while the period runs, and also when its date is
    unknown, because a period that cannot be computed cannot be proven over.
    ``died_on``: the person's date of death, when a source knows it;
    ``medical``: the category is part of the medical record, kept at least
    ``AFTER_DEATH_FLOOR_YEARS`` after the death whatever the rule says (R.1112-7).
    """
    floor = (
        died_on + relativedelta(years=AFTER_DEATH_FLOOR_YEARS)
        if medical and died_on is not None
        else None
    )
    spec = rule.retention
    if spec is None:
        if rule.action == "erase" and floor is not None and floor >= today:
            return Decision("retain", AFTER_DEATH_BASIS, AFTER_DEATH_EXPLANATION, floor)
        return Decision(rule.action, rule.basis, rule.explanation)
    end = spec.end(
        record_date=record_date,
        last_date=last_date,
        birth_date=birth_date,
        flagged=flagged,
        died_on=died_on,
    )
    if rule.action == "erase":
        if end is not None and floor is not None and end < floor and floor >= today:
            # The period itself is over: the law's floor after the death is what keeps it.
            return Decision("retain", AFTER_DEATH_BASIS, AFTER_DEATH_EXPLANATION, floor)
        if end is None or end >= today:
            return Decision("retain", spec.basis, spec.explanation, end)
        return Decision("erase", rule.basis, rule.explanation)
    if floor is not None and end is not None:
        end = max(end, floor)
    return Decision(rule.action, spec.basis, spec.explanation, end)


def _positive(raw: Mapping[str, Any], name: str, key: str, p: Problems) -> int | None:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 200:
        p.add(f"{key}.{name}", "must be a whole number of years between 1 and 200.")
        return None
    return value


def _retention(raw: Any, key: str, p: Problems) -> Retention | None:
    if not isinstance(raw, Mapping):
        p.add(key, "must be a table: from, years, basis, explanation.")
        return None
    unknown_keys(raw, _RETENTION_FIELDS, key, p)
    anchor = raw.get("from")
    if anchor not in ANCHORS:
        p.add(f"{key}.from", f"must be one of {', '.join(ANCHORS)}.")
    years = _positive(raw, "years", key, p)
    until_age = _positive(raw, "until_age", key, p) if "until_age" in raw else None
    extended = _positive(raw, "extended_years", key, p) if "extended_years" in raw else None
    after_death = (
        _positive(raw, "after_death_years", key, p) if "after_death_years" in raw else None
    )
    when = raw.get("extended_when")
    if (extended is None) != (when is None):
        p.add(
            key,
            "extended_years and extended_when go together: the longer period and the "
            "column that says when it applies.",
        )
    if when is not None and not (isinstance(when, str) and when):
        p.add(f"{key}.extended_when", "must name a column of the category's tables.")
    basis = read_text(raw.get("basis"), f"{key}.basis", p)
    explanation = read_text(raw.get("explanation"), f"{key}.explanation", p)
    if anchor not in ANCHORS or years is None or basis is None or explanation is None:
        return None
    return Retention(
        str(anchor), years, basis, explanation, until_age, extended, when, after_death
    )


def _rules(raw: Any, categories: frozenset[str], p: Problems) -> Iterable[Rule]:
    for index, entry in enumerate(raw, start=1):
        key = f"rules[{index}]"
        if not isinstance(entry, Mapping):
            p.add(key, "must be a [[rules]] table.")
            continue
        unknown_keys(entry, _RULE_FIELDS, key, p)
        category = entry.get("category")
        if category not in categories:
            known = ", ".join(sorted(categories))
            p.add(f"{key}.category", f"'{category}' is not in the catalogue. Known: {known}.")
            continue
        key = f"rules[{index}] ({category})"
        rights = entry.get("rights")
        if isinstance(rights, str):
            rights = [rights]
        if not (isinstance(rights, list) and rights and all(r in KINDS for r in rights)):
            p.add(f"{key}.rights", f"must list rights among {', '.join(KINDS)}.")
            continue
        action = entry.get("action")
        if action not in ACTIONS:
            p.add(f"{key}.action", f"must be one of {', '.join(ACTIONS)}.")
            continue
        basis = read_text(entry.get("basis"), f"{key}.basis", p)
        explanation = read_text(entry.get("explanation"), f"{key}.explanation", p)
        retention = None
        if "retention" in entry:
            if action not in ("erase", "retain"):
                p.add(f"{key}.retention", f"only an erase or retain rule has one, not {action}.")
            retention = _retention(entry["retention"], f"{key}.retention", p)
        portable = entry.get("portable")
        if "portability" in rights and action == "disclose" and not isinstance(portable, bool):
            p.add(
                f"{key}.portable",
                "say whether the data is portable (Art. 20: provided under consent or "
                "contract): portable = true or false.",
            )
        if portable is not None and "portability" not in rights:
            p.add(f"{key}.portable", "only a portability rule says portable.")
        controller = None
        if action == "refer":
            spec = entry.get("controller")
            if isinstance(spec, Mapping) and spec.get("name") and spec.get("contact"):
                controller = Referral(str(spec["name"]), str(spec["contact"]))
            else:
                p.add(
                    f"{key}.controller",
                    'a refer rule names the controller: { name = "...", contact = "..." }.',
                )
        if basis is None or explanation is None:
            continue
        for right in rights:
            if action not in ALLOWED[right]:
                allowed = ", ".join(sorted(ALLOWED[right]))
                p.add(
                    f"{key}.action",
                    f"'{action}' cannot answer a request of {right}. Use one of: {allowed}.",
                )
                continue
            yield Rule(
                category,
                right,
                str(action),
                basis,
                explanation,
                index,
                retention,
                portable if right == "portability" else None,
                controller,
            )


def _contradictions(rules: Mapping[tuple[str, str], Rule], p: Problems) -> None:
    """A retention the law imposes for one right binds every other right."""
    by_category: dict[str, list[Rule]] = {}
    for rule in rules.values():
        by_category.setdefault(rule.category, []).append(rule)
    for category, listed in sorted(by_category.items()):
        kept = [r for r in listed if r.action == "retain" and r.retention is not None]
        erasure = rules.get((category, "erasure"))
        if kept and erasure and erasure.action == "erase" and erasure.retention is None:
            keeper = kept[0]
            p.add(
                f"rules[{erasure.number}] ({category})",
                f"contradicts rules[{keeper.number}]: that rule keeps the data for "
                f"{keeper.retention.years} years under {keeper.retention.basis.en}, "  # type: ignore[union-attr]
                "but this one erases it at once. Add the same [rules.retention] here.",
            )


def _after_death(
    rules: Mapping[tuple[str, str], Rule], medical: frozenset[str], p: Problems
) -> None:
    """An erasure rule of the medical record says the ten years after the death (R.1112-7)."""
    for category in sorted(medical):
        rule = rules.get((category, "erasure"))
        if rule is None or rule.action != "erase":
            continue
        spec = rule.retention
        years = spec.after_death_years if spec else None
        if years is None or years < AFTER_DEATH_FLOOR_YEARS:
            p.add(
                f"rules[{rule.number}] ({category}).retention.after_death_years",
                f"the catalogue marks {category} as medical record: the record of a deceased "
                f"person is kept at least {AFTER_DEATH_FLOOR_YEARS} years after the death "
                f"(Public Health Code, R.1112-7). Add after_death_years = "
                f"{AFTER_DEATH_FLOOR_YEARS} to its [rules.retention].",
            )


def load_policy(
    path: Path, categories: frozenset[str], medical: frozenset[str] = frozenset()
) -> Policy:
    """Read and check ``rules.toml`` against the catalogue's categories.

    ``medical``: the categories the catalogue marks ``medical_record``, whose
    erasure rules must keep a deceased person's record ten years after the death.
    """
    p = Problems(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PolicyError(
            [f"{path}: cannot be read ({error.strerror}). Set RULES_FILE to the policy."]
        ) from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError([f"{path.name}: not valid TOML: {error}."]) from None
    unknown_keys(raw, ("rules",), "(top level)", p)
    entries = raw.get("rules")
    if not isinstance(entries, list) or not entries:
        raise PolicyError([f"{path.name}: rules: no rule. Add [[rules]] sections."])
    found: dict[tuple[str, str], Rule] = {}
    for rule in _rules(entries, categories, p):
        pair = (rule.category, rule.right)
        if pair in found:
            first = found[pair]
            same = (first.action, first.retention) == (rule.action, rule.retention)
            what = (
                f"repeats rules[{first.number}] for {rule.right}"
                if same
                else f"contradicts rules[{first.number}] for {rule.right} "
                f"({first.action} there, {rule.action} here)"
            )
            p.add(
                f"rules[{rule.number}] ({rule.category})",
                f"{what}: keep one rule per category and right.",
            )
            continue
        found[pair] = rule
    if not p.items:
        for category in sorted(categories):
            missing = [k for k in KINDS if (category, k) not in found]
            if missing:
                p.add(
                    f"category {category}",
                    f"no rule for {', '.join(missing)}. Add a [[rules]] with "
                    f'category = "{category}" and rights = {missing!r}.'.replace("'", '"'),
                )
        _contradictions(found, p)
        _after_death(found, medical, p)
    if p.items:
        raise PolicyError(p.items)
    return Policy(path, found, hashlib.sha256(data).hexdigest())


_EXPLAIN = {
    "en": {
        "head": "{label} ({category}), request of {right}:",
        "action": "  action: {action}",
        "basis": "  legal basis: {text}",
        "record": "each record's own date",
        "last_record": "the person's latest record of this category",
        "years": "{years} years after {start}",
        "extended": " ({years} years where the column '{column}' is set)",
        "age": ", and at least until the person's {age}th birthday",
        "death": ", and for a deceased person at least {years} years after the death",
        "exemption": "  exemption: records are kept while the retention period runs: {words}; "
        "a record whose date is unknown is kept. Once the period has ended the record is erased.",
        "kept": "  kept until: {words}",
        "retention_basis": "  basis of the retention: {text}",
        "reads_kept": "  the requester reads, for kept records: {text}",
        "portable": "  portable: yes (data provided under consent or contract)",
        "not_portable": "  portable: no (neither consent nor contract, Art. 20(1)(a); "
        "or a public task, Art. 20(3)); an Art. 15 copy is given instead",
        "referred": "  referred to: {name} <{contact}>",
        "reads": "  the requester reads: {text}",
    },
    "fr": {
        "head": "{label} ({category}), demande de type {right} :",
        "action": "  action : {action}",
        "basis": "  base légale : {text}",
        "record": "la date propre à chaque enregistrement",
        "last_record": "le dernier enregistrement de la personne dans cette catégorie",
        "years": "{years} ans après {start}",
        "extended": " ({years} ans lorsque la colonne « {column} » est renseignée)",
        "age": ", et au moins jusqu'au {age}e anniversaire de la personne",
        "death": ", et pour une personne décédée au moins {years} ans après le décès",
        "exemption": "  exception : les enregistrements sont conservés tant que court la durée "
        "de conservation : {words} ; un enregistrement sans date est conservé. Une fois la "
        "durée écoulée, l'enregistrement est effacé.",
        "kept": "  conservé jusqu'à : {words}",
        "retention_basis": "  base de la conservation : {text}",
        "reads_kept": "  le demandeur lit, pour les données conservées : {text}",
        "portable": "  portable : oui (données fournies avec consentement ou par contrat)",
        "not_portable": "  portable : non (ni consentement ni contrat, art. 20.1.a ; ou mission "
        "d'intérêt public, art. 20.3) ; une copie au titre de l'art. 15 est remise à la place",
        "referred": "  renvoyé vers : {name} <{contact}>",
        "reads": "  le demandeur lit : {text}",
    },
}


def explain(rule: Rule, label: Text, locale: str = "en") -> str:
    """The rule in plain words, for the data protection officer, in French or English."""
    say = _EXPLAIN["fr" if locale.startswith("fr") else "en"]
    lines = [
        say["head"].format(label=label.in_(locale), category=rule.category, right=rule.right),
        say["action"].format(action=rule.action),
        say["basis"].format(text=rule.basis.in_(locale)),
    ]
    spec = rule.retention
    if spec:
        words = say["years"].format(years=spec.years, start=say[spec.anchor])
        if spec.extended_years:
            words += say["extended"].format(years=spec.extended_years, column=spec.extended_when)
        if spec.until_age:
            words += say["age"].format(age=spec.until_age)
        if spec.after_death_years:
            words += say["death"].format(years=spec.after_death_years)
        lines.append(say["exemption" if rule.action == "erase" else "kept"].format(words=words))
        lines.append(say["retention_basis"].format(text=spec.basis.in_(locale)))
        lines.append(say["reads_kept"].format(text=spec.explanation.in_(locale)))
    if rule.portable is not None:
        lines.append(say["portable" if rule.portable else "not_portable"])
    if rule.controller:
        lines.append(
            say["referred"].format(name=rule.controller.name, contact=rule.controller.contact)
        )
    lines.append(say["reads"].format(text=rule.explanation.in_(locale)))
    return "\n".join(lines)

"""Requests made for someone else (``representation.toml``), read and checked.

A parent for a minor child, a guardian for a protected adult, a mandatary
holding a written mandate, the heirs and the partner of a deceased person:
each relationship may exercise some of the rights (``models.KINDS``), must
prove itself with some documents, and is told why another right is refused.
An heir or a partner states one of the three reasons the Public Health Code
lists (CSP L.1110-4 V, R.1111-7); only the categories that serve the reason
are disclosed.

The file is written by a data protection officer: ``load_representation``
collects every problem before failing, and the portal does not start with a
file that leaves a relationship without a decision for a right, names a
category the catalogue does not have, or lets the relative of a deceased
person do more than see the record. Whatever this file says, an erasure still
passes through ``policy.decide``: a representative never erases what the law
keeps (docs/legal.md, "Requests made for someone else"). No Flask import.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.models import HEIR_REASONS, KINDS, RELATIONSHIPS
from app.rules.catalogue import Catalogue
from app.rules.policy import Policy
from app.rules.toml_checks import Problems, Text, read_text, unknown_keys
from config import ConfigError

REPRESENTATIVES = tuple(r for r in RELATIONSHIPS if r != "self")
# The relatives of a deceased person: the law gives them access to the record, nothing else
# (CSP L.1110-4 V, R.1111-7). Rectifying, erasing or objecting are the person's own rights.
DECEASED_RELATIONSHIPS = ("heir", "partner")
DECEASED_RIGHTS = frozenset({"access"})
_RELATIONSHIP_FIELDS = ("label", "rights", "refused", "refusal", "proofs", "subject_deceased")
_PROOF_FIELDS = ("label", "hint", "staff_label", "staff_hint")
_REASON_FIELDS = ("label", "categories", "explanation")
_TOP = ("proofs", "relationships", "reasons", "texts")
# Sentences routing and the requester's pages need, in both languages.
TEXTS = (
    "refused_during_life",
    "minor_secret",
    "minor_secret_basis",
    "not_for_reason",
    "not_for_reason_basis",
)


class RepresentationError(ConfigError):
    """The representation rules cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Proof:
    """One document a relationship must prove itself with."""

    code: str
    label: Text  # the requester's wording ("votre qualité d’ayant droit")
    hint: Text
    # Staff's wording, about the requester; the requester's when the file gives none.
    staff_label: Text | None = None
    staff_hint: Text | None = None

    @property
    def for_staff(self) -> tuple[Text, Text]:
        """The label and hint staff read on the case page."""
        return (self.staff_label or self.label, self.staff_hint or self.hint)


@dataclass(frozen=True)
class Relationship:
    code: str
    label: Text
    rights: frozenset[str]
    refusal: Text
    proofs: tuple[Proof, ...]
    subject_deceased: bool


@dataclass(frozen=True)
class Reason:
    """An heir's or a partner's reason (``models.HEIR_REASONS``)."""

    code: str
    label: Text
    categories: frozenset[str]
    explanation: Text


@dataclass(frozen=True)
class Representation:
    relationships: Mapping[str, Relationship]
    reasons: Mapping[str, Reason]
    # ``TEXTS``: the lines routing writes (a refusal during life, a minor's secrecy, ...).
    texts: Mapping[str, Text] = field(default_factory=dict)
    path: Path | None = None
    digest: str = ""

    def of(self, acts_as: str) -> Relationship | None:
        """The relationship's rules; None for "self" (the person's own request)."""
        if acts_as == "self":
            return None
        return self.relationships[acts_as]

    def may_exercise(self, acts_as: str, kind: str) -> bool:
        relationship = self.of(acts_as)
        return relationship is None or kind in relationship.rights

    def reason(self, code: str | None) -> Reason | None:
        return self.reasons.get(code) if code else None

    def text(self, name: str) -> Text:
        return self.texts[name]

    def notices(self, acts_as: str) -> tuple[Text, ...]:
        """What every requester of this relationship reads, whatever was found.

        A parent always reads the minor's secrecy sentence: shown only when a
        secret exists, it would tell the parent that one does (L.1111-5).
        """
        notice = self.texts.get("minor_secret")
        return (notice,) if acts_as == "parent" and notice else ()

    def refusal(self, acts_as: str, ground: str | None) -> Text | None:
        """The sentence a refusal of routing gives the requester (both languages)."""
        relationship = self.of(acts_as)
        if relationship is None:
            return None
        if ground == "representative_not_entitled":
            return relationship.refusal
        if ground == "refused_during_life":
            return self.texts.get("refused_during_life")
        return None


def _names(value: Any, key: str, allowed: tuple[str, ...], p: Problems) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(key, f"must list names among {', '.join(allowed)}.")
        return None
    wrong = [v for v in value if v not in allowed]
    if wrong:
        p.add(key, f"unknown: {', '.join(wrong)}. Use names among {', '.join(allowed)}.")
        return None
    if len(set(value)) != len(value):
        p.add(key, "names one twice: list each once.")
        return None
    return value


def _proofs(raw: Any, p: Problems) -> dict[str, Proof]:
    proofs: dict[str, Proof] = {}
    if not isinstance(raw, Mapping) or not raw:
        p.add("proofs", "no proof described. Add [proofs.NAME] with label and hint = { fr, en }.")
        return proofs
    for code, spec in raw.items():
        key = f"proofs.{code}"
        if not isinstance(spec, Mapping):
            p.add(key, "must be a table: label, hint (staff_label, staff_hint optional).")
            continue
        unknown_keys(spec, _PROOF_FIELDS, key, p)
        label = read_text(spec.get("label"), f"{key}.label", p)
        hint = read_text(spec.get("hint"), f"{key}.hint", p)
        staff = {
            name: read_text(spec[name], f"{key}.{name}", p)
            for name in ("staff_label", "staff_hint")
            if name in spec
        }
        if label and hint and all(staff.values()):
            proofs[code] = Proof(
                code, label, hint, staff.get("staff_label"), staff.get("staff_hint")
            )
    return proofs


def _relationship(
    code: str, spec: Any, proofs: Mapping[str, Proof], p: Problems
) -> Relationship | None:
    key = f"relationships.{code}"
    if not isinstance(spec, Mapping):
        p.add(key, "must be a table: label, rights, refused, refusal, proofs, subject_deceased.")
        return None
    unknown_keys(spec, _RELATIONSHIP_FIELDS, key, p)
    label = read_text(spec.get("label"), f"{key}.label", p)
    refusal = read_text(spec.get("refusal"), f"{key}.refusal", p)
    rights = _names(spec.get("rights", []), f"{key}.rights", KINDS, p)
    refused = _names(spec.get("refused", []), f"{key}.refused", KINDS, p)
    ok = rights is not None and refused is not None
    if rights is not None and refused is not None:
        both = sorted(set(rights) & set(refused))
        if both:
            p.add(key, f"{', '.join(both)} is both in rights and in refused: decide once.")
            ok = False
        missing = [k for k in KINDS if k not in rights and k not in refused]
        if missing:
            p.add(
                key,
                f"no decision for {', '.join(missing)}. Put each right in rights "
                "(the relationship may exercise it) or in refused (it is refused with "
                "the refusal text).",
            )
            ok = False
    deceased = spec.get("subject_deceased")
    if not isinstance(deceased, bool):
        p.add(f"{key}.subject_deceased", "must be true or false.")
        ok = False
    elif deceased != (code in DECEASED_RELATIONSHIPS):
        p.add(
            f"{key}.subject_deceased",
            "must be true for heir and partner (the person has died) and false for the others.",
        )
        ok = False
    if rights is not None and code in DECEASED_RELATIONSHIPS:
        beyond = sorted(set(rights) - DECEASED_RIGHTS)
        if beyond:
            p.add(
                f"{key}.rights",
                f"{', '.join(beyond)}: the relatives of a deceased person may only see the "
                "record (access), for their stated reason (CSP L.1110-4 V, R.1111-7). "
                "Move it to refused.",
            )
            ok = False
    listed = _names(spec.get("proofs"), f"{key}.proofs", tuple(proofs) or ("(none)",), p)
    if listed is not None and not listed:
        p.add(f"{key}.proofs", "names no proof: every representative proves the relationship.")
        ok = False
    if not (ok and label and refusal and listed):
        return None
    return Relationship(
        code,
        label,
        frozenset(rights or ()),
        refusal,
        tuple(proofs[name] for name in listed),
        bool(deceased),
    )


def _reason(
    code: str, spec: Any, catalogue: Catalogue, policy: Policy, p: Problems
) -> Reason | None:
    key = f"reasons.{code}"
    if not isinstance(spec, Mapping):
        p.add(key, "must be a table: label, categories, explanation.")
        return None
    unknown_keys(spec, _REASON_FIELDS, key, p)
    label = read_text(spec.get("label"), f"{key}.label", p)
    explanation = read_text(spec.get("explanation"), f"{key}.explanation", p)
    known = tuple(sorted(catalogue.categories))
    categories = spec.get("categories")
    if isinstance(categories, list) and all(isinstance(c, str) for c in categories):
        wrong = [c for c in categories if c not in catalogue.categories]
        if wrong:
            p.add(
                f"{key}.categories",
                f"{', '.join(repr(c) for c in wrong)} is not in the catalogue. "
                f"Known: {', '.join(known)}.",
            )
            return None
        if not categories:
            p.add(f"{key}.categories", "names no category: the reason would disclose nothing.")
            return None
        sent = [c for c in categories if policy.rule(c, "access").action == "disclose"]
        if not sent:
            p.add(
                f"{key}.categories",
                "the policy discloses none of these categories for access "
                f"({policy.path.name}): the reason would disclose nothing.",
            )
            return None
    else:
        p.add(f"{key}.categories", f"must list catalogue categories among {', '.join(known)}.")
        return None
    if not (label and explanation):
        return None
    return Reason(code, label, frozenset(categories), explanation)


def load_representation(path: Path, catalogue: Catalogue, policy: Policy) -> Representation:
    """Read and check ``representation.toml``; raise RepresentationError listing every problem."""
    p = Problems(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RepresentationError(
            [
                f"{path}: cannot be read ({error.strerror}). "
                "Set REPRESENTATION_FILE to the representation rules."
            ]
        ) from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RepresentationError([f"{path.name}: not valid TOML: {error}."]) from None
    unknown_keys(raw, _TOP, "(top level)", p)
    proofs = _proofs(raw.get("proofs"), p)
    relationships: dict[str, Relationship] = {}
    specs = raw.get("relationships")
    if not isinstance(specs, Mapping):
        specs = {}
    for code in specs:
        if code not in REPRESENTATIVES:
            p.add(
                f"relationships.{code}",
                f"unknown relationship. Use one of: {', '.join(REPRESENTATIVES)}.",
            )
    for code in REPRESENTATIVES:
        if code not in specs:
            p.add(
                f"relationships.{code}",
                f"missing. Add [relationships.{code}] with label, rights, refused, refusal, "
                "proofs and subject_deceased.",
            )
            continue
        relationship = _relationship(code, specs[code], proofs, p)
        if relationship:
            relationships[code] = relationship
    reasons: dict[str, Reason] = {}
    reason_specs = raw.get("reasons")
    if not isinstance(reason_specs, Mapping):
        reason_specs = {}
    for code in reason_specs:
        if code not in HEIR_REASONS:
            p.add(f"reasons.{code}", f"unknown reason. Use one of: {', '.join(HEIR_REASONS)}.")
    for code in HEIR_REASONS:
        if code not in reason_specs:
            p.add(
                f"reasons.{code}",
                f"missing. Add [reasons.{code}] with label, categories and explanation "
                "(CSP L.1110-4 V: every reason the law lists has a rule).",
            )
            continue
        reason = _reason(code, reason_specs[code], catalogue, policy, p)
        if reason:
            reasons[code] = reason
    texts: dict[str, Text] = {}
    text_specs = raw.get("texts")
    if not isinstance(text_specs, Mapping):
        p.add("texts", f"missing. Add [texts] with {', '.join(TEXTS)} = {{ fr, en }}.")
        text_specs = {}
    else:
        unknown_keys(text_specs, TEXTS, "texts", p)
        for name in TEXTS:
            text = read_text(text_specs.get(name), f"texts.{name}", p)
            if text:
                texts[name] = text
    if p.items:
        raise RepresentationError(p.items)
    return Representation(relationships, reasons, texts, path, hashlib.sha256(data).hexdigest())

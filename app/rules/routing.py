"""Routing: from a verified request to its draft plan, nothing stored.

``build_lines`` is the pure heart: records of one subject, one rule per
category, today's date in, plan lines out. Every record found lands in exactly
one line; a record is marked ``erase`` only when ``policy.decide`` says so,
which it never does while a retention period runs. ``compute`` finds the
subject in every source and calls it; storing the plan and moving the request
on is ``app.rules.plans``.

A request made for someone else (``Behalf``, from ``catalogue/representation.toml``)
narrows what happens, never widens it: a right the relationship may not exercise
is refused before any source is read; the relatives of a deceased person who
refused it while alive receive nothing; an heir's categories outside the stated
reason, and a minor's records kept secret from a parent, land in ``withhold``
and ``secret`` lines, neither sent nor erased. Erasure itself still passes
through ``policy.decide``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from app.crypto import Vault
from app.models import PlanLine, Request
from app.rules.catalogue import Catalogue
from app.rules.matching import MATCHED, REVIEW, Applicant, Match
from app.rules.policy import ACTIONS, Decision, Policy, Rule, decide
from app.rules.representation import Relationship, Representation
from app.rules.sources import Record, Warehouse
from app.rules.toml_checks import Text
from app.services import Services

ACTOR = "system:routing"
# Plan lines of a request made for someone else that nothing is done with: records an
# heir's reason does not serve (``withhold``), and a minor's records kept secret from a
# parent (``secret``: staff see it; the parent's pages never show it, docs/legal.md).
WITHHOLD = "withhold"
SECRET = "secret"  # noqa: S105 (an action, not a password)
LINE_ACTIONS = (*ACTIONS, WITHHOLD, SECRET)
# Plan outcomes (models.OUTCOMES) and, for "refused", the refusal grounds routing gives.
NOT_ENTITLED = "representative_not_entitled"
REFUSED_DURING_LIFE = "refused_during_life"


@dataclass(frozen=True)
class Line:
    """One line of a plan: computed before it is stored, or copied back out of it (``of``)."""

    source: str
    category: str
    action: str
    record_count: int
    label: Text
    basis: Text
    explanation: Text
    kept_until: date | None
    record_keys: Mapping[str, list[list[Any]]]
    newest: date | None = None

    def key(self) -> tuple[str, str, str]:
        return (self.source, self.category, self.action)

    @classmethod
    def of(cls, stored: PlanLine) -> Line:
        """A stored plan line, copied out of the session: using it touches no ORM object."""
        return cls(
            stored.source,
            stored.category,
            stored.action,
            stored.record_count,
            Text(stored.label_fr, stored.label_en),
            Text(stored.basis_fr, stored.basis_en),
            Text(stored.explanation_fr, stored.explanation_en),
            stored.kept_until,
            {t: [list(k) for k in keys] for t, keys in (stored.record_keys or {}).items()},
        )


@dataclass(frozen=True)
class Draft:
    """A computed plan: what was found and what each rule does with it."""

    outcome: str
    lines: tuple[Line, ...] = ()
    review_reasons: tuple[str, ...] = ()
    subjects: Mapping[str, Any] = field(default_factory=dict)
    # The contact addresses the sources hold for the person found: compared with
    # the proven address by ``app.identity.contact``, never stored with the plan.
    contacts: tuple[str, ...] = ()

    @property
    def refusal_ground(self) -> str | None:
        """For a plan that refuses (outcome "refused"): why (``NOT_ENTITLED``, ...)."""
        return self.review_reasons[0] if self.outcome == "refused" else None


@dataclass(frozen=True)
class Behalf:
    """A request made for someone else: who asks, and for which reason (an heir)."""

    acts_as: str
    relationship: Relationship
    representation: Representation
    heir_reason: str | None = None
    # The date of death the requester gave (the sources' own date is preferred).
    died_on: date | None = None

    @classmethod
    def of(cls, request: Request, representation: Representation) -> Behalf | None:
        relationship = representation.of(request.acts_as or "self")
        if relationship is None:
            return None
        return cls(
            request.acts_as,
            relationship,
            representation,
            request.heir_reason,
            request.subject_died_on,
        )

    def may_ask(self, right: str, birth_date: date, today: date) -> bool:
        """The relationship may exercise ``right`` for this person today.

        A parent acts for a minor child only: parental authority ends at 18
        (Civil Code Art. 371-1 and 414).
        """
        if right not in self.relationship.rights:
            return False
        return not (self.acts_as == "parent" and birth_date + relativedelta(years=18) <= today)

    def categories(self) -> frozenset[str] | None:
        """The categories that may be disclosed; None: every category (not an heir)."""
        if not self.relationship.subject_deceased:
            return None
        reason = self.representation.reason(self.heir_reason)
        return reason.categories if reason else frozenset()


def build_lines(
    source: str,
    category: str,
    label: Text,
    records: Sequence[Record],
    rule: Rule,
    *,
    birth_date: date,
    today: date,
    died_on: date | None = None,
    medical: bool = False,
) -> list[Line]:
    """Group one category's records by what happens to them.

    ``died_on``, ``medical``: a deceased person's medical record is kept at least
    ten years after the death (``policy.decide``, R.1112-7).
    """
    if not records:
        return []
    # Sorted, so the plan does not depend on the order the sources answered in.
    records = sorted(records, key=lambda r: (r.table, r.key))
    dated = [r.date for r in records if r.date is not None]
    last = max(dated) if dated else None
    groups: dict[tuple[str, Text, Text], list[tuple[Record, Decision]]] = {}
    for record in records:
        decision = decide(
            rule,
            record_date=record.date,
            last_date=last,
            birth_date=birth_date,
            flagged=record.flagged,
            today=today,
            died_on=died_on,
            medical=medical,
        )
        groups.setdefault((decision.action, decision.basis, decision.explanation), []).append(
            (record, decision)
        )
    lines = []
    for (action, basis, explanation), members in groups.items():
        ends = [d.kept_until for _, d in members]
        known = [r.date for r, _ in members if r.date is not None]
        kept_until = None if None in ends else max(e for e in ends if e is not None)
        keys: dict[str, list[list[Any]]] = {}
        for record, _ in members:
            keys.setdefault(record.table, []).append(list(record.key))
        lines.append(
            Line(
                source=source,
                category=category,
                action=action,
                record_count=len(members),
                label=label,
                basis=basis,
                explanation=explanation,
                kept_until=kept_until if action != "disclose" else None,
                record_keys=dict(sorted(keys.items())),
                newest=max(known) if known else None,
            )
        )
    lines.sort(key=lambda line: ACTIONS.index(line.action))
    return lines


def set_aside(
    source: str,
    category: str,
    label: Text,
    records: Sequence[Record],
    action: str,
    basis: Text,
    explanation: Text,
) -> list[Line]:
    """One line of records nothing is done with (``WITHHOLD``, ``SECRET``): kept as they are."""
    if not records:
        return []
    records = sorted(records, key=lambda r: (r.table, r.key))
    keys: dict[str, list[list[Any]]] = {}
    for record in records:
        keys.setdefault(record.table, []).append(list(record.key))
    known = [r.date for r in records if r.date is not None]
    return [
        Line(
            source=source,
            category=category,
            action=action,
            record_count=len(records),
            label=label,
            basis=basis,
            explanation=explanation,
            kept_until=None,
            record_keys=dict(sorted(keys.items())),
            newest=max(known) if known else None,
        )
    ]


def behalf_lines(
    source: str,
    category: str,
    label: Text,
    records: Sequence[Record],
    rule: Rule,
    behalf: Behalf | None,
    *,
    birth_date: date,
    today: date,
    died_on: date | None = None,
    medical: bool = False,
) -> list[Line]:
    """``build_lines``, for a request made by the person or for them.

    An heir's or a partner's category outside the reason is set aside whole;
    for a parent, the records a minor keeps secret are set aside, the others
    routed as usual. Nothing set aside is ever marked erase.
    """
    if behalf is None:
        return build_lines(
            source, category, label, records, rule,
            birth_date=birth_date, today=today, died_on=died_on, medical=medical,
        )  # fmt: skip
    texts = behalf.representation
    allowed = behalf.categories()
    if allowed is not None and category not in allowed:
        return set_aside(
            source,
            category,
            label,
            records,
            WITHHOLD,
            texts.text("not_for_reason_basis"),
            texts.text("not_for_reason"),
        )
    secret: list[Record] = []
    if behalf.acts_as == "parent":
        secret = [r for r in records if r.secret]
        records = [r for r in records if not r.secret]
    lines = build_lines(
        source, category, label, records, rule,
        birth_date=birth_date, today=today, died_on=died_on, medical=medical,
    )  # fmt: skip
    return lines + set_aside(
        source,
        category,
        label,
        secret,
        SECRET,
        texts.text("minor_secret_basis"),
        texts.text("minor_secret"),
    )


def applicant_of(request: Request, vault: Vault) -> Applicant:
    nir = vault.decrypt(request.nir_encrypted) if request.nir_encrypted else None
    return Applicant(
        last_name=request.last_name,
        first_name=request.first_name,
        birth_date=request.birth_date,
        email=request.email,
        nir=nir or None,
    )


def compute(
    applicant: Applicant,
    right: str,
    *,
    catalogue: Catalogue,
    policy: Policy,
    warehouse: Warehouse,
    today: date,
    confirmed: bool = False,
    behalf: Behalf | None = None,
) -> Draft:
    """Find the subject in every source and apply the rules: a plan, not yet stored.

    ``confirmed``: staff have checked the requester's identity (see ``choose``).
    ``behalf``: the request is made for someone else (None: by the person).
    """
    if behalf is not None and not behalf.may_ask(right, applicant.birth_date, today):
        # Nothing is read: the requester is told why the law does not let them ask this.
        return Draft("refused", review_reasons=(NOT_ENTITLED,))
    connections = warehouse.connections(catalogue.sources)
    try:
        subjects: dict[str, Any] = {}
        contacts: list[str] = []
        reasons: list[str] = []
        # Sources often share one identity table (a master patient index): look once.
        matches: dict[tuple[str, Any], Match] = {}
        for source in catalogue.sources:
            shared = (source.url, source.identity)
            if shared not in matches:
                matches[shared] = warehouse.match(
                    connections[source.url], source, applicant, confirmed=confirmed
                )
            match = matches[shared]
            if match.contact and match.contact not in contacts:
                contacts.append(match.contact)
            if match.outcome == REVIEW and match.reason:
                reasons.append(f"{source.name}:{match.reason}")
            elif match.outcome == MATCHED:
                subjects[source.name] = match.key
        if behalf is not None:
            # The addresses on file are the subject's: they prove nothing of who asks.
            contacts = []
        if reasons:
            # Counting someone else's records would show them to staff and,
            # worse, to the requester: nothing is read until a person decides.
            return Draft(
                "identity_review", review_reasons=tuple(reasons), contacts=tuple(contacts)
            )
        if not subjects:
            return Draft("no_data")
        died_on, refused = _facts(warehouse, catalogue, connections, subjects)
        if behalf is not None and behalf.relationship.subject_deceased and behalf.died_on:
            # The date the requester gave can only lengthen what is kept (R.1112-7).
            died_on = max(died_on or behalf.died_on, behalf.died_on)
        if behalf is not None and behalf.relationship.subject_deceased and refused:
            return Draft("refused", review_reasons=(REFUSED_DURING_LIFE,), subjects=subjects)
        lines: list[Line] = []
        for source in catalogue.sources:
            if source.name not in subjects:
                continue
            by_category: dict[str, list[Record]] = {}
            for spec in source.tables:
                rule = policy.rule(spec.category, right)
                flag = rule.retention.extended_when if rule.retention else None
                by_category.setdefault(spec.category, []).extend(
                    warehouse.records(
                        connections[source.url], source, spec, subjects[source.name], flag
                    )
                )
            for category, records in by_category.items():
                info = source.categories[category]
                lines.extend(
                    behalf_lines(
                        source.name,
                        category,
                        info.label,
                        records,
                        policy.rule(category, right),
                        behalf,
                        birth_date=applicant.birth_date,
                        today=today,
                        died_on=died_on,
                        medical=info.medical_record,
                    )
                )
        return Draft("matched", tuple(lines), subjects=subjects, contacts=tuple(contacts))
    finally:
        for connection in connections.values():
            connection.close()


def _facts(
    warehouse: Warehouse,
    catalogue: Catalogue,
    connections: Mapping[str, Any],
    subjects: Mapping[str, Any],
) -> tuple[date | None, bool]:
    """The latest date of death any source gives the subject, and any refusal during life."""
    deaths: list[date] = []
    refused = False
    for source in catalogue.sources:
        if source.name not in subjects:
            continue
        facts = warehouse.facts(connections[source.url], source, subjects[source.name])
        if facts.died_on is not None:
            deaths.append(facts.died_on)
        refused = refused or facts.refused_access_after_death
    return (max(deaths) if deaths else None), refused


def draft_for(
    request: Request, services: Services, today: date, *, confirmed: bool = False
) -> Draft:
    """The plan today's sources and rules give for a request, not yet stored."""
    return compute(
        applicant_of(request, services.vault),
        request.kind,
        catalogue=services.catalogue,
        policy=services.policy,
        warehouse=services.warehouse,
        today=today,
        confirmed=confirmed,
        behalf=Behalf.of(request, services.representation),
    )

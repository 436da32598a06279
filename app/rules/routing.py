"""Routing: from a verified request to its draft plan, nothing stored.

``build_lines`` is the pure heart: records of one subject, one rule per
category, today's date in, plan lines out. Every record found lands in exactly
one line; a record is marked ``erase`` only when ``policy.decide`` says so,
which it never does while a retention period runs. ``compute`` finds the
subject in every source and calls it; storing the plan and moving the request
on is ``app.rules.plans``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.crypto import Vault
from app.models import PlanLine, Request
from app.rules.catalogue import Catalogue
from app.rules.matching import MATCHED, REVIEW, Applicant, Match
from app.rules.policy import ACTIONS, Decision, Policy, Rule, decide
from app.rules.sources import Record, Warehouse
from app.rules.toml_checks import Text
from app.services import Services

ACTOR = "system:routing"


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


def build_lines(
    source: str,
    category: str,
    label: Text,
    records: Sequence[Record],
    rule: Rule,
    *,
    birth_date: date,
    today: date,
) -> list[Line]:
    """Group one category's records by what happens to them."""
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
) -> Draft:
    """Find the subject in every source and apply the rules: a plan, not yet stored.

    ``confirmed``: staff have checked the requester's identity (see ``choose``).
    """
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
        if reasons:
            # Counting someone else's records would show them to staff and,
            # worse, to the requester: nothing is read until a person decides.
            return Draft(
                "identity_review", review_reasons=tuple(reasons), contacts=tuple(contacts)
            )
        if not subjects:
            return Draft("no_data")
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
                lines.extend(
                    build_lines(
                        source.name,
                        category,
                        source.categories[category].label,
                        records,
                        policy.rule(category, right),
                        birth_date=applicant.birth_date,
                        today=today,
                    )
                )
        return Draft("matched", tuple(lines), subjects=subjects, contacts=tuple(contacts))
    finally:
        for connection in connections.values():
            connection.close()


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
    )

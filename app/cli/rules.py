"""``flask rules`` for the data protection officer, ``flask plan`` for staff."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app import audit, deadlines
from app.crypto import UnknownKey
from app.extensions import db
from app.models import KINDS, Request, utcnow
from app.rules import plans, routing
from app.rules.policy import explain
from app.services import services_of

ACTOR = "cli"


@click.group("rules", cls=AppGroup)
def rules_group() -> None:
    """Check the catalogue and the policy, and explain a rule."""


@rules_group.command("check")
def rules_check() -> None:
    """Validate the catalogue and the policy against the live sources (exit 0 or 1)."""
    services = services_of(current_app)
    # Reaching this point means both files were read and checked at start-up.
    problems = services.warehouse.check()
    catalogue, policy = services.catalogue, services.policy
    # Only on sources known to be sound: reading a missing SQLite file creates it.
    for rule in policy.rules.values() if not problems else ():
        spec = rule.retention
        if spec is None or spec.extended_when is None:
            continue
        for source, table in catalogue.tables_of(rule.category):
            try:
                columns = services.warehouse.table(source, table.name).c
            except SQLAlchemyError:  # already reported by the live check
                continue
            if spec.extended_when not in columns:
                problems.append(
                    f"{policy.path.name}: rules[{rule.number}] ({rule.category}).retention."
                    f"extended_when: column '{spec.extended_when}' is not in table "
                    f"'{table.name}' of source {source.name}."
                )
    if problems:
        click.echo(f"{len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {len(catalogue.sources)} source(s), {len(catalogue.categories)} categories, "
        f"{len(policy.rules)} rules (every category has a rule for each of "
        f"{', '.join(KINDS)}); live schema matches {catalogue.path.name}."
    )
    representation = services.representation
    named = representation.path.name if representation.path else "representation rules"
    click.echo(f"Requests made for someone else ({named}): every right decided:")
    for code, relationship in representation.relationships.items():
        rights = ", ".join(k for k in KINDS if k in relationship.rights) or "none"
        proofs = ", ".join(p.code for p in relationship.proofs)
        click.echo(f"  {code:<10} may exercise {rights}; proves with {proofs}")
    for code, reason in representation.reasons.items():
        click.echo(f"  reason {code}: discloses {', '.join(sorted(reason.categories))}")
    assurance = services.assurance
    click.echo("Identity needed (assurance policy):")
    for kind in KINDS:
        click.echo(
            f"  {kind:<14} plan shown at {', '.join(assurance.levels(kind, 'show_plan'))}; "
            f"acted on at {', '.join(assurance.levels(kind, 'act'))}"
        )


@rules_group.command("explain")
@click.option("--right", type=click.Choice(KINDS), required=True, help="The right exercised.")
@click.option("--category", required=True, help="A category of the catalogue.")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True)
def rules_explain(right: str, category: str, lang: str) -> None:
    """Say in plain words what the policy does with a category for a right."""
    services = services_of(current_app)
    if category not in services.catalogue.categories:
        known = ", ".join(sorted(services.catalogue.categories))
        click.echo(f"Unknown category '{category}'. Known categories: {known}.", err=True)
        sys.exit(1)
    rule = services.policy.rule(category, right)
    click.echo(explain(rule, services.catalogue.label(category), lang))
    holders = ", ".join(sorted({s.name for s, _ in services.catalogue.tables_of(category)}))
    held = "  détenu par :" if lang == "fr" else "  held by:"
    click.echo(f"{held} {holders} (rules[{rule.number}] in {services.policy.path.name})")


@click.group("plan", cls=AppGroup)
def plan_group() -> None:
    """Show a request's plan, or recompute it and see the difference."""


def _request(reference: str) -> Request:
    request = db.session.scalar(select(Request).where(Request.reference == reference.upper()))
    if request is None:
        click.echo(f"No request with reference {reference}.", err=True)
        sys.exit(1)
    return request


@plan_group.command("show")
@click.argument("reference")
def plan_show(reference: str) -> None:
    """Print the plan in force for a request: counts and legal bases, no health data."""
    request = _request(reference)
    plan = request.plan
    if plan is None:
        click.echo(f"{request.reference}: not routed yet (status {request.status}).")
        return
    click.echo(
        f"{request.reference} ({request.kind}), plan {plan.number} of {plan.computed_on}: "
        f"{plan.outcome}"
    )
    for reason in plan.review_reasons:
        click.echo(f"  identity review: {reason}")
    for line in plan.lines:
        until = f" until {line.kept_until}" if line.kept_until else ""
        click.echo(
            f"  {line.source:<18} {line.category:<32} {line.action:<18} "
            f"{line.record_count:>6}{until}  [{line.basis_en}]"
        )


@plan_group.command("recompute")
@click.argument("reference")
@click.option("--save", is_flag=True, help="Keep the new plan as the plan in force.")
def plan_recompute(reference: str, save: bool) -> None:
    """Compute the plan again with today's sources and rules; print what changes."""
    request = _request(reference)
    services = services_of(current_app)
    now = utcnow()
    today = deadlines.receipt_date(now)
    try:
        draft = routing.draft_for(request, services, today)
    except UnknownKey as error:
        click.echo(f"Cannot recompute {request.reference}: {error}.", err=True)
        sys.exit(1)
    old = request.plan
    changes = plans.diff(old, draft)
    if old and old.outcome != draft.outcome:
        click.echo(f"outcome: {old.outcome} -> {draft.outcome}")
    if not changes and (old is None or old.outcome == draft.outcome):
        click.echo("No difference with the plan in force.")
    for change in changes:
        click.echo(
            f"  {change.source} {change.category} {change.action}: "
            f"{change.before} -> {change.after} record(s)"
            + (
                f", kept until {change.kept_until_before} -> {change.kept_until_after}"
                if change.kept_until_before != change.kept_until_after
                else ""
            )
        )
    if save:
        session = db.session()
        stored = plans.plan_and_store(
            session, request, services, now=now, actor=ACTOR, draft=draft
        )
        if stored.medical_deadline:
            # Routing records this in the status change; here no status moves.
            audit.record(
                session,
                actor=ACTOR,
                action="deadline.medical_record",
                now=now,
                request_id=request.id,
                details={"plan": stored.plan.number, "due_on": f"{request.due_on}"},
            )
        db.session.commit()
        click.echo(f"Saved as plan {stored.plan.number}.")
        if stored.medical_deadline:
            click.echo(
                f"Due date moved to {request.due_on}: access to a medical record "
                "(Public Health Code, L.1111-7)."
            )

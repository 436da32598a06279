"""``flask audit``: seal and verify the hash chain of audit events."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app import audit
from app.extensions import db


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Check the audit trail."""


@audit_group.command("seal")
def audit_seal() -> None:
    """Chain the audit events written since the last pass (the worker does it too)."""
    total = 0
    while sealed := audit.seal(db.session()):
        db.session.commit()
        total += sealed
    db.session.commit()
    click.echo(f"{total} event(s) sealed")


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain of audit events; exit 1 naming the first broken link."""
    report = audit.verify(db.session())
    if report.ok:
        click.echo(
            f"audit chain intact: {report.checked} event(s); "
            f"{report.unsealed} recent event(s) waiting to be sealed"
        )
        return
    click.echo(
        f"audit chain broken at event {report.broken_at}: {report.reason} "
        f"({report.checked} event(s) checked before it)",
        err=True,
    )
    sys.exit(1)

"""``flask staff``: create, disable and list staff accounts from the server's shell."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app import accounts
from app.extensions import db
from app.models import STAFF_ROLES, utcnow


@click.group("staff", cls=AppGroup)
def staff_group() -> None:
    """Manage staff accounts."""


@staff_group.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
def staff_create(email: str, role: str) -> None:
    """Create an account and print its one-time enrolment link (valid 72 hours)."""
    vault = current_app.extensions["portal"]["vault"]
    try:
        user, token = accounts.create_staff(db.session(), email, role, vault, utcnow())
    except accounts.AccountError as error:
        db.session.rollback()
        click.echo(f"not created: {error.reason}", err=True)
        sys.exit(1)
    db.session.commit()
    base = current_app.config["PORTAL_BASE_URL"]
    click.echo(f"{user.email} ({user.role}) created; send this one-time enrolment link:")
    click.echo(f"{base}/staff/enrol/{token}")


@staff_group.command("disable")
@click.option("--email", required=True)
def staff_disable(email: str) -> None:
    """Disable an account and end its open sessions."""
    try:
        user = accounts.disable(db.session(), email, utcnow())
    except accounts.AccountError as error:
        db.session.rollback()
        click.echo(f"not disabled: {error.reason}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{user.email} disabled")


@staff_group.command("list")
def staff_list() -> None:
    """List accounts: email, role, state, last sign-in."""
    for user in accounts.list_staff(db.session()):
        state = (
            "disabled"
            if not user.is_active
            else ("enrolled" if user.password_hash else "waiting for enrolment")
        )
        last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "-"
        click.echo(f"{user.email}\t{user.role}\t{state}\t{last}")

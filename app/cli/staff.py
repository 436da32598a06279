"""``flask staff``: create, change, enable, disable and list staff accounts from the server.

What is done here is the operator's act: a role given here is in force at
once, the DPO role included (the first DPO comes from here), where an
administrator on the accounts page needs a second DPO to confirm it
(``app.staffing.duties``). Enrolment links go to the account's own mailbox;
only the demo, which has no real mailbox, prints them as well.

``staff demo`` and ``staff code`` exist for the demo (and the tests) only:
they create accounts whose passwords and TOTP secrets are printed for anyone
to read, so they refuse to run in the production shape.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import NoReturn

import click
import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit
from app.crypto import UnknownKey, Vault
from app.extensions import db
from app.models import STAFF_ROLES, StaffUser, utcnow
from app.services import services_of
from app.staffing import accounts, duties, invites


@click.group("staff", cls=AppGroup)
def staff_group() -> None:
    """Manage staff accounts."""


def _domain() -> str:
    return services_of(current_app).mail.domain


def _account(email: str) -> StaffUser:
    user = db.session.scalar(
        select(StaffUser).where(StaffUser.email == accounts.normalise_email(email))
    )
    if user is None:
        click.echo(f"no account {email}", err=True)
        sys.exit(1)
    return user


def _refused(what: str, error: accounts.AccountError) -> NoReturn:
    db.session.rollback()
    click.echo(f"{what}: {error.reason}", err=True)
    sys.exit(1)


def _sent(user: StaffUser, token: str) -> None:
    """Say where the link went; print it only in the demo, which has no real mailbox."""
    click.echo(
        f"the one-time enrolment link (valid {invites.ENROLMENT_HOURS} hours) is emailed to "
        f"{user.email}, and shown nowhere else"
    )
    if current_app.config.get("PORTAL_ENV") == "demo":
        base = current_app.config["PORTAL_BASE_URL"]
        click.echo("demo only (no real mailbox; also in /demo/mailbox):")
        click.echo(f"{base}/staff/enrol/{token}")


@staff_group.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
def staff_create(email: str, role: str) -> None:
    """Create an account, in force at once; its enrolment link goes to its own address."""
    vault = services_of(current_app).vault
    try:
        user, token = invites.create_staff(
            db.session(), email, role, vault, utcnow(), domain=_domain()
        )
    except accounts.AccountError as error:
        _refused("not created", error)
    db.session.commit()
    click.echo(f"{user.email} ({user.role}) created")
    _sent(user, token)


@staff_group.command("role")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
def staff_role(email: str, role: str) -> None:
    """Give an account another role, in force at once (DPOs are told of privileged roles)."""
    user = _account(email)
    try:
        done = duties.change_role(db.session(), user, role, utcnow(), by=None, domain=_domain())
    except accounts.AccountError as error:
        _refused("not changed", error)
    db.session.commit()
    click.echo(f"{user.email}: {role} ({done})")


@staff_group.command("enable")
@click.option("--email", required=True)
def staff_enable(email: str) -> None:
    """Enable a disabled account again (DPOs are told if its role is privileged)."""
    user = _account(email)
    done = duties.enable(db.session(), user, utcnow(), domain=_domain())
    db.session.commit()
    click.echo(f"{user.email} enabled" if done else f"{user.email} was already active")


@staff_group.command("send-link")
@click.option("--email", required=True)
def staff_send_link(email: str) -> None:
    """Email a new enrolment link to an account that has not enrolled (the old one dies)."""
    user = _account(email)
    try:
        token = duties.resend_enrolment(db.session(), user, utcnow(), by=None, domain=_domain())
    except accounts.AccountError as error:
        _refused("not sent", error)
    db.session.commit()
    _sent(user, token)


@staff_group.command("disable")
@click.option("--email", required=True)
def staff_disable(email: str) -> None:
    """Disable an account and end its open sessions."""
    try:
        user = accounts.disable(db.session(), email, utcnow())
    except accounts.AccountError as error:
        _refused("not disabled", error)
    db.session.commit()
    click.echo(f"{user.email} disabled")


@staff_group.command("list")
def staff_list() -> None:
    """List accounts: email, role, state, last sign-in, who created it."""
    staff = accounts.list_staff(db.session())
    emails = {user.id: user.email for user in staff}
    for user in staff:
        state = (
            "disabled"
            if not user.is_active
            else ("enrolled" if user.password_hash else "waiting for enrolment")
        )
        role = user.role or "-"
        if user.pending_role:
            role += f" ({user.pending_role} awaiting a DPO's confirmation)"
        last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "-"
        creator = emails.get(user.created_by_id or 0, "server")
        click.echo(f"{user.email}\t{role}\t{state}\t{last}\tcreated by {creator}")


# Demo and test only: fixed, documented accounts so a newcomer can try the queue.
DEMO_SHAPES = ("demo", "test")
DEMO_ACTOR = "cli:demo"
FLASK = ".venv/bin/flask --app wsgi"
DEMO_STAFF = (
    ("agent", "agent@demo.example", "demo-password-agent"),
    ("dpo", "dpo@demo.example", "demo-password-dpo"),
    ("admin", "admin@demo.example", "demo-password-admin"),
)


def _demo_only(command: str) -> None:
    """Refuse, exit 1, outside the demo and test shapes: these accounts have public secrets."""
    shape = current_app.config.get("PORTAL_ENV", "production")
    if shape not in DEMO_SHAPES:
        click.echo(
            f"flask staff {command} is for the demo only (PORTAL_ENV=demo); this portal runs "
            f"as {shape!r}. Nothing was changed. Use `flask staff create` instead.",
            err=True,
        )
        sys.exit(1)


def _password_is(user: StaffUser, password: str) -> bool:
    try:
        return user.password_hash is not None and accounts.HASHER.verify(
            user.password_hash, password
        )
    except (VerificationError, InvalidHashError):
        return False


def _readable_secret(user: StaffUser, vault: Vault) -> str | None:
    try:
        return accounts.totp_secret(user, vault)
    except (UnknownKey, accounts.AccountError):
        return None


def ensure_demo_account(
    session: Session, role: str, email: str, password: str, vault: Vault, now: datetime
) -> tuple[StaffUser, str, list[str]]:
    """The demo account, enrolled and usable with the documented password; what was done."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None:
        # Enrolled here and now, so no enrolment email: its link would be spent already.
        user = invites.new_account(session, email, role, vault, now, actor=DEMO_ACTOR)
        token = invites.issue_enrolment(user, now)
        secret = accounts.totp_secret(user, vault)
        # A code of the previous time step, so that signing in right away is not a reuse.
        code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
        accounts.enrol(session, token, password, code, vault, now)
        return user, secret, ["created"]
    done: list[str] = []
    readable = _readable_secret(user, vault)
    if readable is None:
        # The data key changed (instance/data_key deleted or DATA_ENCRYPTION_KEYS set):
        # the old secret is lost, a new one must be scanned.
        readable = pyotp.random_base32()
        user.totp_secret_encrypted = vault.encrypt(readable)
        user.totp_last_step = None
        done.append("TOTP secret reset: the old one cannot be decrypted with the current key")
    if not user.is_active:
        user.is_active = True
        done.append("enabled again")
    if not _password_is(user, password):
        user.password_hash = accounts.HASHER.hash(password)
        user.enrolment_token_hash = None
        user.enrolment_expires_at = None
        done.append("password set back to the demo password")
    if done:
        accounts.end_sessions(session, user)
        audit.record(
            session,
            actor=DEMO_ACTOR,
            action="staff.demo_reset",
            now=now,
            details={"staff_id": user.id, "changes": len(done)},
        )
    return user, readable, done


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@staff_group.command("demo")
def staff_demo() -> None:
    """(Demo only) Create the demo staff accounts, one per role, and print how to sign in."""
    _demo_only("demo")
    vault = services_of(current_app).vault
    now = utcnow()
    rows = []
    for role, email, password in DEMO_STAFF:
        _user, secret, done = ensure_demo_account(db.session(), role, email, password, vault, now)
        rows.append((role, email, password, secret))
        for what in done:
            click.echo(f"{email}: {what}")
    db.session.commit()
    base = current_app.config["PORTAL_BASE_URL"]
    click.echo(f"Demo staff accounts (sign in at {base}/staff/login):")
    header = ("role", "email", "password", "TOTP secret")
    table = [header, *((r, e, p, _grouped(s)) for r, e, p, s in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        click.echo(f"  {cells}".rstrip())
    click.echo("Authenticator apps: add the secret by hand, or use the otpauth:// URI:")
    for role, email, _password, secret in rows:
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=accounts.ISSUER)
        click.echo(f"  {role:<5}  {uri}")
    click.echo("No phone? Get the current code with:")
    click.echo(f"  PORTAL_ENV=demo {FLASK} staff code --email {rows[0][1]}")
    snippet = f"import pyotp; print(pyotp.TOTP('{rows[0][3]}').now())"
    click.echo(f'  or: .venv/bin/python -c "{snippet}"')
    click.echo("A code is accepted once: wait for the next one (30 s) to sign in again.")


@staff_group.command("code")
@click.option("--email", required=True)
def staff_code(email: str) -> None:
    """(Demo only) Print the current TOTP code of an account, for signing in without a phone."""
    _demo_only("code")
    vault = services_of(current_app).vault
    user = db.session.scalar(
        select(StaffUser).where(StaffUser.email == accounts.normalise_email(email))
    )
    secret = _readable_secret(user, vault) if user is not None else None
    if secret is None:
        click.echo(f"no usable account {email}: run `flask staff demo` first", err=True)
        sys.exit(1)
    totp = pyotp.TOTP(secret)
    left = totp.interval - int(utcnow().timestamp()) % totp.interval
    click.echo(totp.now())
    click.echo(f"valid for {left} more second(s)", err=True)

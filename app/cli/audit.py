"""``flask audit``: seal the chain of audit events, anchor its head, verify both."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import audit, locks
from app.audit import anchors, daily
from app.extensions import db
from app.models import utcnow
from app.outbox import jobs
from app.services import services_of

ACTOR = "cli"


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """Check the audit trail."""


@audit_group.command("seal")
def audit_seal() -> None:
    """Chain the audit events written since the last pass (the worker does it too).

    Each batch takes the sealing duty's try-lock, as the worker's housekeeping does
    (``app.locks.try_duty``): when a worker is sealing, this stops at once and
    says so instead of queuing behind it on the chain's head.
    """
    keyring = services_of(current_app).audit.keyring
    session = db.session()
    total = 0
    while True:
        if not locks.try_duty(session, locks.SEAL_DUTY):
            session.rollback()
            click.echo(f"{total} event(s) sealed; another process is sealing the rest")
            return
        sealed = audit.seal(session, keyring)
        session.commit()
        if not sealed:
            break
        total += sealed
    click.echo(f"{total} event(s) sealed")


@audit_group.command("anchor")
@click.option(
    "--daily",
    "daily_only",
    is_flag=True,
    help="Only if today's anchor is not written or queued yet (what the daily timer runs).",
)
def audit_anchor(daily_only: bool) -> None:
    """Seal, then write the chain's head to the anchor file now and email it to the DPOs."""
    services = services_of(current_app)
    now = utcnow()
    todays = None
    if daily_only:
        # Take the day's job ourselves, so the worker does not anchor a second time.
        todays = daily.queue_daily(db.session(), now=now)
        if todays is None:
            db.session.rollback()
            click.echo("today's anchor is already written or queued: nothing to do")
            return
    anchor = daily.write_anchor(
        db.session(),
        now=now,
        keyring=services.audit.keyring,
        path=services.audit.anchor_file,
        domain=services.mail.domain,
        actor=ACTOR,
    )
    if todays is not None:
        jobs.finish(todays, now)
    db.session.commit()
    click.echo(f"anchored in {services.audit.anchor_file}: {anchor.text()}")


@audit_group.command("verify")
@click.option(
    "--anchors",
    "anchor_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare with these anchors (e.g. lines from the DPOs' emails) instead of "
    "AUDIT_ANCHOR_FILE.",
)
def audit_verify(anchor_file: Path | None) -> None:
    """Check the chain with AUDIT_KEYS and against every anchor; exit 1 naming the first fault."""
    services = services_of(current_app)
    path = anchor_file or services.audit.anchor_file
    try:
        found = anchors.read(path)
    except anchors.AnchorFileError as error:
        click.echo(f"the anchor file {path} cannot be read: {error}", err=True)
        sys.exit(1)
    if found is None and anchor_file is not None:
        click.echo(f"there is no anchor file at {path}", err=True)
        sys.exit(1)
    keyring = services.audit.keyring
    report = audit.verify(db.session(), keyring, found)
    if not report.ok:
        click.echo(_broken(report, path), err=True)
        sys.exit(1)
    legacy = f" ({report.legacy} sealed before the chain was keyed)" if report.legacy else ""
    click.echo(
        f"audit chain intact: {report.checked} event(s){legacy}; "
        f"{report.unsealed} recent event(s) waiting to be sealed"
    )
    for kid, count in sorted(report.keys.items()):
        state = "signs new events" if kid == keyring.signing_id else "verifies only"
        click.echo(f"  key {kid}: {count} event(s), {state}")
    if report.anchors is None:
        click.echo(
            f"warning: no anchor file at {path}: the chain was checked against its keys only",
            err=True,
        )
    else:
        click.echo(f"{report.anchors} anchor(s) in {path} match the chain")


def _broken(report: audit.ChainReport, path: Path) -> str:
    """The first fault, named: the event, then the key or the anchor it concerns."""
    where = f"audit chain broken at event {report.broken_at}: {report.reason}"
    if report.key_id:
        where += f" (key {report.key_id})"
    if report.anchor is not None:
        where += (
            f" (anchor of {report.anchor.day.isoformat()}, line {report.anchor.line} of {path})"
        )
    elif report.reason == audit.UNVOUCHED:
        where += (
            f" (no anchor in {path}; if the portal has just been upgraded to a keyed chain "
            "and never anchored, run flask audit anchor; otherwise keys were stripped)"
        )
    return f"{where}; {report.checked} event(s) checked before it"

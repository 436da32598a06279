"""``flask purge``: remove personal data the portal no longer needs (see ``app.purge``)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app import purge
from app.extensions import db
from app.models import utcnow

LABELS = {
    "requests": "closed requests whose personal data is removed",
    "case_notes": "case notes deleted",
    "link_tokens": "links deleted",
    "packages": "access packages of those requests emptied",
    "expired_packages": "expired access packages emptied",
    "unverified": "never-confirmed requests deleted",
}


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=0),
    default=None,
    help="Purge requests closed more than this many days ago "
    "(default: PURGE_CLOSED_AFTER_DAYS, 5 years).",
)
@with_appcontext
def purge_command(dry_run: bool, older_than_days: int | None) -> None:
    """Purge old closed requests, expired packages and week-old unconfirmed requests."""
    days = (
        older_than_days
        if older_than_days is not None
        else current_app.config["PURGE_CLOSED_AFTER_DAYS"]
    )
    cut = purge.cutoffs(utcnow(), days)
    session = db.session()
    planned = purge.survey(session, cut)
    if dry_run:
        session.rollback()
        click.echo(f"Dry run: requests closed before {cut.closed_before:%Y-%m-%d}.")
        _show(planned)
        click.echo("Nothing was changed.")
        return
    done = purge.Counts()
    with click.progressbar(length=max(planned.total, 1), label="Purging") as bar:
        for counts in purge.run(session, cut):
            session.commit()
            done.add(counts)
            bar.update(counts.total)
    purge.record(session, done, cut)
    session.commit()
    _show(done)


def _show(counts: purge.Counts) -> None:
    for name, value in counts.as_dict().items():
        click.echo(f"{value}\t{LABELS[name]}")

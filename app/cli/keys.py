"""``flask keys``: re-encrypt the stored values under the newest data key, and check."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from app import keyrotation, name_search
from app.crypto import Vault
from app.extensions import db
from app.services import services_of


@click.group("keys", cls=AppGroup)
def keys_group() -> None:
    """Rotate DATA_ENCRYPTION_KEYS: re-encrypt, then say what still needs an old key."""


@keys_group.command("rotate")
@click.option("--batch", default=500, show_default=True, help="Rows committed at a time.")
def keys_rotate(batch: int) -> None:
    """Re-encrypt every encrypted column and package with the first key of
    DATA_ENCRYPTION_KEYS. Safe to stop and run again: it goes on where it stopped."""
    vault = services_of(current_app).vault
    session = db.session()
    for column in keyrotation.ENCRYPTED:
        total = keyrotation.count(session, column)
        with _progress(column.label, total) as advance:
            outcome = keyrotation.rotate(session, vault, column, batch=batch, progress=advance)
        click.echo(
            f"{column.label}: {outcome.rotated} re-encrypted, "
            f"{outcome.seen - outcome.rotated} left as they were"
            + (
                f", {outcome.changed_meanwhile} changed meanwhile"
                if outcome.changed_meanwhile
                else ""
            )
            + (f", {outcome.unreadable} UNREADABLE" if outcome.unreadable else "")
        )
    _report(vault, session)


@keys_group.command("rehash-names")
@click.option("--batch", default=1000, show_default=True, help="Rows committed at a time.")
def keys_rehash_names(batch: int) -> None:
    """Write the name-search digests under the first key of NAME_SEARCH_KEYS. Run it after
    putting a new key first; once done, the old key can be removed. Safe to run again."""
    written = name_search.rehash(db.session(), services_of(current_app).names, batch=batch)
    click.echo(f"name digests: {written} rewritten under the newest key")


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar on a terminal; elsewhere (journald, a pipe) a line every 10 seconds and at the end,
    since click's bar draws nothing but its label when the output is not a terminal."""
    if sys.stderr.isatty():
        with click.progressbar(
            length=total, label=f"{label:32}", file=sys.stderr, show_pos=True
        ) as bar:
            yield bar.update
        return
    done, started, shown = 0, time.monotonic(), time.monotonic()

    def line() -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        percent = 100 * done // total if total else 100
        click.echo(f"{label}: {done:,}/{total:,} ({percent}%), {rate:,.0f}/s", err=True)

    def advance(rows: int) -> None:
        nonlocal done, shown
        done += rows
        if time.monotonic() - shown >= 10:
            shown = time.monotonic()
            line()

    yield advance
    line()


@keys_group.command("status")
def keys_status() -> None:
    """Count, per column, the values each configured key opens; exit 1 if any needs an old one."""
    _report(services_of(current_app).vault, db.session())


def _report(vault: Vault, session: Session) -> None:
    old = unreadable = 0
    for column in keyrotation.ENCRYPTED:
        tally = keyrotation.census(session, vault, column)
        old += sum(n for name, n in tally.items() if name.startswith("old-"))
        unreadable += tally.get("none", 0)
        shown = ", ".join(f"{name} {n}" for name, n in sorted(tally.items())) or "empty"
        click.echo(f"  {column.label:32} {shown}")
    if unreadable:
        click.echo(
            f"{unreadable} value(s) open with no configured key: put the key they need back "
            "in DATA_ENCRYPTION_KEYS.",
            err=True,
        )
    if old:
        click.echo(
            f"{old} value(s) still need an old key: run `flask keys rotate` before removing it.",
            err=True,
        )
    if old or unreadable:
        sys.exit(1)
    click.echo("every stored value opens with the newest key: the older keys can be removed.")

"""``flask demo-data``: build the synthetic demo health data warehouse.

The file goes where the portal will read it: the path of ``WAREHOUSE_URL``
when it is a ``sqlite:///`` URL, else ``instance/warehouse.sqlite3``. An
existing warehouse is replaced only with ``--force`` (an empty file, as SQLite
leaves when something connects before the warehouse is built, is not one).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.demo import warehouse

PARIS = ZoneInfo("Europe/Paris")


def _check_citizens(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value < warehouse.MIN_CITIZENS:
        raise click.BadParameter(
            f"the demo warehouse needs at least {warehouse.MIN_CITIZENS} citizens "
            f"(its {len(warehouse.PERSONAS)} personas come first), not {value}."
        )
    return value


def _check_as_of(
    _ctx: click.Context, _param: click.Parameter, value: datetime | None
) -> date | None:
    if value is None:
        return None
    if value.date() < warehouse.EARLIEST_AS_OF:
        raise click.BadParameter(
            f"must be {warehouse.EARLIEST_AS_OF.isoformat()} or later "
            "(the personas' records come after their births)."
        )
    return value.date()


def default_output() -> Path:
    """Where the portal expects the warehouse, from ``WAREHOUSE_URL`` when it is set."""
    url = current_app.config.get("WAREHOUSE_URL")
    if not url:
        return Path(current_app.instance_path) / "warehouse.sqlite3"
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise click.ClickException(
            "WAREHOUSE_URL is not a database URL; pass --output PATH."
        ) from error
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise click.ClickException(
            "WAREHOUSE_URL does not name a SQLite file; pass --output PATH to choose one."
        )
    return Path(str(parsed.database))


@click.command("demo-data")
@click.option(
    "--citizens",
    type=int,
    default=2000,
    show_default=True,
    callback=_check_citizens,
    help="People in the warehouse, personas included.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    callback=_check_as_of,
    help="The day the data is counted back from (YYYY-MM-DD). Default: today in Paris.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The SQLite file to write. Default: the file of WAREHOUSE_URL.",
)
@click.option("--force", is_flag=True, help="Replace an existing warehouse file.")
@with_appcontext
def demo_data_command(
    citizens: int, seed: int, as_of: date | None, output: Path | None, force: bool
) -> None:
    """Build the synthetic demo health data warehouse (fictitious people only)."""
    path = output if output is not None else default_output()
    # SQLite creates an empty file when something merely connects to a
    # missing database: that holds no data worth protecting.
    if path.exists() and not force and not _is_empty_file(path):
        raise click.ClickException(
            f"{path} already exists; nothing was changed. Pass --force to replace it."
        )
    day = as_of or datetime.now(PARIS).date()
    with click.progressbar(length=citizens, label="Building the demo warehouse") as bar:
        summary = warehouse.build(
            path, citizens=citizens, seed=seed, as_of=day, progress=bar.update
        )

    size_mb = summary.path.stat().st_size / 1_000_000
    click.echo(
        f"Built {summary.path} in {summary.seconds:.1f} s ({size_mb:,.1f} MB): "
        f"{summary.citizens:,} citizens, seed {seed}, data as of {day.isoformat()}."
    )
    width = max(len(table) for table in summary.rows)
    for table, count in summary.rows.items():
        click.echo(f"  {table:<{width}}  {count:>12,}")
    click.echo(f"  {'total':<{width}}  {sum(summary.rows.values()):>12,}")
    click.echo()
    click.echo("Personas: file a request as one of them to see how it is routed.")
    _echo_personas()


def _is_empty_file(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == 0


def _echo_personas() -> None:
    rows = [
        (
            f"{p.first_name} {p.last_name}",
            p.birth_date.isoformat(),
            # Synthetic numbers, shown whole so that a newcomer can type them in the form.
            p.nir or "(none)",
            p.email or "(none)",
            p.demonstrates,
        )
        for p in warehouse.PERSONAS
    ]
    header = ("Name", "Born", "NIR", "Email", "Demonstrates")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    for row in (header, *rows):
        cells = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        click.echo(f"  {cells}  {row[4]}")

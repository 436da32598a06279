"""``flask research-extract``: a pseudonymised extract that honours objections and restrictions.

The extract itself is built by ``app.fulfilment.objection.research_extract``; this
command adds the people whose records are restricted (read from the portal's
database), writes the CSV with cells a spreadsheet never runs, and says how
many people were left out, never who.
"""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app import audit, deadlines
from app.casework.export import csv_safe
from app.extensions import db
from app.fulfilment import objection, rectification
from app.models import utcnow
from app.services import Services, services_of

ACTOR = "cli"


@click.command("research-extract")
@click.option("--cohort", required=True, help="The cohort to extract, e.g. CONSTANCES.")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The CSV file to write (replaced if it exists).",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Use the variables extracted on or before this date (default: today).",
)
@with_appcontext
def research_extract_command(cohort: str, output: Path, as_of: datetime | None) -> None:
    """Write a cohort's pseudonymised extract, leaving out objections and restrictions."""
    services: Services = services_of(current_app)
    day = as_of.date() if as_of else deadlines.receipt_date(utcnow())
    source, _ = objection.research_source(services.catalogue)
    session = db.session()
    restricted = rectification.restricted_subjects(session, source.name)
    extract = objection.research_extract(services.warehouse, cohort, day, restricted)
    write_csv(output, extract)
    audit.record(
        session,
        actor=ACTOR,
        action="research.extracted",
        now=utcnow(),
        details={
            "cohort": cohort,
            "as_of": day.isoformat(),
            "rows": len(extract.rows),
            "left_out_objection": extract.left_out_objection,
            "left_out_restriction": extract.left_out_restriction,
        },
    )
    session.commit()
    click.echo(f"{len(extract.rows)} row(s) of cohort {cohort} as of {day} written to {output}")
    click.echo(f"{extract.left_out_objection} person(s) left out because of an objection")
    click.echo(f"{extract.left_out_restriction} person(s) left out because of a restriction")


def write_csv(path: Path, extract: objection.Extract) -> None:
    """Write the extract atomically, readable by its owner only (it is health data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow([csv_safe(name) for name in extract.columns])
            for row in extract.rows:
                writer.writerow([_cell(row.get(name)) for name in extract.columns])
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return csv_safe(value)

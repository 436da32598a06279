"""Build the synthetic demo health data warehouse (``catalogue/WAREHOUSE_SCHEMA.md``).

One SQLite file holds every source the demo catalogue describes: identities,
hospital stays and diagnoses, transfusions, reimbursements, care exchanges,
prescriptions, lab results, research linkage and extracts, contact
preferences and the objection registry. Nothing in it is about a real person.

The build is deterministic so that a demo, a test or a bug report can be
reproduced: the same ``(citizens, seed, as_of)`` always gives the same table
contents. Every random draw comes from a ``random.Random`` seeded from a
string (seeded through SHA-512, so unlike ``hash()`` it does not change
between processes), one for the personas and one per chunk of citizens;
chunks are drawn and written in order, rows are numbered in that order, and
nothing iterates over a set. All dates are counted back from ``as_of``, so
"recent" data stays recent whenever the demo is built.

``PERSONAS`` are fixed people written first (``person_id`` 1 to 15) with
hand-made records, the same for every seed: the demo and the tests file
requests as them. They count towards ``citizens``: the warehouse has exactly
``citizens`` rows in ``persons``, so it needs at least ``MIN_CITIZENS``.

This module builds the file; the tables are in ``app.demo.schema``, the
personas in ``app.demo.personas``, the random citizens in
``app.demo.population`` and the lists they are drawn from in ``app.demo.names``.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from app.demo.personas import EARLIEST_AS_OF, MIN_CITIZENS, PERSONAS
from app.demo.population import Generator
from app.demo.schema import INDEXES, TABLES, create_schema, insert

# Large enough that executemany amortises its overhead, small enough that a
# chunk's rows (about 100,000 tuples) stay a few tens of megabytes.
CHUNK = 10_000


@dataclass(frozen=True)
class BuildSummary:
    """What ``build`` wrote: ``rows`` counts the rows of every table."""

    citizens: int
    rows: dict[str, int]
    seconds: float
    path: Path


def build(
    path: Path,
    *,
    citizens: int,
    seed: int,
    as_of: date,
    progress: Callable[[int], None] | None = None,
) -> BuildSummary:
    """Write a warehouse of ``citizens`` people to ``path``, replacing any file there.

    The file appears only once complete: it is built next to ``path`` and
    renamed into place, so a build that is killed leaves at most a stray
    ``.building`` file, never a half warehouse. ``progress`` is called with
    the number of people written since its previous call.
    """
    if citizens < MIN_CITIZENS:
        raise ValueError(
            f"the demo warehouse needs at least {MIN_CITIZENS} citizens "
            f"(its {len(PERSONAS)} personas come first), not {citizens}"
        )
    if as_of < EARLIEST_AS_OF:
        raise ValueError(
            f"as_of must be {EARLIEST_AS_OF.isoformat()} or later: "
            "the personas' records come after their births"
        )
    started = time.monotonic()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".building", dir=path.parent
    )
    os.close(handle)
    temporary = Path(temporary_name)
    counts = dict.fromkeys(TABLES, 0)
    try:
        connection = sqlite3.connect(temporary)
        try:
            # The file is thrown away if the build fails, so neither a journal
            # nor waiting for the disk buys anything here.
            connection.execute("PRAGMA journal_mode=OFF")
            connection.execute("PRAGMA synchronous=OFF")
            create_schema(connection)
            generator = Generator(seed, as_of)
            generator.personas()
            insert(connection, generator.take_rows(), counts)
            if progress is not None:
                progress(len(PERSONAS))
            first_id = len(PERSONAS) + 1
            index = 0
            while first_id <= citizens:
                count = min(CHUNK, citizens - first_id + 1)
                generator.chunk(first_id, count, index)
                insert(connection, generator.take_rows(), counts)
                if progress is not None:
                    progress(count)
                first_id += count
                index += 1
            for name, table, column in INDEXES:
                connection.execute(f"CREATE INDEX {name} ON {table} ({column})")
            connection.commit()
        finally:
            connection.close()
        # synchronous=OFF skipped every flush: make the content durable before
        # the rename publishes it.
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return BuildSummary(
        citizens=citizens,
        rows=counts,
        seconds=time.monotonic() - started,
        path=path,
    )

"""Routing one subject: does its cost stay flat as the demo warehouse grows?

Builds the demo warehouse (``app.demo.warehouse.build``) at each size, by
default 10,000 and 1,000,000 citizens, with the same seed and the same
``as_of`` (today in Paris), and prints:

1. for each build: its time, the peak memory (peak RSS of a child process
   that does nothing but the build, read with ``os.wait4``) and the file size;
2. for each warehouse: the time of ``app.rules.routing.compute`` for one subject,
   once found by social-security number (persona 1, Camille Lefèvre-Dubois)
   and once by names, birth date and email (persona 11, Zoé N'Diaye, who has
   no number), for each right (erasure and access by default). After a
   warm-up, the runs against the warehouses are interleaved, so that whatever
   else the machine does falls on every size alike; median and 95th
   percentile in milliseconds;
3. the ratio of the medians, largest warehouse over smallest, against the
   target (at most 1.5), with PASS or FAIL. It is a measurement, not a test:
   the exit code is 0 either way.

It also prints, per warehouse and subject, the SQL statements one routing
issues, the rows they return, and the time SQLite alone takes to answer them
(the same statements replayed on a bare ``sqlite3`` connection), and the time
of the identity half alone (``Warehouse.match`` in every source): the rest of
the routing time is Python (SQLAlchemy, matching, the policy).

    .venv/bin/python bench/routing.py [--sizes 10000 1000000] [--runs 200]
        [--rights erasure access] [--keep DIR]

With ``--keep DIR`` the warehouses (and their build figures, in a JSON file
next to each) stay in DIR and a rerun reuses them; delete a file to rebuild
it. Without it they are built in a temporary directory, deleted at the end.
The 1,000,000-citizen build takes about 35 s on 2 cores and 1 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.deadlines import PARIS  # noqa: E402
from app.demo.personas import PERSONAS  # noqa: E402
from app.rules.matching import Applicant  # noqa: E402
from app.rules.routing import Draft, compute  # noqa: E402
from app.services import Services, services_of  # noqa: E402

TARGET = 1.5

# Runs in a fresh interpreter, so that its peak RSS is the build's alone
# (plus the interpreter and the imports, measured separately).
BUILD_CHILD = """
import json, sys, time
from datetime import date
from pathlib import Path
from app.demo.warehouse import build
from app.services import services_of

path, citizens, seed, as_of = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tty = sys.stderr.isatty()
done = 0
shown = -1
started = time.monotonic()

def progress(count):
    global done, shown
    done += count
    percent = done * 100 // citizens
    if percent != shown and (tty or percent % 10 == 0):
        shown = percent
        line = (f"  building {citizens:,} citizens: {percent:3d} % ({done:,}), "
                f"{time.monotonic() - started:.0f} s")
        sys.stderr.write(("\\r" + line) if tty else line + "\\n")
        sys.stderr.flush()

summary = build(path, citizens=citizens, seed=seed, as_of=date.fromisoformat(as_of),
                progress=progress)
if tty:
    sys.stderr.write("\\n")
print(json.dumps({"seconds": summary.seconds, "rows": summary.rows}))
"""

IMPORT_CHILD = "import app.demo.warehouse"


@dataclass
class Built:
    citizens: int
    path: Path
    as_of: str
    seconds: float
    peak_rss_mib: float
    size_mb: float
    rows: dict[str, int]
    reused: bool = False


@dataclass(frozen=True)
class Subject:
    label: str
    applicant: Applicant


def persona_subjects() -> list[Subject]:
    by_id = {p.person_id: p for p in PERSONAS}
    subjects = []
    for person_id, how in ((1, "by number"), (11, "no number")):
        p = by_id[person_id]
        applicant = Applicant(
            last_name=p.last_name,
            first_name=p.first_name,
            birth_date=p.birth_date,
            email=p.email or "",
            nir=p.nir if how == "by number" else None,
        )
        subjects.append(Subject(f"{p.first_name} ({how})", applicant))
    return subjects


def run_child(code: str, args: list[str]) -> tuple[str, float]:
    """Run ``code`` in a fresh interpreter: its stdout and its peak RSS in MiB."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the child process failed with exit code {child.returncode}")
    return output, usage.ru_maxrss / 1024  # Linux reports KiB


def build_or_reuse(directory: Path, citizens: int, seed: int, as_of: date) -> Built:
    path = directory / f"warehouse-{citizens}-seed{seed}.sqlite3"
    figures = path.with_suffix(".json")
    if path.exists() and figures.exists():
        saved = json.loads(figures.read_text())
        return Built(path=path, reused=True, **saved)
    output, peak = run_child(BUILD_CHILD, [str(path), str(citizens), str(seed), as_of.isoformat()])
    result = json.loads(output)
    built = Built(
        citizens=citizens,
        path=path,
        as_of=as_of.isoformat(),
        seconds=result["seconds"],
        peak_rss_mib=peak,
        size_mb=path.stat().st_size / 1_000_000,
        rows=result["rows"],
    )
    saved = {k: v for k, v in vars(built).items() if k not in ("path", "reused")}
    figures.write_text(json.dumps(saved, indent=2) + "\n")
    return built


def services_for(path: Path, portal_db: Path) -> Services:
    app = create_app(
        {
            "PORTAL_ENV": "test",
            "WAREHOUSE_URL": f"sqlite:///{path}",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{portal_db}",
            "MAIL_DIR": str(portal_db.parent / "mail"),
        }
    )
    return services_of(app)


def route(services: Services, subject: Subject, right: str, today: date) -> Draft:
    return compute(
        subject.applicant,
        right,
        catalogue=services.catalogue,
        policy=services.policy,
        warehouse=services.warehouse,
        today=today,
    )


def summary_of(draft: Draft) -> str:
    records = sum(line.record_count for line in draft.lines)
    return f"{draft.outcome}, {len(draft.lines)} lines, {records} records"


def percentile_95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def time_interleaved(calls: list[Callable[[], Any]], warmup: int, runs: int) -> list[list[float]]:
    """Milliseconds of each call, run in turn ``runs`` times after ``warmup`` rounds."""
    for _ in range(warmup):
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for index, call in enumerate(calls):
            started = time.perf_counter_ns()
            call()
            samples[index].append((time.perf_counter_ns() - started) / 1e6)
    return samples


def sql_of_one_routing(
    services: Services, subject: Subject, right: str, today: date
) -> list[tuple[str, Any]]:
    """The statements one routing sends to the warehouse, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engines = list(
        {s.url: services.warehouse.engine(s) for s in services.catalogue.sources}.values()
    )
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        route(services, subject, right, today)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)
    return statements


def identify(services: Services, subject: Subject) -> None:
    """The identity half of ``compute``: find the subject in every source, read nothing else."""
    warehouse, sources = services.warehouse, services.catalogue.sources
    connections = warehouse.connections(sources)
    try:
        for source in sources:
            warehouse.match(connections[source.url], source, subject.applicant)
    finally:
        for connection in connections.values():
            connection.close()


def sqlite_alone(path: Path, statements: list[tuple[str, Any]], runs: int) -> tuple[float, int]:
    """Median milliseconds for bare sqlite3 to answer ``statements``, and the rows returned."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = 0
        for statement, parameters in statements:
            rows += len(connection.execute(statement, parameters).fetchall())
        samples = []
        for _ in range(runs):
            started = time.perf_counter_ns()
            for statement, parameters in statements:
                connection.execute(statement, parameters).fetchall()
            samples.append((time.perf_counter_ns() - started) / 1e6)
    finally:
        connection.close()
    return statistics.median(samples), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rights", nargs="+", default=["erasure", "access"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="build into (and reuse from) this directory")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    as_of = datetime.now(PARIS).date()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-routing-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        _, baseline_rss = run_child(IMPORT_CHILD, [])
        builds = []
        for citizens in sizes:
            built = build_or_reuse(directory, citizens, args.seed, as_of)
            builds.append(built)

        print(
            f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"SQLite {sqlite3.sqlite_version}; seed {args.seed}; routing as of {as_of}"
        )
        print()
        print("Building the warehouse (child process doing only the build)")
        print(f"{'citizens':>10}{'rows':>13}{'seconds':>10}{'peak RSS MiB':>14}{'file MB':>10}")
        for b in builds:
            note = f"  (reused: built {b.as_of})" if b.reused else ""
            print(
                f"{b.citizens:>10,}{sum(b.rows.values()):>13,}{b.seconds:>10.1f}"
                f"{b.peak_rss_mib:>14.0f}{b.size_mb:>10.1f}{note}"
            )
        print(f"(a child that only imports app.demo.warehouse peaks at {baseline_rss:.0f} MiB)")
        if len({b.as_of for b in builds}) > 1:
            print("warning: the reused warehouses were built as of different days")
        sys.stdout.flush()

        portal_dir = Path(tempfile.mkdtemp(prefix="bench-routing-portal-"))
        try:
            services = [
                services_for(b.path, portal_dir / f"portal-{b.citizens}.sqlite3") for b in builds
            ]
            subjects = persona_subjects()
            print()
            print(
                f"Routing one subject: app.rules.routing.compute, {args.warmup} warm-up rounds, "
                f"{args.runs} runs interleaved across the warehouses (ms)"
            )
            header = "".join(f"{f'{b.citizens:,}: p50':>18}{'p95':>8}" for b in builds)
            ratio_head = f"{'ratio p50':>11}" if len(builds) > 1 else ""
            print(f"{'subject':<22}{'right':<9}{header}{ratio_head}")
            verdicts = []
            routing_p50: dict[tuple[str, int], float] = {}
            for subject in subjects:
                for right in args.rights:
                    drafts = [route(s, subject, right, as_of) for s in services]
                    calls = [
                        (lambda s=s: route(s, subject, right, as_of))  # noqa: B023
                        for s in services
                    ]
                    samples = time_interleaved(calls, args.warmup, args.runs)
                    medians = [statistics.median(x) for x in samples]
                    if right == args.rights[0]:
                        for b, m in zip(builds, medians, strict=True):
                            routing_p50[subject.label, b.citizens] = m
                    cells = "".join(
                        f"{m:>18.2f}{percentile_95(x):>8.2f}"
                        for m, x in zip(medians, samples, strict=True)
                    )
                    line = f"{subject.label:<22}{right:<9}{cells}"
                    if len(builds) > 1:
                        ratio = medians[-1] / medians[0]
                        verdict = "PASS" if ratio <= TARGET else "FAIL"
                        verdicts.append(verdict)
                        line += f"{ratio:>11.2f}  {verdict}"
                    print(line)
                    plans = {summary_of(d) for d in drafts}
                    if len(plans) > 1:
                        print(f"  note: the plans differ between sizes: {sorted(plans)}")
                    else:
                        print(f"  plan: {plans.pop()}")

            print()
            print(
                f"Where the time goes ({args.rights[0]}; medians in ms): statements and rows of "
                "one routing;\nSQLite alone = the same statements replayed on bare sqlite3; "
                "identity = warehouse.match in every source, nothing else"
            )
            print(
                f"{'subject':<22}{'citizens':>10}{'statements':>12}{'rows':>7}"
                f"{'SQLite alone':>14}{'identity':>10}{'routing':>9}"
            )
            for subject in subjects:
                identity = time_interleaved(
                    [(lambda s=s: identify(s, subject)) for s in services],  # noqa: B023
                    args.warmup,
                    args.runs,
                )
                for b, s, timed in zip(builds, services, identity, strict=True):
                    statements = sql_of_one_routing(s, subject, args.rights[0], as_of)
                    alone, rows = sqlite_alone(b.path, statements, args.runs)
                    print(
                        f"{subject.label:<22}{b.citizens:>10,}{len(statements):>12}{rows:>7}"
                        f"{alone:>14.2f}{statistics.median(timed):>10.2f}"
                        f"{routing_p50[subject.label, b.citizens]:>9.2f}"
                    )
            for s in services:
                s.warehouse.dispose()
        finally:
            shutil.rmtree(portal_dir, ignore_errors=True)

        if verdicts:
            print()
            overall = "PASS" if all(v == "PASS" for v in verdicts) else "FAIL"
            print(
                f"target: median routing time at {sizes[-1]:,} citizens at most {TARGET}x "
                f"the time at {sizes[0]:,}: {overall} "
                f"({verdicts.count('PASS')} of {len(verdicts)} subject x right pairs pass)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

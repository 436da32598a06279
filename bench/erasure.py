"""Erasing one subject with 10,000 records: does its cost stay flat as the warehouse grows?

For each size of the demo warehouse (by default 10,000 and 1,000,000
citizens, built and cached as ``bench/routing.py`` does), a working copy is
made once; then each run, in a fresh child process:

1. adds one new subject (a fresh number each run) with 10,000 records across
   the sources: old hospital stays and diagnoses, old transfusions,
   reimbursements (100 of them recent, so kept), letters, shared records,
   prescriptions, lab results, old research extracts, contact preferences;
2. builds the subject's erasure plan with ``app.rules.routing.compute`` and stores
   it on an approved request in a throwaway portal database (SQLite);
3. times ``app.fulfilment.erasure.erase`` (delete by keys per source, the steps, the
   verification, the report, the emails and Art. 19 notices) and its commit,
   and reads the child's peak RSS (``resource.getrusage``) before and after.

One more child per size runs the erasure under ``tracemalloc`` for the peak
of Python allocations (slower: its time is not reported). It prints the
median and the ratio of the largest warehouse over the smallest. It is a
measurement, not a test: the exit code is 0 either way.

    .venv/bin/python bench/erasure.py [--sizes 10000 1000000] [--runs 5] [--keep DIR]

``--keep DIR`` (default: a temporary directory) holds the warehouses and
their working copies, reused on a rerun; the 1,000,000-citizen build takes
about 35 s and 1 GB, and its working copy another GB.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.nir import nir_key  # noqa: E402
from app.services import services_of  # noqa: E402

RECORDS = 10_000
SEED = 42
# How the subject's 10,000 records are spread: (table, count, years back).
SPREAD: tuple[tuple[str, int, int], ...] = (
    ("hospital_stays", 1_000, 30),
    ("diagnoses", 2_000, 30),
    ("transfusions", 500, 35),
    ("reimbursements", 1_400, 4),
    ("reimbursements", 100, 0),  # paid this year: kept (limitation period)
    ("referral_letters", 1_000, 3),
    ("shared_care_records", 1_000, 3),
    ("prescriptions", 1_000, 3),
    ("lab_results", 1_400, 3),
    ("research_extracts", 500, 25),
    ("contact_preferences", 100, 1),
)
assert sum(count for _, count, _ in SPREAD) == RECORDS


def _load_routing_bench() -> Any:
    """``bench/routing.py``, for its cached warehouse builds."""
    spec = importlib.util.spec_from_file_location("bench_routing", ROOT / "bench" / "routing.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_routing"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def add_subject(path: Path, run: int, as_of: date) -> dict[str, Any]:
    """Write one subject with ``RECORDS`` records; returns who they are (for matching)."""
    connection = sqlite3.connect(path)
    try:
        cursor = connection.cursor()
        person_id = cursor.execute("SELECT max(person_id) + 1 FROM persons").fetchone()[0]
        # 2 + 50 (born 1950) + 01 + 75 + commune + order: unused in the demo's 99x orders.
        order = 1 + run % 999
        body = f"2500175{990 + run // 999 % 10:03d}{order:03d}"
        while cursor.execute("SELECT 1 FROM persons WHERE nir LIKE ?", (body + "%",)).fetchone():
            order = order % 999 + 1
            body = f"2500175{990 + run // 999 % 10:03d}{order:03d}"
        nir = f"{body}{nir_key(body):02d}"
        subject = {
            "person_id": person_id,
            "first_name": "Bench",
            "last_name": f"Erasure-{run}",
            "birth_date": "1950-01-15",
            "email": f"bench.erasure.{run}@example.org",
            "nir": nir,
        }
        cursor.execute(
            "INSERT INTO persons (person_id, nir, last_name, first_name, birth_date, sex, email) "
            "VALUES (?, ?, ?, ?, ?, 'F', ?)",
            (person_id, nir, subject["last_name"], "Bench", "1950-01-15", subject["email"]),
        )
        stay = cursor.execute("SELECT max(stay_id) + 1 FROM hospital_stays").fetchone()[0]
        stays: list[int] = []
        pseudonym = f"bench-{person_id}"
        cursor.execute(
            "INSERT INTO research_linkage (pseudonym, person_id) VALUES (?, ?)",
            (pseudonym, person_id),
        )
        for table, count, years in SPREAD:
            for i in range(count):
                day = (as_of - timedelta(days=365 * years + i % 300 + 1)).isoformat()
                if table == "hospital_stays":
                    stays.append(stay + i)
                    row: tuple[Any, ...] = (stay + i, person_id, "CHU", "Médecine", day, day)
                    sql = (
                        "INSERT INTO hospital_stays (stay_id, person_id, hospital, ward, "
                        "admitted_on, discharged_on) VALUES (?, ?, ?, ?, ?, ?)"
                    )
                elif table == "diagnoses":
                    row = (stays[i % len(stays)], person_id, "Z00", "Examen", day)
                    sql = (
                        "INSERT INTO diagnoses (stay_id, person_id, icd10_code, label, "
                        "recorded_on) VALUES (?, ?, ?, ?, ?)"
                    )
                elif table == "transfusions":
                    row = (person_id, "CGR", 1, day)
                    sql = (
                        "INSERT INTO transfusions (person_id, product, units, transfused_on) "
                        "VALUES (?, ?, ?, ?)"
                    )
                elif table == "reimbursements":
                    row = (person_id, "C", 25.0, day, day)
                    sql = (
                        "INSERT INTO reimbursements (person_id, act_code, amount_eur, care_date, "
                        "paid_on, fraud_suspected) VALUES (?, ?, ?, ?, ?, 0)"
                    )
                elif table == "referral_letters":
                    row = (person_id, "Dr A", "Dr B", "cardiologie", day, "...")
                    sql = (
                        "INSERT INTO referral_letters (person_id, sender, recipient, specialty, "
                        "sent_on, body) VALUES (?, ?, ?, ?, ?, ?)"
                    )
                elif table == "shared_care_records":
                    row = (person_id, "Dr A", "synthèse", day, "...")
                    sql = (
                        "INSERT INTO shared_care_records (person_id, author, document_type, "
                        "created_on, summary) VALUES (?, ?, ?, ?, ?)"
                    )
                elif table == "prescriptions":
                    row = (person_id, "Dr A", "paracétamol", "1 g", day)
                    sql = (
                        "INSERT INTO prescriptions (person_id, prescriber, drug, dosage, "
                        "prescribed_on) VALUES (?, ?, ?, ?, ?)"
                    )
                elif table == "lab_results":
                    row = (person_id, "GLY", "Glycémie", "5.1", "mmol/L", day)
                    sql = (
                        "INSERT INTO lab_results (person_id, test_code, test_label, value, unit, "
                        "sampled_on) VALUES (?, ?, ?, ?, ?, ?)"
                    )
                elif table == "research_extracts":
                    row = (pseudonym, "cohorte", day, "{}")
                    sql = (
                        "INSERT INTO research_extracts (pseudonym, cohort, extracted_on, "
                        "variables) VALUES (?, ?, ?, ?)"
                    )
                else:
                    row = (person_id, "email", 1, day)
                    sql = (
                        "INSERT INTO contact_preferences (person_id, channel, opted_in, "
                        "updated_on) VALUES (?, ?, ?, ?)"
                    )
                cursor.execute(sql, row)
        connection.commit()
    finally:
        connection.close()
    return subject


def child(path: Path, run: int, as_of: date, trace: bool) -> None:
    """One measured erasure, in this (fresh) process; prints its figures as JSON."""
    subject = add_subject(path, run, as_of)
    from app import create_app, fulfilment
    from app.extensions import db
    from app.fulfilment import erasure
    from app.models import Base, Request, utcnow
    from app.rules import plans, routing
    from app.rules.matching import Applicant

    portal = Path(tempfile.mkdtemp(prefix="bench-erasure-portal-"))
    try:
        app = create_app(
            {
                "PORTAL_ENV": "test",
                "WAREHOUSE_URL": f"sqlite:///{path}",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{portal / 'portal.sqlite3'}",
                "MAIL_DIR": str(portal / "mail"),
            }
        )
        services = services_of(app)
        with app.app_context():
            Base.metadata.create_all(db.engine)
            session = db.session()
            now = utcnow()
            birth = date.fromisoformat(subject["birth_date"])
            request = Request(
                reference=f"DSR-BENCH-{run}",
                kind="erasure",
                status="approved",
                locale="fr",
                first_name=subject["first_name"],
                last_name=subject["last_name"],
                birth_date=birth,
                email=subject["email"],
                email_normalized=subject["email"],
                created_at=now,
                received_on=as_of,
                due_on=as_of + timedelta(days=30),
            )
            session.add(request)
            session.flush()
            started = time.perf_counter()
            draft = routing.compute(
                Applicant(
                    last_name=subject["last_name"],
                    first_name=subject["first_name"],
                    birth_date=birth,
                    email=subject["email"],
                    nir=subject["nir"],
                ),
                "erasure",
                catalogue=services.catalogue,
                policy=services.policy,
                warehouse=services.warehouse,
                today=as_of,
            )
            compute_ms = (time.perf_counter() - started) * 1000
            plans.store(
                session,
                request,
                draft,
                catalogue=services.catalogue,
                policy=services.policy,
                today=as_of,
                now=now,
                actor="bench",
            )
            fulfilment.start(session, request, now)
            session.commit()
            to_erase = sum(line.record_count for line in draft.lines if line.action == "erase")
            kept = sum(line.record_count for line in draft.lines if line.action != "erase")
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            erasure.erase(session, request, services, utcnow())
            session.commit()
            erase_ms = (time.perf_counter() - started) * 1000
            traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
            tracemalloc.stop()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            assert request.status == "completed", request.status
            services.warehouse.dispose()
        print(
            json.dumps(
                {
                    "records": sum(line.record_count for line in draft.lines),
                    "erased": to_erase,
                    "kept": kept,
                    "compute_ms": compute_ms,
                    "erase_ms": erase_ms,
                    "rss_before_mib": rss_before,
                    "rss_after_mib": rss_after,
                    "traced_peak_mib": traced,
                }
            )
        )
    finally:
        shutil.rmtree(portal, ignore_errors=True)


def run_child(path: Path, run: int, as_of: date, trace: bool) -> dict[str, Any]:
    arguments = [str(path), str(run), as_of.isoformat()] + (["--trace"] if trace else [])
    output = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise SystemExit(f"the child failed:\n{output.stderr[-3000:]}")
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        path, run, as_of = Path(sys.argv[2]), int(sys.argv[3]), date.fromisoformat(sys.argv[4])
        child(path, run, as_of, "--trace" in sys.argv)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build into (and reuse from) this directory")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    bench_routing = _load_routing_bench()
    as_of = datetime.now(bench_routing.PARIS).date()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-erasure-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        results: dict[int, list[dict[str, Any]]] = {citizens: [] for citizens in sizes}
        traced: dict[int, dict[str, Any]] = {}
        works = {}
        for citizens in sizes:
            built = bench_routing.build_or_reuse(directory, citizens, SEED, as_of)
            works[citizens] = directory / f"erasure-work-{citizens}.sqlite3"
            if not works[citizens].exists():
                shutil.copyfile(built.path, works[citizens])
        # A fresh subject each run, numbered on from any earlier run on a kept copy.
        first = int(time.time()) % 100_000
        # Interleaved, so that whatever else the machine does falls on every size alike.
        for run in range(args.runs):
            for citizens in sizes:
                results[citizens].append(run_child(works[citizens], first + run, as_of, False))
        for citizens in sizes:
            traced[citizens] = run_child(works[citizens], first + args.runs, as_of, True)
        print(
            f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"SQLite {sqlite3.sqlite_version}; {args.runs} runs per size, each a fresh child "
            f"process and a fresh subject of {RECORDS:,} records"
        )
        print()
        print(
            f"{'citizens':>10}{'erased':>8}{'kept':>6}{'plan ms':>9}{'erase p50 ms':>14}"
            f"{'min':>8}{'max':>8}{'RSS before':>12}{'RSS peak':>10}{'traced MiB':>12}"
        )
        medians = {}
        for citizens in sizes:
            runs = results[citizens]
            times = [r["erase_ms"] for r in runs]
            medians[citizens] = statistics.median(times)
            print(
                f"{citizens:>10,}{runs[0]['erased']:>8,}{runs[0]['kept']:>6,}"
                f"{statistics.median(r['compute_ms'] for r in runs):>9.0f}"
                f"{medians[citizens]:>14.0f}{min(times):>8.0f}{max(times):>8.0f}"
                f"{statistics.median(r['rss_before_mib'] for r in runs):>12.0f}"
                f"{statistics.median(r['rss_after_mib'] for r in runs):>10.0f}"
                f"{traced[citizens]['traced_peak_mib']:>12.1f}"
            )
        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            rss = {
                c: statistics.median(r["rss_after_mib"] for r in results[c])
                for c in (small, large)
            }
            print()
            print(
                f"ratio {large:,}/{small:,}: erase time {medians[large] / medians[small]:.2f}, "
                f"peak RSS {rss[large] / rss[small]:.2f}, traced peak "
                f"{traced[large]['traced_peak_mib'] / traced[small]['traced_peak_mib']:.2f}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

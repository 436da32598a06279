"""Building one subject's access package: time and memory, as the warehouse grows.

Builds the demo warehouse (``app.demo.warehouse.build``) at each size, by
default 10,000 and 1,000,000 citizens, adds one extra subject with
``--records`` records (10,000 by default) spread over every table of the
catalogue, then, in a fresh child process per run (so that its peak RSS is
its own), routes that subject's access request (``app.rules.routing.compute``) and
builds the package (``app.fulfilment.package_document.build``: read by primary key, JSON, HTML)
and encrypts both files (Fernet). It prints, per size: the median time of
each phase, the peak of Python allocations during build + encryption
(``tracemalloc``, in one more run, untimed), the child's peak RSS, and the sizes of the two files.

    .venv/bin/python bench/package.py [--sizes 10000 1000000] [--records 10000]
        [--runs 3] [--keep DIR]

With ``--keep DIR`` the warehouses stay in DIR and a rerun reuses them (the
extra subject is added once). Without it they are built in a temporary
directory, deleted at the end. The 1,000,000-citizen build takes about 35 s
and 1 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.deadlines import receipt_date  # noqa: E402
from app.demo.warehouse import build  # noqa: E402
from app.models import utcnow  # noqa: E402

SUBJECT = ("Sujet", "Banc-d'Essai", date(1975, 3, 9), "banc.essai@example.org")
# Share of the subject's records per table (sums to 1).
SHARES = {
    "hospital_stays": 0.10,
    "diagnoses": 0.20,
    "transfusions": 0.02,
    "reimbursements": 0.30,
    "referral_letters": 0.08,
    "shared_care_records": 0.05,
    "prescriptions": 0.14,
    "lab_results": 0.08,
    "research_extracts": 0.01,
    "contact_preferences": 0.01,
    "objection_registry": 0.01,
}

CHILD = """
import json, resource, sys, time, tracemalloc
from datetime import date, datetime, UTC
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from cryptography.fernet import Fernet
from app.fulfilment import package_document
from app.rules.catalogue import load_catalogue
from app.crypto import Vault
from app.rules.matching import Applicant
from app.outbox.emails import MailSettings
from app.identity.policy import load_assurance
from app.rules.policy import load_policy
from app.rules.representation import load_representation
from app.rules.routing import compute
from app.rules.sources import Warehouse
from app.audit.keys import Keyring
from app.services import AuditSettings, Limits, Services
from app.tokens import LinkSigner
from app.name_search import NameIndex

root, url, first, last, born, email, mode = sys.argv[1:8]
trace = mode == "trace"
catalogue = load_catalogue(Path(root) / "catalogue" / "sources.toml", {"WAREHOUSE_URL": url})
policy = load_policy(Path(root) / "catalogue" / "rules.toml", catalogue.categories,
                     catalogue.medical_categories)
warehouse = Warehouse(catalogue)
vault = Vault([Fernet.generate_key().decode()])
limits = Limits(unverified_ttl=86400, reminder_hour=7, reminder_days=5,
                download_link_max_age=72 * 3600, download_check_attempts=5,
                contact_email="dpo@example.org")
# Building a package sends nothing: no mail transport.
services = Services(catalogue, policy, warehouse, vault, LinkSigner("bench" * 8),
                    MailSettings(86400, 86400, "localhost"), limits, postman=None,
                    audit=AuditSettings(Keyring.of(["bench" * 8]), Path("/dev/null")),
                    assurance=load_assurance(Path(root) / "catalogue" / "assurance.toml"),
                    names=NameIndex.of(["bench" * 8]),
                    representation=load_representation(
                        Path(root) / "catalogue" / "representation.toml", catalogue, policy))
applicant = Applicant(last, first, date.fromisoformat(born), email, None)
started = time.perf_counter()
draft = compute(applicant, "access", catalogue=catalogue, policy=policy, warehouse=warehouse,
                today=date.today())
routed = time.perf_counter() - started
assert draft.outcome == "matched", draft.outcome
snap = package_document.Snapshot(1, "DSR-BENCH", "access", "fr", dict(draft.subjects), draft.lines,
                         datetime.now(UTC))
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if trace:
    tracemalloc.start()
started = time.perf_counter()
built = package_document.build(snap, services)
built_at = time.perf_counter()
sealed = (vault.encrypt(built.json_text), vault.encrypt(built.html_text))
ended = time.perf_counter()
_, peak = tracemalloc.get_traced_memory() if trace else (0, 0)
print(json.dumps({
    "records": built.records, "route_s": routed, "build_s": built_at - started,
    "encrypt_s": ended - built_at, "tracemalloc_peak_mib": peak / 2**20,
    "rss_before_mib": rss_before / 1024,
    "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "json_mb": len(built.json_text.encode()) / 1e6, "html_mb": len(built.html_text.encode()) / 1e6,
    "encrypted_mb": sum(len(s or "") for s in sealed) / 1e6,
}))
"""


def add_subject(path: Path, records: int, as_of: date) -> int:
    """Insert the extra subject and their records, once; returns their person_id."""
    connection = sqlite3.connect(path)
    try:
        first, last, born, email = SUBJECT
        row = connection.execute(
            "SELECT person_id FROM persons WHERE email = ?", (email,)
        ).fetchone()
        if row:
            return int(row[0])
        person = int(connection.execute("SELECT max(person_id) FROM persons").fetchone()[0]) + 1
        connection.execute(
            "INSERT INTO persons VALUES (?, NULL, ?, ?, ?, 'M', ?)",
            (person, last, first, born.isoformat(), email),
        )
        counts = {t: int(records * share) for t, share in SHARES.items()}
        counts["reimbursements"] += records - sum(counts.values())

        def day(i: int) -> str:
            return (as_of - timedelta(days=(i * 7) % 9000)).isoformat()

        many = connection.executemany
        stays = counts["hospital_stays"]
        first_stay = int(
            connection.execute("SELECT max(stay_id) FROM hospital_stays").fetchone()[0]
        )
        many(
            "INSERT INTO hospital_stays VALUES (?, ?, ?, ?, ?, ?)",
            [
                (first_stay + i + 1, person, "CHU de Test", "Médecine", day(i + 3), day(i))
                for i in range(stays)
            ],
        )
        many(
            "INSERT INTO diagnoses (stay_id, person_id, icd10_code, label, recorded_on) "
            "VALUES (?, ?, 'I10', 'Hypertension <b>essentielle</b>', ?)",
            [
                (first_stay + 1 + i % max(stays, 1), person, day(i))
                for i in range(counts["diagnoses"])
            ],
        )
        many(
            "INSERT INTO transfusions (person_id, product, units, transfused_on) "
            "VALUES (?, 'CGR', 2, ?)",
            [(person, day(i)) for i in range(counts["transfusions"])],
        )
        many(
            "INSERT INTO reimbursements (person_id, act_code, amount_eur, care_date, paid_on, "
            "fraud_suspected) VALUES (?, 'G', 25.0, ?, ?, 0)",
            [(person, day(i + 1), day(i)) for i in range(counts["reimbursements"])],
        )
        many(
            "INSERT INTO referral_letters (person_id, sender, recipient, specialty, sent_on, "
            "body) VALUES (?, 'Dr A', 'Dr B', 'cardiologie', ?, ?)",
            [
                (person, day(i), "Cher confrère, je vous adresse ce patient. " * 8)
                for i in range(counts["referral_letters"])
            ],
        )
        many(
            "INSERT INTO shared_care_records (person_id, author, document_type, created_on, "
            "summary) VALUES (?, 'Dr B', 'Compte rendu', ?, 'Suivi sans particularité')",
            [(person, day(i)) for i in range(counts["shared_care_records"])],
        )
        many(
            "INSERT INTO prescriptions (person_id, prescriber, drug, dosage, prescribed_on) "
            "VALUES (?, 'Dr A', 'Paracétamol 1 g', '1 comprimé 3 fois par jour', ?)",
            [(person, day(i)) for i in range(counts["prescriptions"])],
        )
        many(
            "INSERT INTO lab_results (person_id, test_code, test_label, value, unit, sampled_on) "
            "VALUES (?, 'HB', 'Hémoglobine', '13.5', 'g/dL', ?)",
            [(person, day(i)) for i in range(counts["lab_results"])],
        )
        pseudonym = f"bench{person:011d}"
        connection.execute("INSERT INTO research_linkage VALUES (?, ?)", (pseudonym, person))
        many(
            "INSERT INTO research_extracts (pseudonym, cohort, extracted_on, variables) "
            "VALUES (?, 'BENCH', ?, '{\"age_band\": \"50-59\"}')",
            [(pseudonym, day(i)) for i in range(counts["research_extracts"])],
        )
        many(
            "INSERT INTO contact_preferences (person_id, channel, opted_in, updated_on) "
            "VALUES (?, 'email', 1, ?)",
            [(person, day(i)) for i in range(counts["contact_preferences"])],
        )
        many(
            "INSERT INTO objection_registry (person_id, scope, registered_on) "
            "VALUES (?, 'research', ?)",
            [(person, day(i)) for i in range(counts["objection_registry"])],
        )
        connection.commit()
        return person
    finally:
        connection.close()


def one_run(path: Path, mode: str) -> dict[str, float]:
    first, last, born, email = SUBJECT
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(ROOT),
            f"sqlite:///{path}",
            first,
            last,
            born.isoformat(),
            email,
            mode,
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="build into (and reuse from) this directory")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-package-"))
    directory.mkdir(parents=True, exist_ok=True)
    as_of = receipt_date(utcnow())
    results = []
    try:
        for size in args.sizes:
            path = directory / f"warehouse-package-{size}.sqlite3"
            if not path.exists():
                print(f"building {size:,} citizens ...", file=sys.stderr)
                build(path, citizens=size, seed=args.seed, as_of=as_of)
            add_subject(path, args.records, as_of)
            runs = [one_run(path, "time") for _ in range(args.runs)]
            # tracemalloc slows allocation down: its peak comes from a run of its own.
            traced = one_run(path, "trace")
            for run in runs:
                run["tracemalloc_peak_mib"] = traced["tracemalloc_peak_mib"]
            results.append((size, runs))
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    print(
        f"\nOne subject with {args.records:,} records, {args.runs} runs per size "
        "(median time, highest memory)\n"
    )
    print(
        "| citizens | records | route s | build s | encrypt s | tracemalloc peak MiB "
        "| RSS before / peak MiB | JSON MB | HTML MB | stored MB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for size, runs in results:
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        top = {k: max(r[k] for r in runs) for k in runs[0]}
        print(
            f"| {size:,} | {int(med['records']):,} | {med['route_s']:.3f} | "
            f"{med['build_s']:.2f} | {med['encrypt_s']:.2f} | "
            f"{top['tracemalloc_peak_mib']:.0f} | {top['rss_before_mib']:.0f} / "
            f"{top['rss_peak_mib']:.0f} | {med['json_mb']:.1f} | {med['html_mb']:.1f} | "
            f"{med['encrypted_mb']:.1f} |"
        )


if __name__ == "__main__":
    main()

"""A data-key rotation on a database of 100,000 requests, as an operator runs it.

Fills one PostgreSQL schema (migrated with the portal's migrations, dropped at
the end) with ``--requests`` requests whose social-security number and free
text are encrypted under an old key (1,000 distinct ciphertexts spread with
``INSERT ... SELECT generate_series``: every row still has to be opened and
sealed again). Then, through the real command (``flask keys rotate`` in a
subprocess, ``DATA_ENCRYPTION_KEYS=new,old``), with its progress printed:

1. a first run killed (SIGTERM, as systemd or ``kill`` stops it) after
   ``--interrupt-after`` seconds, in the middle of a batch;
2. a second run, which goes on where the first stopped;
3. ``flask keys status`` with the old key removed, which must exit 0.

It prints the values re-encrypted per second, and the ratio to what Fernet alone
does in this process in the same run (decrypt with the old key, encrypt with the
new one, no database): the share of the time the database and the batches take.
A measurement, not a test: the exit code says only whether the rotation finished.

    .venv/bin/python bench/keys_rotate.py [--requests 100000] [--batch 500]
        [--interrupt-after 15]

``BENCH_DATABASE_URL`` (default the local ``test`` database) names the server.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import quote  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.crypto import Vault  # noqa: E402
from app.extensions import db  # noqa: E402

DISTINCT = 1000

FILL = """
INSERT INTO requests (
    reference, kind, status, locale, first_name, last_name, birth_date, email,
    email_normalized, created_at, verified_at, received_on, due_on, closed_at, version,
    has_retained, medical_deadline, paused_days, assurance, nir_encrypted, details_encrypted
)
SELECT
    'DSR-2026-' || upper(lpad(to_hex(g), 6, '0')), 'access', 'completed', 'fr',
    'Bench', 'Person', DATE '1970-01-01' + (g % 20000),
    'person' || g || '@example.fr', 'person' || g || '@example.fr',
    now(), now(), current_date - 40, current_date - 10, now(), 1, false, false, 0, 'contact_match',
    (CAST(:nirs AS text[]))[1 + g % :distinct], (CAST(:texts AS text[]))[1 + g % :distinct]
FROM generate_series(1, :count) AS g
"""


def _with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


def fill(url: str, workdir: Path, old: str, count: int) -> None:
    app = create_app(
        {
            "PORTAL_ENV": "test",
            "SQLALCHEMY_DATABASE_URI": url,
            "DATA_ENCRYPTION_KEYS": [old],
            "WAREHOUSE_URL": f"sqlite:///{workdir / 'warehouse.sqlite3'}",
            "MAIL_DIR": str(workdir / "mail"),
        }
    )
    vault = Vault([old])
    nirs = [vault.encrypt(f"{1_800_000_000_000 + i:013d}{i % 97:02d}") for i in range(DISTINCT)]
    texts = [vault.encrypt(f"Mes séjours de {2000 + i % 25}, lit {i}.") for i in range(DISTINCT)]
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        started = time.monotonic()
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(FILL),
                {"nirs": nirs, "texts": texts, "distinct": DISTINCT, "count": count},
            )
        print(f"filled {count:,} requests in {time.monotonic() - started:.1f} s")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE requests"))
        db.engine.dispose()


def crypto_floor(old: str, new: str, values: int) -> float:
    """Values per second Fernet re-encrypts in this process, with no database."""
    sample = [Vault([old]).encrypt(f"{1_800_000_000_000 + i:013d}") for i in range(1000)]
    both = Vault([new, old])
    started = time.perf_counter()
    done = 0
    while done < values:
        for token in sample:
            both.rotate(token)
        done += len(sample)
    return done / (time.perf_counter() - started)


def flask(
    env: dict[str, str], *args: str, interrupt_after: float | None = None
) -> tuple[int, float]:
    """Run ``flask keys ...``; its progress goes straight to this terminal."""
    started = time.monotonic()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "keys", *args],
        env=env,
        cwd=ROOT,
    )
    if interrupt_after is not None:
        try:
            return process.wait(timeout=interrupt_after), time.monotonic() - started
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
    return process.wait(), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--interrupt-after", type=float, default=15.0)
    args = parser.parse_args()
    base = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    schema = f"bench_keys_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(base, schema)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    values = 2 * args.requests
    finished = False
    try:
        with tempfile.TemporaryDirectory(prefix="bench-keys-") as tmp:
            workdir = Path(tmp)
            fill(url, workdir, old, args.requests)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("FLASK")},
                "PORTAL_ENV": "test",
                "DATABASE_URL": url,
                "DATA_ENCRYPTION_KEYS": f"{new},{old}",
                "WAREHOUSE_URL": f"sqlite:///{workdir / 'warehouse.sqlite3'}",
                "MAIL_DIR": str(workdir / "mail"),
                "PYTHONUNBUFFERED": "1",
            }
            print(f"\n1. flask keys rotate --batch {args.batch}, killed after "
                  f"{args.interrupt_after:g} s")  # fmt: skip
            code, first = flask(
                env, "rotate", "--batch", str(args.batch), interrupt_after=args.interrupt_after
            )
            print(f"   exit {code} after {first:.1f} s")
            print("\n2. flask keys rotate again: it goes on where it stopped")
            code, second = flask(env, "rotate", "--batch", str(args.batch))
            print(f"   exit {code} after {second:.1f} s")
            print("\n3. flask keys status with the old key removed")
            status, _ = flask({**env, "DATA_ENCRYPTION_KEYS": new}, "status")
            finished = code == 0 and status == 0
            floor = crypto_floor(old, new, min(values, 50_000))
            took = first + second
            rate = values / took
            print(f"\n{values:,} values ({args.requests:,} requests x 2 columns) in {took:.1f} s")
            print(f"  rotation through the command: {rate:,.0f} values/s")
            print(f"  Fernet alone, same run:       {floor:,.0f} values/s")
            print(f"  ratio:                        {rate / floor:.2f}")
            print(f"  finished and checked:         {'yes' if finished else 'NO'}")
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())

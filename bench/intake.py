"""Throughput of filing: POST /request/send under gunicorn on PostgreSQL, measured with wrk.

Filing is two steps since the "check your answers" page: POST / validates the
form and shows the answers back, signed, writing nothing; POST /request/send
files them. The second step is the one that writes, and the one measured here:
the answers of every request wrk sends (each with its own address) are sealed
beforehand by ``app.public.check_answers.seal`` with the portal's key, as the
check page would. Each accepted send checks the seal, validates the answers
again, encrypts the optional fields and writes, in one transaction, the
request, its timeline event, its audit event, its verification link and its
email job. The script prints requests per second
and latency percentiles for the portal and, on the same machine and database,
for a bare Flask app that inserts one row (the ceiling we compare against;
target: at least half of it).

    .venv/bin/python bench/intake.py [--seconds 15] [--connections 32]

Needs Debian's ``wrk`` (apt-get install wrk) and a PostgreSQL server
(``BENCH_DATABASE_URL``, default the local ``test`` database). Everything runs
on loopback in a schema of its own, dropped at the end. Rate limits are
switched off for the run: they would (rightly) refuse a single client
filing thousands of requests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.demo.warehouse import build  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# The portal's send step: one sealed set of answers per request, taken in turn
# (ANSWERS is written before this script by main()). The bare app is sent the same
# bodies, so both sides read requests of one size.
SEND_SCRIPT = """
local counter = 0
local id = 0
local count = 0
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  id = wrk.thread:get("id")
  count = #ANSWERS
end
request = function()
  local index = (counter * 2 + id) % count + 1
  counter = counter + 1
  local body = "answers=" .. ANSWERS[index] .. "&csrf_token=" .. TOKEN
  return wrk.format("POST", PATH, HEADERS, body)
end
"""

BASELINE_APP = """
import os
import sqlalchemy as sa
from flask import Flask
engine = sa.create_engine(os.environ["DATABASE_URL"], pool_size=8)
app = Flask(__name__)
@app.post("/")
def insert():
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO bench_rows (email) VALUES ('x@example.fr')"))
    return "", 303
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start")


def gunicorn(
    app: str, env: dict[str, str], port: int, workers: int, threads: int, cwd: Path
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--worker-class", "gthread",
            "--threads", str(threads),
            "--log-level", "warning",
            app,
        ],
        cwd=cwd,
        env=env,
    )  # fmt: skip


def run_wrk(port: int, script: str, seconds: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", handle.name,
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(handle.name)
    figures: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])}
    figures["requests"] = float(re.search(r"(\d+) requests in", output)[1])
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["bad"] = float(bad[1]) if bad else 0.0
    for label in ("50%", "90%", "99%"):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output).groups()
        figures[label] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return figures


def form_session(port: int) -> tuple[str, str]:
    """GET the form like a browser: the session cookie and the CSRF token it carries."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        token = re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"', response.read().decode()
        )
    assert token is not None, "no CSRF token on the form"
    return cookie, token[1]


def sealed_answers(secret_key: str, count: int) -> str:
    """``count`` filings as the check page seals them, each with its own address: a Lua list."""
    from werkzeug.datastructures import MultiDict

    from app.public.check_answers import seal

    sealed = []
    for n in range(count):
        answers = MultiDict(
            {
                "kind": "access",
                "first_name": "Jeanne",
                "last_name": "Durand",
                "birth_date-day": "2",
                "birth_date-month": "3",
                "birth_date-year": "1975",
                "email": f"bench-{n}@example.fr",
                "nir": "",
                "details": "",
            }
        )
        sealed.append(f'"{quote(seal(answers, secret_key))}"')
    return ",".join(sealed)


def lua_headers(cookie: str) -> str:
    return f'{{["Content-Type"]="application/x-www-form-urlencoded", ["Cookie"]="{cookie}"}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--answers", type=int, default=30000, help="distinct filings sealed beforehand"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    base_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base_url}{'&' if '?' in base_url else '?'}options={quote(f'-csearch_path={schema}')}"
    # The portal checks its sources at start (gunicorn.conf.py): give it a small demo warehouse.
    warehouse = Path(tempfile.mkdtemp()) / "warehouse.sqlite3"
    build(warehouse, citizens=1000, seed=1, as_of=date.today())
    env = {
        **os.environ,
        "WAREHOUSE_URL": f"sqlite:///{warehouse}",
        "PORTAL_ENV": "production",
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PORTAL_BASE_URL": "https://portal.bench.invalid",
        "MAIL_SERVER": "mail.bench.invalid",  # never contacted: no worker runs
        "CONTACT_EMAIL": "dpo@bench.invalid",
        "NAME_SEARCH_KEYS": "names-" + "n" * 40,
        "AUDIT_KEYS": "audit-" + "a" * 40,
        "AUDIT_ANCHOR_FILE": str(warehouse.parent / "anchors.log"),
        "CONTROLLER_NAME": "Hôpital du banc d'essai",
        "CONTROLLER_ADDRESS": "1 rue du Banc, 75001 Paris",
        "PUBLICATION_DIRECTOR": "Jeanne Banc",
        "HOSTING_PROVIDER": "Hébergeur du banc, 2 rue Exemple, 75002 Paris",
        "RATELIMIT_ENABLED": "false",
        # One JSON line per request would be measured too; production keeps INFO.
        "LOG_LEVEL": "WARNING",
    }
    servers: list[subprocess.Popen] = []
    try:
        subprocess.run(
            [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip

        port = free_port()
        servers.append(gunicorn("wsgi:app", env, port, args.workers, args.threads, ROOT))
        wait_for(port)
        cookie, token = form_session(port)
        answers = sealed_answers(env["SECRET_KEY"], args.answers)
        script = (
            f'TOKEN = "{quote(token)}"\nPATH = "/request/send"\n'
            f"HEADERS = {lua_headers(cookie)}\nANSWERS = {{{answers}}}\n"
        )
        portal = run_wrk(port, script + SEND_SCRIPT, args.seconds, args.connections)
        # Stop the portal first, so no filing still in flight commits between counts,
        # then count both tables in one statement (one snapshot).
        portal_server = servers.pop()
        portal_server.send_signal(signal.SIGTERM)
        portal_server.wait(timeout=30)
        with sa.create_engine(url).connect() as connection:
            stored, jobs = connection.execute(
                sa.text("SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM jobs)")
            ).one()

        with sa.create_engine(url).begin() as connection:
            connection.execute(
                sa.text("CREATE TABLE bench_rows (id serial PRIMARY KEY, email text)")
            )
        baseline_dir = Path(tempfile.mkdtemp())
        (baseline_dir / "baseline.py").write_text(textwrap.dedent(BASELINE_APP))
        port = free_port()
        servers.append(
            gunicorn("baseline:app", env, port, args.workers, args.threads, baseline_dir)
        )
        wait_for(port)
        plain = (
            f'TOKEN = ""\nPATH = "/"\nHEADERS = {lua_headers("none=1")}\nANSWERS = {{{answers}}}\n'
        )
        baseline = run_wrk(port, plain + SEND_SCRIPT, args.seconds, args.connections)
        shutil.rmtree(baseline_dir)
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))

    print(
        f"machine: {os.cpu_count()} cores; gunicorn {args.workers} workers x "
        f"{args.threads} threads; wrk 2 threads, {args.connections} connections, "
        f"{args.seconds} s"
    )
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'non-3xx':>10}")
    for name, figures in (("portal POST /request/send", portal), ("bare Flask, 1 row", baseline)):
        print(
            f"{name:28}{figures['rps']:>10.0f}{figures['50%']:>10.1f}{figures['90%']:>10.1f}"
            f"{figures['99%']:>10.1f}{figures['bad']:>10.0f}"
        )
    ratio = portal["rps"] / baseline["rps"]
    print(f"portal / bare Flask: {ratio:.2f} (target: at least 0.50)")
    print(
        f"requests answered: {portal['requests']:.0f}; rows stored: {stored}; email jobs: {jobs}"
    )
    if stored != jobs:
        raise SystemExit("every stored request must have exactly one email job")


if __name__ == "__main__":
    main()

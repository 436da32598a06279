"""A request's whole path on PostgreSQL: filed, verified, routed and its emails sent.

The production shape on one machine: the portal under gunicorn with its
production settings (``gunicorn -c python:app.serving``, gthread), real
``flask worker`` processes, an aiosmtpd SMTP server this script runs, and a
PostgreSQL database of its own (created, then dropped at the end). For each
number of workers (``--workers 1,2,4``) it files ``--requests`` new requests
over HTTP, as demo citizens with their own address (so routing matches them
and writes a plan with lines), then times four phases:

1. **filed**: ``POST /`` from ``--clients`` keep-alive connections;
2. **verify emails**: the workers start and send one verification email per
   request to the SMTP server, which this script reads the links from;
3. **verified**: ``POST`` of each emailed link (the confirmation button);
4. **routed**: the workers start again and run every ``route`` job and the two
   emails each request gets (the acknowledgement and ``plan_ready``), timed from
   the first worker ready until no request waits and no email job is pending.

Workers are stopped between phases, so each figure is one kind of work. A bare
Flask app inserting one row, under the same gunicorn sizing and driven by the
same client, is measured in the same run: every rate is also printed as a
ratio to it. A measurement, not a test: the exit code is 0 unless a job fails.

    .venv/bin/python bench/pipeline.py [--requests 1000] [--workers 1,2,4]
        [--clients 8] [--port 7110] [--batch 10] [--database-url URL] [--py-spy FILE]

``BENCH_ADMIN_URL`` (default the local server's ``test`` database) is where
the bench database is created from; ``--port`` is the first of three loopback
ports (portal, bare Flask, SMTP). Rate limits are off for the run.
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.demo.warehouse import build  # noqa: E402
from bench.intake import BASELINE_APP, gunicorn, wait_for  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = "bench_pipeline"
BASE = "https://portal.bench.invalid"
BIN = Path(sys.executable).parent


@dataclass
class Sink:
    """The SMTP server: counts every message, keeps the verification links."""

    links: list[str] = field(default_factory=list)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.original_content  # type: ignore[attr-defined]
        link = None
        if b"/verify/" in content:
            message = message_from_bytes(content, policy=policy.default)
            body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
            found = re.search(re.escape(BASE) + r"(/verify/\S+)", body.get_content())
            link = found.group(1) if found else None
        with self.lock:
            self.count += 1
            if link:
                self.links.append(link)
        return "250 Message accepted"

    def received(self) -> int:
        with self.lock:
            return self.count


# The date of birth as the form's three boxes, in the order of an ISO date.
BIRTH_BOXES = ("birth_date-year", "birth_date-month", "birth_date-day")


class Client:
    """One keep-alive browser: its session cookie and the CSRF token of its form."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        self.token = ""
        self.page = b""

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> int:
        headers = {"Host": "portal.bench.invalid"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = urlencode({**body, "csrf_token": self.token})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        page = self.page = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if method == "GET" and not self.token:
            found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
            self.token = found.group(1).decode() if found else ""
        return response.status

    def file(self, form: dict[str, str]) -> int:
        """File as a person does: the form, then "Send" on its check-your-answers page."""
        status = self.request("POST", "/", form)
        if status != 200:
            return status
        found = re.search(rb'name="answers"[^>]*value="([^"]+)"', self.page)
        if found is None:
            return -1
        answers = html.unescape(found.group(1).decode())
        return self.request("POST", "/request/send", {"answers": answers})


def drive(port: int, clients: int, calls: list[Callable[[Client], int]], expect: int) -> float:
    """Spread ``calls`` over ``clients`` connections; returns the seconds they took."""
    browsers = [Client(port) for _ in range(clients)]
    for browser in browsers:
        browser.request("GET", "/")
    chunks = [calls[i::clients] for i in range(clients)]
    bad: list[int] = []

    def run(browser: Client, chunk: list[Callable[[Client], int]]) -> None:
        for call in chunk:
            status = call(browser)
            if status != expect:
                bad.append(status)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, browsers, chunks))
    seconds = time.perf_counter() - started
    if bad:
        raise SystemExit(f"{len(bad)} answers were not {expect}: {sorted(set(bad))}")
    return seconds


def citizens(warehouse: Path, count: int) -> Iterator[dict[str, str]]:
    """Filings of demo citizens who have a number and an address of their own."""
    with sqlite3.connect(warehouse) as connection:
        rows = connection.execute(
            "SELECT first_name, last_name, birth_date, nir, email FROM persons "
            "WHERE nir IS NOT NULL AND email IS NOT NULL AND person_id > 12 "
            "AND email IN (SELECT email FROM persons GROUP BY email HAVING count(*) = 1) "
            "ORDER BY person_id LIMIT ?",
            (count,),
        ).fetchall()
    if len(rows) < count:
        raise SystemExit(f"the warehouse has only {len(rows)} citizens to file as")
    for first, last, born, nir, email in rows:
        yield {
            "kind": "erasure",
            "first_name": first,
            "last_name": last,
            # The date of birth is three boxes on the form (day, month, year).
            **dict(zip(BIRTH_BOXES, born.split("-"), strict=True)),
            "nir": nir,
            "email": email,
            "details": "",
        }


class Workers:
    """``flask worker`` processes, started and stopped together."""

    def __init__(self, env: dict[str, str], count: int, batch: int) -> None:
        self.ready: list[float] = []
        self.lock = threading.Lock()
        self.processes = [
            subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "worker", "--batch", str(batch)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        self.errors: list[str] = []
        for process in self.processes:
            threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if " started" in line:
                with self.lock:
                    self.ready.append(time.perf_counter())
            elif "ran " not in line and "stopped" not in line:
                self.errors.append(line)

    def first_ready(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.ready:
                    return self.ready[0]
            if any(p.poll() is not None for p in self.processes):
                raise SystemExit("a worker died at start:\n" + "".join(self.errors[-20:]))
            time.sleep(0.01)
        raise SystemExit("no worker started")

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=60)


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> float:
    while not done():
        if time.monotonic() > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter()


@contextmanager
def schema_of(url: str) -> Iterator[str]:
    """A schema of its own in an existing database (``--database-url``), dropped at the end:
    for a shared server where the bench may not create databases."""
    schema = f"bench_{os.urandom(5).hex()}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def database(admin_url: str) -> Iterator[str]:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        admin.dispose()


@dataclass
class Round:
    workers: int
    filed: float
    verify_emails: float
    verified: float
    routed: float
    emails: float
    load: str = ""  # the 1-minute load average at the start and end of the route phase


def one_round(
    args: argparse.Namespace,
    env: dict[str, str],
    engine: sa.Engine,
    sink: Sink,
    filings: list[dict[str, str]],
    count: int,
) -> Round:
    n = len(filings)
    port = args.port
    calls: list[Callable[[Client], int]] = [
        (lambda browser, f=f: browser.file(f)) for f in filings
    ]
    filed = n / drive(port, args.clients, calls, 303)
    print(f"  {count} worker(s): {n} filed at {filed:.0f}/s", flush=True)

    with sink.lock:
        sink.links.clear()
    before = sink.received()
    workers = Workers(env, count, args.batch)
    started = workers.first_ready()
    limit = time.monotonic() + 600
    ended = wait_until(lambda: len(sink.links) >= n, limit, "the verification emails")
    workers.stop()
    verify_emails = n / (ended - started)
    if sink.received() - before != n:
        print(f"  note: {sink.received() - before} messages for {n} verification emails")
    print(f"  {count} worker(s): {n} verification emails at {verify_emails:.0f}/s", flush=True)

    with sink.lock:
        links = list(sink.links)
    calls = [(lambda browser, link=link: browser.request("POST", link, {})) for link in links]
    verified = n / drive(port, args.clients, calls, 303)
    print(f"  {count} worker(s): {n} verified at {verified:.0f}/s", flush=True)

    pending = sa.text(
        "SELECT (SELECT count(*) FROM requests WHERE status = 'received')"
        " + (SELECT count(*) FROM jobs WHERE state = 'pending'"
        " AND kind IN ('route', 'send_email'))"
    )
    before = sink.received()
    load_before = os.getloadavg()[0]
    workers = Workers(env, count, args.batch)
    started = workers.first_ready()
    limit = time.monotonic() + 1200
    spy = None
    if args.py_spy and count == 1:
        # The first worker's route phase, sampled (py-spy installed beside, not locked).
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(workers.processes[0].pid),
                "--rate",
                "50",
                "--format",
                "raw",
                "--output",
                args.py_spy,
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def idle() -> bool:
        with engine.connect() as connection:
            return connection.execute(pending).scalar_one() == 0

    ended = wait_until(idle, limit, "routing")
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    workers.stop()
    seconds = ended - started
    sent = sink.received() - before
    load = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
    print(
        f"  {count} worker(s): {n} routed at {n / seconds:.1f}/s, "
        f"{sent} emails at {sent / seconds:.1f}/s (load average {load})",
        flush=True,
    )
    with engine.connect() as connection:
        parked = connection.execute(
            sa.text("SELECT count(*) FROM jobs WHERE state = 'parked'")
        ).scalar_one()
    if parked or workers.errors:
        raise SystemExit(f"{parked} parked job(s); worker said:\n" + "".join(workers.errors[-20:]))
    return Round(count, filed, verify_emails, verified, n / seconds, sent / seconds, load)


def baseline_rate(args: argparse.Namespace, env: dict[str, str], url: str, n: int) -> float:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE bench_rows (id serial PRIMARY KEY, email text)"))
    engine.dispose()
    folder = Path(tempfile.mkdtemp())
    (folder / "baseline.py").write_text(
        textwrap.dedent(BASELINE_APP).replace(
            '@app.post("/")', '@app.route("/", methods=["GET", "POST"])'
        )
    )
    port = args.port + 1
    sizing = {"workers": 2 * (os.cpu_count() or 1) + 1, "threads": 2}
    server = gunicorn("baseline:app", env, port, sizing["workers"], sizing["threads"], folder)
    try:
        wait_for(port)
        body = {"email": "x@example.fr"}
        calls = [(lambda browser: browser.request("POST", "/", body)) for _ in range(n)]
        return n / drive(port, args.clients, calls, 303)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--port", type=int, default=7110)
    parser.add_argument(
        "--database-url",
        default="",
        help="run in a schema of its own in this existing database instead of creating one",
    )
    parser.add_argument(
        "--py-spy",
        default="",
        help="sample the one-worker round's route phase with py-spy into this file (raw)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",") if c.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    warehouse = workdir / "warehouse.sqlite3"
    build(
        warehouse, citizens=max(5000, 4 * args.requests * len(counts)), seed=3, as_of=date.today()
    )
    people = list(citizens(warehouse, args.requests * len(counts)))
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=args.port + 2)
    smtp.start()
    place = (
        schema_of(args.database_url)
        if args.database_url
        else database(os.environ.get("BENCH_ADMIN_URL", ADMIN_URL))
    )
    with place as url:
        env = {
            **os.environ,
            "PORTAL_ENV": "production",
            "DATABASE_URL": url,
            "WAREHOUSE_URL": f"sqlite:///{warehouse}",
            "SECRET_KEY": "bench-" + "k" * 40,
            "AUDIT_KEYS": "audit-" + "a" * 40,
            "NAME_SEARCH_KEYS": "names-" + "n" * 40,
            "AUDIT_ANCHOR_FILE": str(workdir / "anchors.log"),
            "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "PORTAL_BASE_URL": BASE,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(args.port + 2),
            "CONTACT_EMAIL": "dpo@bench.invalid",
            "CONTROLLER_NAME": "Hôpital du banc d'essai",
            "CONTROLLER_ADDRESS": "1 rue du Banc, 75001 Paris",
            "PUBLICATION_DIRECTOR": "Jeanne Banc",
            "HOSTING_PROVIDER": "Hébergeur du banc, 2 rue Exemple, 75002 Paris",
            "RATELIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "WEB_BIND": f"127.0.0.1:{args.port}",
            "WEB_LOG_LEVEL": "warning",
            "WORKER_POLL_SECONDS": "1",
        }
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        engine = sa.create_engine(url)
        rounds: list[Round] = []
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:app.serving", "wsgi:app"], cwd=ROOT, env=env
        )
        try:
            wait_for(args.port, timeout=60)
            for position, count in enumerate(counts):
                chunk = people[position * args.requests : (position + 1) * args.requests]
                rounds.append(one_round(args, env, engine, sink, chunk, count))
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
        bare = baseline_rate(args, env, url, args.requests)
        engine.dispose()
    smtp.stop()

    print(
        f"\nmachine: {os.cpu_count()} cores; gunicorn (app.serving) on PostgreSQL; "
        f"{args.requests} requests per round, {args.clients} HTTP clients, batch {args.batch}"
    )
    print(f"bare Flask POST, 1 row: {bare:.0f} req/s (the ratios divide by it)")
    header = ("workers", "filed/s", "verify em/s", "verified/s", "routed/s", "emails/s", "load")
    print("".join(f"{h:>13}" for h in header))
    for r in rounds:
        values = (r.filed, r.verify_emails, r.verified, r.routed, r.emails)
        print(f"{r.workers:>13}" + "".join(f"{v:>13.1f}" for v in values) + f"{r.load:>13}")
    print("ratio to bare:")
    for r in rounds:
        values = (r.filed, r.verify_emails, r.verified, r.routed, r.emails)
        print(f"{r.workers:>13}" + "".join(f"{v / bare:>13.3f}" for v in values))
    one = rounds[0]
    for r in rounds[1:]:
        print(f"{r.workers} workers / {one.workers}: routed x{r.routed / one.routed:.2f}")
    print("targets (issue 19): one worker >= 100 routed/s and >= 200 emails/s; two >= 1.8x one")


if __name__ == "__main__":
    main()

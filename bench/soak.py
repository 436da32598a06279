"""A soak with faults: a mixed load on the production shape while things break.

Starts the shape of ``make prod-check`` (``deploy/check.py``: nginx with TLS,
two gunicorn instances and two workers through ``deploy/entrypoint.sh`` in
production mode, an SMTP server this script runs) on a PostgreSQL cluster and
a Redis server of its own (so that restarting them disturbs nobody else), then
for ``--minutes`` (default 10) runs, over HTTPS:

- citizens filing access and erasure requests as demo citizens whose address
  is on file, confirming the emailed link, opening their status page, some
  withdrawing, downloading their access package when it is ready;
- an agent claiming and preparing cases, a DPO approving them (access and
  erasure), each signed in with a TOTP code.

Faults, on a schedule scaled to the duration (for 10 minutes): SMTP answers
4xx from 1:00 for a minute, is down from 2:00 for two minutes, answers slowly
from 4:30 for a minute; a worker is killed with SIGKILL five times at random
moments and started again; PostgreSQL is restarted at 6:00 (``pg_ctl
restart``); Redis is stopped at 7:00 for a minute; one gunicorn instance is
killed (SIGKILL) at 8:00 and started again 20 s later.

After the load it waits for the queue to drain, then checks and prints: every
filing answered with a success exists exactly once; every email job was sent,
and how many resends (the same Message-ID twice, after a crash) there were;
every completed erasure removed exactly its planned keys and nothing else
(the warehouse before and after); every completed access has its package; no
job left pending or parked; the audit chain verifies; the HTTP errors each
fault caused and whether each was a clean page (a 5xx must quote its request
id); how long the drain took after the last fault. Exit status 1 on any loss,
duplicate or unclean error.

    .venv/bin/python bench/soak.py [--minutes 10] [--citizens 3] [--seed 7] [--keep]

Needs what ``make prod-check`` needs (nginx, openssl) and Debian's PostgreSQL
and Redis binaries (``/usr/lib/postgresql/*/bin``, ``redis-server``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "deploy"))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import glob  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import timedelta  # noqa: E402
from email import message_from_bytes, policy  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
import pyotp  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from check import (  # noqa: E402
    DATABASE,
    HOST,
    Answer,
    CheckFailed,
    Client,
    Mailbox,
    Shape,
    free_port,
    with_birth_parts,
)

from app.logs import mask  # noqa: E402

PASSWORD = "soak horse battery staple"
# The agent approves an access plan it holds; an erasure it prepares for a DPO (four eyes).
# A claimed case in triage shows its claim button again: claiming comes last.
AGENT_ACTIONS = ("prepare-approval", "approve", "claim")
SLOW_SECONDS = 6.0


# --- servers this script owns -------------------------------------------------------


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on its own port, run as the postgres user."""

    def __init__(self, work: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise SystemExit("the soak needs Debian's PostgreSQL binaries (postgresql package)")
        self.bin = Path(found[-1]).parent
        self.dir = work / "pgdata"
        self.port = free_port()
        self.dir.mkdir()
        shutil.chown(self.dir, "postgres", "postgres")
        self.dir.chmod(0o700)
        self._as_postgres(
            [str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust"]
        )

    def _as_postgres(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/tmp")

    def pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            [str(self.bin / "pg_ctl"), "-D", str(self.dir), "-o", options, "-w", "-m", "fast",
             "-l", str(self.dir / "server.log"), action]
        )  # fmt: skip

    @property
    def server(self) -> str:
        return f"postgres@127.0.0.1:{self.port}"


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class FaultySmtp(Mailbox):
    """An SMTP server whose answer the schedule sets: ok, refuse (451), slow."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.by_address: dict[str, list[Any]] = defaultdict(list)
        self.message_ids: Counter[str] = Counter()
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "refuse":
            self.refused += 1
            return "451 4.3.0 Try again later (soak)"
        if self.mode == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            for address in envelope.rcpt_tos:
                self.by_address[address.lower()].append(message)
            self.message_ids[str(message["Message-ID"])] += 1
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        """Indexed by recipient: the soak asks for thousands of messages."""
        with self.lock:
            return list(self.by_address.get(address.lower(), []))


# --- what happened ------------------------------------------------------------------


@dataclass
class Ledger:
    """Every HTTP answer, with the fault in force; every filing accepted."""

    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[str] = field(default_factory=list)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    unclean: list[str] = field(default_factory=list)
    filed: dict[str, dict[str, str]] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)

    def fault(self) -> str:
        with self.lock:
            return "+".join(self.faults) or "none"

    def record(self, answer: Answer | None, what: str) -> None:
        fault = self.fault()
        if answer is None:
            outcome = "no answer"
        elif answer.status < 400 or answer.status in (401, 404, 409, 422, 429):
            outcome = "ok"
        else:
            outcome = str(answer.status)
            if answer.status >= 500 and answer.status != 502 and "request-id" not in answer.body:
                with self.lock:
                    self.unclean.append(f"{what} {answer.status} during {fault}")
        with self.lock:
            self.answers[(fault, outcome)] += 1

    def count(self, event: str) -> None:
        with self.lock:
            self.events[event] += 1

    def at(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"


def call(ledger: Ledger, what: str, do: Any, *args: Any, **kwargs: Any) -> Answer | None:
    """``do(*args, **kwargs)``, its answer recorded with the fault in force; None if it failed."""
    try:
        answer = do(*args, **kwargs)
    except CheckFailed:
        # The page offered no form (a withdrawal no longer possible, a link already
        # used): an answer, not a failure.
        ledger.count("no form to submit")
        ledger.record(Answer(200, [], ""), what)
        return None
    except Exception as error:  # a refused connection, a reset
        ledger.record(None, what)
        ledger.count(f"error: {type(error).__name__}")
        return None
    ledger.record(answer, what)
    return answer


# --- the load ---------------------------------------------------------------------


def citizens_of(warehouse: Path, how_many: int, seed: int) -> list[dict[str, str]]:
    """Demo citizens with an address on file (a contact match), as the filer types them."""
    connection = sqlite3.connect(warehouse)
    rows = connection.execute(
        "SELECT first_name, last_name, birth_date, email, nir FROM persons "
        "WHERE email IS NOT NULL AND nir IS NOT NULL"
    ).fetchall()
    connection.close()
    random.Random(seed).shuffle(rows)
    return [
        {"first_name": f, "last_name": la, "birth_date": str(b), "email": e, "nir": n}
        for f, la, b, e, n in rows[:how_many]
    ]


class Citizens:
    """Filers and the citizens' follow-up, each in its own thread."""

    def __init__(self, shape: Shape, ledger: Ledger, people: list[dict[str, str]]) -> None:
        self.shape, self.ledger, self.people = shape, ledger, people
        self.lock = threading.Lock()
        self.state: dict[str, str] = {}  # address -> filed / verified / followed / done
        self.browsers: dict[str, Client] = {}
        self.births: dict[str, str] = {}
        self.downloaded: set[str] = set()
        self.filings = 0  # shared by the filers: each filing its own number

    def file(self, stop: threading.Event, pause: float) -> None:
        while not stop.is_set():
            with self.lock:
                self.filings += 1
                n = self.filings
            person = self.people[n % len(self.people)]
            # The portal compares the exact address on file: each citizen files under
            # theirs (FILINGS_PER_ADDRESS_PER_HOUR is raised for the soak).
            kind = "erasure" if n % 3 == 0 else "access"
            form = {**person, "kind": kind, "details": ""}
            browser = Client(self.shape.https, self.shape.tls)
            answer = call(self.ledger, "file", browser.file, form)
            if answer is not None and answer.status == 303:
                token = f"{person['email']}#{n}"
                with self.lock:
                    self.ledger.filed[token] = {"email": person["email"], "kind": kind}
                    self.state[token] = "filed"
                    self.browsers[token] = browser
                    self.births[token] = person["birth_date"]
            stop.wait(pause)

    def follow(self, stop: threading.Event) -> None:
        seen_links: set[str] = set()
        while not stop.is_set():
            with self.lock:
                pending = [(t, s) for t, s in self.state.items() if s != "done"]
            for token, state in pending:
                email = token.split("#", 1)[0]
                browser = self.browsers[token]
                if state == "filed":
                    link = self._new_link(email, "/verify/", seen_links)
                    if link:
                        answer = call(self.ledger, "verify", browser.submit, link, {})
                        if answer is not None and answer.status == 303:
                            self._set(token, "verified")
                elif state == "verified":
                    link = self._new_link(email, "/s/", seen_links)
                    if link:
                        answer = call(self.ledger, "status link", browser.get, link)
                        if answer is not None and answer.status == 303:
                            self._set(token, "followed")
                elif state == "followed":
                    page = call(self.ledger, "status", browser.get, "/status")
                    if page is not None and page.status == 200 and random.random() < 0.05:
                        answer = call(
                            self.ledger,
                            "withdraw",
                            browser.submit,
                            "/status/withdraw",
                            {"confirm": "y"},
                        )
                        if answer is not None and answer.status == 303:
                            self.ledger.count("withdrawn")
                            self._set(token, "done")
                    link = self._new_link(email, "/download/", seen_links)
                    if link:
                        self._download(token, browser, link)
                if stop.is_set():
                    return
            stop.wait(1.0)

    def _download(self, token: str, browser: Client, link: str) -> None:
        answer = call(
            self.ledger,
            "download",
            browser.submit,
            link,
            with_birth_parts({"birth_date": self.births[token]}),
        )
        if answer is not None and answer.status in (200, 303):
            self.ledger.count("package downloaded")
            self._set(token, "done")

    def _new_link(self, email: str, prefix: str, seen: set[str]) -> str | None:
        for message in self.shape.mailbox.to(email):
            body = message.get_body(preferencelist=("plain",)).get_content()
            for found in re.finditer(rf"https://{HOST}:\d+({prefix}[^\s]+)", body):
                if found.group(1) not in seen:
                    seen.add(found.group(1))
                    return found.group(1)
        return None

    def _set(self, token: str, state: str) -> None:
        with self.lock:
            self.state[token] = state


class Staff:
    """An agent who claims and prepares, a DPO who approves, over HTTP."""

    def __init__(self, shape: Shape, ledger: Ledger, accounts: dict[str, str]) -> None:
        self.shape, self.ledger, self.accounts = shape, ledger, accounts
        self.clients: dict[str, Client] = {}
        self.last_step: dict[str, int] = {}

    def sign_in(self, email: str) -> bool:
        totp = pyotp.TOTP(self.accounts[email])
        step = int(time.time() // 30)
        if self.last_step.get(email) == step:
            return False  # a code is good once: wait for the next one
        client = Client(self.shape.https, self.shape.tls)
        fields = {"email": email, "password": PASSWORD, "code": totp.now()}
        answer = call(self.ledger, "staff sign-in", client.submit, "/staff/login", fields)
        self.last_step[email] = step
        if answer is not None and answer.status == 303:
            self.clients[email] = client
            return True
        return False

    def work(self, email: str, actions: tuple[str, ...], stop: threading.Event) -> None:
        while not stop.is_set():
            client = self.clients.get(email)
            if client is None:
                if not self.sign_in(email):
                    stop.wait(2)
                continue
            queue = call(self.ledger, "queue", client.get, "/staff/queue")
            if queue is None or queue.status != 200:
                if queue is not None and queue.status in (302, 303):
                    self.clients.pop(email, None)
                stop.wait(2)
                continue
            references = list(
                dict.fromkeys(re.findall(r'href="/staff/cases/([^"/?#]+)"', queue.body))
            )
            random.shuffle(references)  # not the same ten at the top of the queue each time
            for reference in references[:10]:
                if stop.is_set():
                    return
                self._act(client, reference, actions)
            stop.wait(1.0)

    def _act(self, client: Client, reference: str, actions: tuple[str, ...]) -> None:
        path = f"/staff/cases/{reference}"
        page = call(self.ledger, "case", client.get, path)
        if page is None or page.status != 200:
            return
        for action in actions:
            form = _form(page.body, f"{path}/{action}")
            if form is None:
                continue
            if action == "approve":
                # Letters and notes that may name other people: the holder says the
                # review is done (the page's own form) before approving, as staff do.
                reviewed = self._review_third_parties(client, path, page)
                if reviewed is None:
                    return
                page = reviewed
                form = _form(page.body, f"{path}/{action}")
                if form is None:
                    return
            answer = call(
                self.ledger, action, client.request, "POST", f"{path}/{action}", form=form
            )
            if answer is None:
                return
            # A decision that asks to be confirmed shows its form again with a confirm field.
            again = _form(answer.body, f"{path}/{action}") if answer.status == 200 else None
            if again is not None and "confirm" in again:
                again["confirm"] = again.get("confirm") or "y"
                answer = call(
                    self.ledger,
                    action,
                    client.request,
                    "POST",
                    f"{path}/{action}",
                    form=again,
                )
            if answer is not None and answer.status == 303:
                self.ledger.count(f"staff {action}")
            return

    def _review_third_parties(self, client: Client, path: str, page: Answer) -> Answer | None:
        """The case page after its third-party review is said done, if it offers one.

        ``page`` itself when there is nothing to review (or it is done); None when
        the review was not accepted (a stale version, a fault): the next round retries.
        """
        done = _form(page.body, f"{path}/third-parties", where={"action": "done"})
        if done is None:
            return page
        answer = call(
            self.ledger, "third-party review", client.request, "POST",
            f"{path}/third-parties", form=done,
        )  # fmt: skip
        if answer is None or answer.status != 303:
            return None
        self.ledger.count("staff third-party review done")
        # The review changed the case's version: the approval needs the page's new one.
        again = call(self.ledger, "case", client.get, path)
        if again is None or again.status != 200:
            return None
        return again


def _form(html: str, action: str, where: dict[str, str] | None = None) -> dict[str, str] | None:
    """The fields of the form posting to ``action`` (hidden and checked inputs, textareas).

    ``where``: the first such form whose fields have these values (one section may
    hold several forms posting to the same place, told apart by a hidden field).
    """
    for found in re.finditer(r"<form\b([^>]*)>(.*?)</form>", html, re.S):
        attributes, inner = found.groups()
        target = re.search(r'action="([^"]+)"', attributes)
        if not target or target.group(1).split("?", 1)[0] != action:
            continue
        fields: dict[str, str] = {}
        for tag in re.finditer(r"<input\b([^>]*)>", inner):
            name = re.search(r'name="([^"]+)"', tag.group(1))
            if not name:
                continue
            kind = re.search(r'type="([^"]+)"', tag.group(1))
            value = re.search(r'value="([^"]*)"', tag.group(1))
            if kind and kind.group(1) == "checkbox":
                fields[name.group(1)] = value.group(1) if value else "y"
            elif not kind or kind.group(1) in ("hidden", "text"):
                fields[name.group(1)] = value.group(1) if value else ""
        for area in re.finditer(r'<textarea\b[^>]*name="([^"]+)"', inner):
            fields.setdefault(area.group(1), "Décision prise pendant le soak.")
        for select in re.finditer(
            r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', inner, re.S
        ):
            option = re.search(r'<option[^>]*value="([^"]+)"', select.group(2))
            if option:
                fields.setdefault(select.group(1), option.group(1))
        if where and any(fields.get(k) != v for k, v in where.items()):
            continue
        return fields
    return None


# --- faults -------------------------------------------------------------------------


def schedule(minutes: float, seed: int) -> list[tuple[float, str]]:
    """(seconds from the start, fault) for a run of ``minutes``, 10 minutes being the model."""
    scale = minutes * 60 / 600
    rng = random.Random(seed)
    plan = [
        (60, "smtp refuses"),
        (120, "smtp ok"),
        (120, "smtp down"),
        (240, "smtp up"),
        (270, "smtp slow"),
        (330, "smtp ok"),
        (360, "postgres restart"),
        (420, "redis stop"),
        (480, "redis start"),
        (480, "gunicorn kill"),
        (500, "gunicorn start"),
    ]
    plan += [(rng.uniform(20, 560), "worker kill") for _ in range(5)]
    return sorted((at * scale, what) for at, what in plan)


class Faults:
    def __init__(self, shape: Shape, smtp: FaultySmtp, pg: PrivatePostgres,
                 cache: PrivateRedis, ledger: Ledger) -> None:  # fmt: skip
        self.shape, self.smtp, self.pg, self.cache, self.ledger = shape, smtp, pg, cache, ledger
        self.last_fault_at = 0.0

    def _on(self, name: str) -> None:
        with self.ledger.lock:
            self.ledger.faults.append(name)

    def _off(self, name: str) -> None:
        with self.ledger.lock:
            if name in self.ledger.faults:
                self.ledger.faults.remove(name)

    def apply(self, what: str) -> None:
        print(f"   {self.ledger.at()}  fault: {what}", flush=True)
        self.last_fault_at = time.monotonic()
        if what == "smtp refuses":
            self.smtp.mode = "refuse"
            self._on("smtp 4xx")
        elif what == "smtp slow":
            self.smtp.mode = "slow"
            self._on("smtp slow")
        elif what == "smtp ok":
            self.smtp.mode = "ok"
            self._off("smtp 4xx")
            self._off("smtp slow")
        elif what == "smtp down":
            assert self.shape.controller is not None
            self.shape.controller.stop()
            self._on("smtp down")
        elif what == "smtp up":
            self.shape.controller = Controller(
                self.smtp, hostname="127.0.0.1", port=self.shape.smtp_port
            )
            self.shape.controller.start()
            self._off("smtp down")
        elif what == "postgres restart":
            self._on("postgres restart")
            self.pg.pg_ctl("restart")
            self._off("postgres restart")
        elif what == "redis stop":
            self.cache.stop()
            self._on("redis down")
        elif what == "redis start":
            self.cache.start()
            self._off("redis down")
        elif what == "gunicorn kill":
            process = self.shape.processes.pop(f"web-{self.shape.web_ports[0]}")
            process.kill()
            process.wait()
            self._on("gunicorn killed")
        elif what == "gunicorn start":
            self.shape.web(0)
            self._off("gunicorn killed")
        elif what == "worker kill":
            name = random.choice([n for n in self.shape.processes if n.startswith("worker-")])
            process = self.shape.processes.pop(name)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.ledger.count("worker killed")
            self.shape.start(name, "worker")

    def run(self, plan: list[tuple[float, str]], stop: threading.Event) -> None:
        for at, what in plan:
            delay = at - (time.monotonic() - self.ledger.started)
            if delay > 0 and stop.wait(delay):
                return
            try:
                self.apply(what)
            except Exception as error:  # a fault that could not be applied: say so, go on
                print(f"   fault {what} failed: {error}", flush=True)


# --- checks -------------------------------------------------------------------------


def warehouse_keys(path: Path) -> dict[str, set[tuple[Any, ...]]]:
    connection = sqlite3.connect(path)
    tables = [
        r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    ]
    keys: dict[str, set[tuple[Any, ...]]] = {}
    for table in tables:
        columns = [r for r in connection.execute(f'PRAGMA table_info("{table}")') if r[5]]
        names = [r[1] for r in sorted(columns, key=lambda r: r[5])] or ["rowid"]
        select = ", ".join(f'"{n}"' for n in names)
        keys[table] = {tuple(r) for r in connection.execute(f'SELECT {select} FROM "{table}"')}
    connection.close()
    return keys


def audit_verify(shape: Shape) -> tuple[bool, str]:
    done = subprocess.run(
        [str(ROOT / "deploy" / "entrypoint.sh"), "audit", "verify"],
        env=shape.env, cwd=shape.work, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else ""


def drained(url: str) -> bool:
    with psycopg.connect(url) as c:
        row = c.execute(
            "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running') "
            "AND run_after <= now() + interval '5 minutes'"
        ).fetchone()
    return row is not None and row[0] == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--citizens", type=int, default=60, help="demo citizens filing")
    parser.add_argument(
        "--pause", type=float, default=1.5, help="seconds between filings, per filer"
    )
    parser.add_argument("--filers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    random.seed(args.seed)
    work = Path(tempfile.mkdtemp(prefix="portal-soak-"))
    work.chmod(0o755)
    pg = PrivatePostgres(work)
    pg.pg_ctl("start")
    cache = PrivateRedis()
    cache.start()
    shape = Shape(work, pg.server, cache.url)
    smtp = FaultySmtp()
    shape.mailbox = smtp
    ledger = Ledger()
    problems: list[str] = []
    try:
        print(f"== Setting up in {work}", flush=True)
        shape.database()
        shape.certificate()
        shape.env["RATELIMIT_FILING"] = "100000 per hour"
        shape.env["FILINGS_PER_ADDRESS_PER_HOUR"] = "1000"
        shape.env["JOB_BACKOFF_SECONDS"] = "5"
        shape.env["JOB_BACKOFF_MAX_SECONDS"] = "30"
        shape.env["JOB_LEASE_SECONDS"] = "30"
        shape.run("migrate")
        shape.run("demo-data", "--citizens", "500")
        accounts = make_staff(shape)
        people = citizens_of(work / "warehouse.sqlite3", args.citizens, args.seed)
        before = warehouse_keys(work / "warehouse.sqlite3")
        shape.start_all()
        for port in shape.web_ports:
            deadline = time.monotonic() + 60
            while not _answers(shape, port):
                if time.monotonic() > deadline:
                    raise CheckFailed(f"gunicorn on {port} did not start")
                time.sleep(0.3)
        print(f"   nginx https://{HOST}:{shape.https}, gunicorn {shape.web_ports}, 2 workers, "
              f"PostgreSQL :{pg.port}, Redis :{cache.port}, SMTP :{shape.smtp_port}")  # fmt: skip
        ledger.started = time.monotonic()
        stop = threading.Event()
        citizens = Citizens(shape, ledger, people)
        staff = Staff(shape, ledger, accounts)
        faults = Faults(shape, smtp, pg, cache, ledger)
        threads = [
            threading.Thread(target=citizens.file, args=(stop, args.pause))
            for _ in range(args.filers)
        ]
        threads.append(threading.Thread(target=citizens.follow, args=(stop,)))
        threads.append(
            threading.Thread(target=staff.work, args=("agent@soak.example", AGENT_ACTIONS, stop))
        )
        threads.append(
            threading.Thread(target=staff.work, args=("dpo@soak.example", ("approve",), stop))
        )
        threads.append(
            threading.Thread(target=faults.run, args=(schedule(args.minutes, args.seed), stop))
        )
        print(f"== Load for {args.minutes:g} minutes", flush=True)
        for thread in threads:
            thread.start()
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(30, max(0.1, end - time.monotonic())))
            print(
                f"   {ledger.at()}  {len(ledger.filed)} filed, {dict(ledger.events)}", flush=True
            )
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        # Whatever the schedule left broken is mended before the drain.
        smtp.mode = "ok"
        if cache.process is None:
            cache.start()
        if f"web-{shape.web_ports[0]}" not in shape.processes:
            shape.web(0)
        print("== Draining", flush=True)
        url = f"postgresql://{pg.server}/{DATABASE}"
        drain_started = time.monotonic()
        deadline = drain_started + 300
        while not drained(url) and time.monotonic() < deadline:
            time.sleep(1)
        drained_at = time.monotonic()
        print(f"   queue empty {drained_at - drain_started:.0f} s after the load stopped, "
              f"{drained_at - faults.last_fault_at:.0f} s after the last fault")  # fmt: skip
        problems = report(shape, url, ledger, smtp, before, drained_at - faults.last_fault_at)
    except CheckFailed as error:
        problems.append(str(error))
    finally:
        shape.stop_all()
        cache.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.pg_ctl("stop")
        if args.keep or problems:
            print(f"folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("\nsoak FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("\nsoak passed: nothing lost, nothing doubled")
    return 0


def _answers(shape: Shape, port: int) -> bool:
    try:
        return shape.direct(port, "/healthz") == 200
    except OSError:
        return False


def make_staff(shape: Shape) -> dict[str, str]:
    """An agent and a DPO, enrolled as `flask staff demo` does; their TOTP secrets."""
    os.environ.update(shape.env)
    from app import create_app
    from app.extensions import db
    from app.services import services_of
    from app.staffing import accounts, invites

    app = create_app()
    # The app set up the portal's logging for this process: aiosmtpd's INFO lines are noise.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    vault = services_of(app).vault
    secrets: dict[str, str] = {}
    with app.app_context():
        session = db.session()
        for email, role in (("agent@soak.example", "agent"), ("dpo@soak.example", "dpo")):
            from app.models import utcnow

            now = utcnow()
            user = invites.new_account(session, email, role, vault, now, actor="cli")
            token = invites.issue_enrolment(user, now)
            secret = accounts.totp_secret(user, vault)
            code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
            accounts.enrol(session, token, PASSWORD, code, vault, now)
            secrets[email] = secret
        session.commit()
        db.session.remove()
        db.engine.dispose()
    return secrets


def report(shape: Shape, url: str, ledger: Ledger, smtp: FaultySmtp,
           before: dict[str, set[tuple[Any, ...]]], drain: float) -> list[str]:  # fmt: skip
    problems: list[str] = []
    print("\n== Figures")
    with psycopg.connect(url) as c:
        by_address = Counter(r[0] for r in c.execute("SELECT email FROM requests").fetchall())
        accepted = Counter(f["email"] for f in ledger.filed.values())
        lost = {a: n for a, n in accepted.items() if by_address.get(a, 0) < n}
        extra = {a: n for a, n in by_address.items() if n > accepted.get(a, 0)}
        print(
            f"filings accepted (303): {sum(accepted.values())}, stored: {sum(by_address.values())}"
        )
        if lost:
            problems.append(f"filings lost: {lost}")
        if extra:
            problems.append(f"requests stored more often than filed: {extra}")

        # A package held for the 48-hour reflection period is released by a job due later.
        held = c.execute(
            "SELECT count(*) FROM jobs "
            "WHERE state = 'pending' AND run_after > now() + interval '1 hour'"
        ).fetchone()
        print(
            "packages held for the reflection period (a release job due later): "
            f"{held[0] if held else 0}"
        )
        jobs = c.execute(
            "SELECT kind, state, message_id FROM jobs "
            "WHERE NOT (state = 'pending' AND run_after > now() + interval '1 hour')"
        ).fetchall()
        states = Counter((k, s) for k, s, _ in jobs)
        print(
            "jobs by kind and state: "
            + ", ".join(f"{k} {s} {n}" for (k, s), n in sorted(states.items()))
        )
        sent_ids = {m for k, s, m in jobs if m and s == "done"}
        received = set(smtp.message_ids)
        resends = sum(n - 1 for n in smtp.message_ids.values() if n > 1)
        print(f"emails: {len(sent_ids)} jobs done, {len(received)} distinct Message-IDs received, "
              f"{resends} resends of a Message-ID after a crash, "
              f"{smtp.refused} refused by the 4xx fault")  # fmt: skip
        missing = sent_ids - received
        if missing:
            problems.append(f"{len(missing)} email jobs marked done never reached the server")
        left = [(k, s) for k, s, _ in jobs if s in ("pending", "running", "parked")]
        if left:
            problems.append(f"jobs left after the drain: {Counter(left)}")

        erasures = c.execute(
            "SELECT r.id FROM requests r WHERE r.kind = 'erasure' AND r.status = 'completed'"
        ).fetchall()
        planned: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
        for (request_id,) in erasures:
            lines = c.execute(
                "SELECT l.action, l.record_keys FROM plan_lines l "
                "JOIN plans p ON p.id = l.plan_id WHERE p.request_id = %s "
                "AND p.number = (SELECT max(number) FROM plans WHERE request_id = %s)",
                (request_id, request_id),
            ).fetchall()
            for action, keys in lines:
                if action == "erase":
                    for table, rows in (keys or {}).items():
                        planned[table].update(tuple(r) for r in rows)
        # A person matched in the sources but holding no record at all gets a plan with
        # no lines and an answer saying so, not a package: only accesses with something
        # to communicate must have one.
        accesses = c.execute(
            "SELECT count(*), count(p.id) FROM requests r LEFT JOIN access_packages p "
            "ON p.request_id = r.id WHERE r.kind = 'access' AND r.status = 'completed' "
            "AND EXISTS (SELECT 1 FROM plan_lines l JOIN plans n ON n.id = l.plan_id "
            "WHERE n.request_id = r.id "
            "AND n.number = (SELECT max(number) FROM plans WHERE request_id = r.id))"
        ).fetchone()
        statuses = Counter(r[0] for r in c.execute("SELECT status FROM requests").fetchall())
    after = warehouse_keys(shape.work / "warehouse.sqlite3")
    deleted = {
        t: before[t] - after.get(t, set()) for t in before if before[t] - after.get(t, set())
    }
    added = {t: after[t] - before.get(t, set()) for t in after if after[t] - before.get(t, set())}
    print(f"requests by status: {dict(statuses)}")
    print(f"erasures completed: {len(erasures)}; warehouse rows deleted: "
          f"{sum(len(v) for v in deleted.values())}, "
          f"planned: {sum(len(v) for v in planned.values())}")  # fmt: skip
    for table in set(deleted) | set(planned):
        if {tuple(str(x) for x in k) for k in deleted.get(table, set())} != {
            tuple(str(x) for x in k) for k in planned.get(table, set())
        }:
            problems.append(f"{table}: deleted rows differ from the planned keys")
    if added:
        print(
            "warehouse rows added (objections, not erasures): "
            f"{sum(len(v) for v in added.values())}"
        )
    assert accesses is not None
    print(f"accesses completed with records to send: {accesses[0]}, with a package: {accesses[1]}")
    if accesses[0] != accesses[1]:
        problems.append("a completed access has no package")
    ok, line = audit_verify(shape)
    print(f"audit chain: {'verifies' if ok else 'FAILS'} ({line})")
    if not ok:
        problems.append("the audit chain does not verify")
    print("HTTP answers by fault in force:")
    for (fault, outcome), n in sorted(ledger.answers.items()):
        print(f"  {fault:<28} {outcome:<10} {n}")
    if ledger.unclean:
        problems.append(
            f"{len(ledger.unclean)} server errors without a request id: {ledger.unclean[:5]}"
        )
    leaks = 0
    for path in shape.logs.glob("*.log"):
        if path.name.startswith(("web-", "worker-", "nginx-")):
            leaks += sum(1 for line in path.read_text(errors="replace").splitlines()
                         if mask(line) != line)  # fmt: skip
    print(f"log lines holding a link token (web, worker, nginx): {leaks}")
    if leaks:
        problems.append(f"{leaks} log lines hold a link token")
    print(f"events: {dict(ledger.events)}")
    print(f"drained {drain:.0f} s after the last fault (load and faults ended together)")
    return problems


if __name__ == "__main__":
    sys.exit(main())

"""The production shape, started and tried: ``make prod-check`` (CI runs it).

Debian's nginx with a self-signed certificate in front of two gunicorn instances
on two ports, two job workers, the local PostgreSQL and Redis, and an SMTP server
this script runs (aiosmtpd): every portal process started by
``deploy/entrypoint.sh`` in production mode, as systemd and the container do.
It then checks, printing each result:

- the citizen journey over HTTPS through nginx (filing, the emailed link, the
  status page once the request is routed), with links built on the public address;
- plain HTTP redirected to HTTPS; HSTS sent once; cookies Secure and HttpOnly;
- the client's address, as nginx forwards it, is what the rate limiter counts
  (a client spoofing X-Forwarded-For is still counted as itself);
- nginx's access log holds no link token;
- stopping one gunicorn instance (SIGTERM) under load loses no filing: every
  filing answered with a success exists once, and its email is sent once;
- ``/readyz`` turns unhealthy when the workers stop, healthy when one is back;
- every process stops cleanly, and no log line holds the requester's details.

Needs nginx and openssl (``apt-get install -y nginx``), PostgreSQL and Redis on
loopback (``PRODCHECK_DATABASE``, ``PRODCHECK_REDIS`` to point elsewhere). It
creates and drops its own database, ``portal_prodcheck``, and uses Redis
database 14. Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import psycopg
import redis
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
SITE = ROOT / "deploy" / "nginx" / "portal.conf"
DATABASE = "portal_prodcheck"
HOST = "localhost"

# A demo persona whose address is on file: the proven address is a contact match,
# so the status page may show her plan without further proof of identity.
CAMILLE = {
    "kind": "access",
    "first_name": "Camille",
    "last_name": "Lefèvre-Dubois",
    "birth_date": "1978-05-14",
    "email": "camille.lefevre@example.org",
    "nir": "278057505612390",
    "details": "Mes séjours et mes courriers de sortie.",
}


class CheckFailed(AssertionError):
    pass


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def ok(message: str) -> None:
    print(f"   ok  {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, probe: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise CheckFailed(f"{what}: not within {seconds:.0f} s")


# --- the SMTP server -----------------------------------------------------------


class Mailbox:
    """What the portal's workers send, over a real SMTP conversation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    def link(self, address: str, prefix: str) -> str | None:
        for message in reversed(self.to(address)):
            body = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(rf"https://{HOST}:\d+({prefix}[^\s]+)", body)
            if found:
                return found.group(1)
        return None


# --- an HTTPS client that says where it comes from ------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def text(self) -> str:
        """The page's words, for a failure message."""
        main = self.body.split("<main", 1)[-1]
        return " ".join(re.sub(r"<[^>]+>", " ", main).split())[:400]

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class Client:
    """One browser: its own cookies, its own source address on loopback."""

    port: int
    tls: ssl.SSLContext
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        connection = http.client.HTTPSConnection(
            HOST, self.port, context=self.tls, timeout=30, source_address=(self.source, 0)
        )
        sent = {"Accept-Language": "fr", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            # Flask-WTF's HTTPS check wants a same-origin Referer, as a browser sends.
            sent.setdefault("Referer", f"https://{HOST}:{self.port}{path}")
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.getheaders(), response.read().decode())
        finally:
            connection.close()
        for value in answer.header("Set-Cookie"):
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return answer

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def submit(self, path: str, form: dict[str, str], **kwargs: Any) -> Answer:
        """GET the page for its CSRF token, then POST the form."""
        page = self.get(path)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.body)
        expect(token, f"GET {path} answered {page.status} with no form")
        assert token is not None
        return self.request("POST", path, form={**form, "csrf_token": token.group(1)}, **kwargs)

    def file(self, form: dict[str, str], **kwargs: Any) -> Answer:
        """File a request as a person does: the form, then "Send" on its check page."""
        checked = self.submit("/", with_birth_parts(form), **kwargs)
        if checked.status != 200:
            return checked  # refused by the form's checks (422) or a limit (429)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', checked.body)
        answers = re.search(r'name="answers"[^>]*value="([^"]+)"', checked.body)
        expect(token and answers, "the check-your-answers page has no Send form")
        assert token is not None and answers is not None
        sent = {"csrf_token": token.group(1), "answers": html.unescape(answers.group(1))}
        return self.request("POST", "/request/send", form=sent, **kwargs)


def with_birth_parts(form: dict[str, str]) -> dict[str, str]:
    """``birth_date`` (ISO) as the form's three boxes: day, month, year."""
    if "birth_date" not in form:
        return form
    fields = {k: v for k, v in form.items() if k != "birth_date"}
    year, month, day = form["birth_date"].split("-")
    return fields | {"birth_date-day": day, "birth_date-month": month, "birth_date-year": year}


# --- the processes ----------------------------------------------------------------


class Shape:
    """nginx, two gunicorn instances and two workers, all in a temporary folder."""

    def __init__(self, work: Path, database_server: str, redis_url: str) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir()
        self.https, self.http = free_port(), free_port()
        self.web_ports = [free_port(), free_port()]
        self.smtp_port = free_port()
        self.mailbox = Mailbox()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.nginx: subprocess.Popen[bytes] | None = None
        self.controller: Controller | None = None
        self.database_server = database_server.rstrip("/")
        self.secrets = [
            secrets.token_urlsafe(48),  # SECRET_KEY
            secrets.token_urlsafe(32),  # AUDIT_KEYS
            secrets.token_urlsafe(32),  # METRICS_TOKEN
            secrets.token_urlsafe(32),  # NAME_SEARCH_KEYS
        ]
        self.env = {
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "PORTAL_ENV": "production",
            "PORTAL_HOME": str(ROOT),
            "PORTAL_VENV": str(ROOT / ".venv"),
            "PORTAL_INSTANCE": str(work / "instance"),
            "PORTAL_BASE_URL": f"https://{HOST}:{self.https}",
            "TRUSTED_HOSTS": HOST,
            "PROXY_COUNT": "1",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "CONTACT_EMAIL": "dpo@example.org",
            "CONTROLLER_NAME": "Hôpital de vérification",
            "CONTROLLER_ADDRESS": "1 rue de la Vérification, 75001 Paris",
            "PUBLICATION_DIRECTOR": "Jeanne Vérification",
            "HOSTING_PROVIDER": "Hébergeur de vérification, 2 rue Exemple, 75002 Paris",
            "MAIL_SENDER_NAME": "Hôpital de vérification",
            "SECRET_KEY": self.secrets[0],
            "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_KEYS": self.secrets[1],
            "NAME_SEARCH_KEYS": self.secrets[3],
            "AUDIT_ANCHOR_FILE": str(work / "anchors" / "audit-anchors.log"),
            "DATABASE_URL": f"postgresql+psycopg://{self.database_server}/{DATABASE}",
            "WAREHOUSE_URL": f"sqlite:///{work / 'warehouse.sqlite3'}",
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": "true",
            # Low enough to reach in a few requests; the filing limit high enough for
            # the load of the graceful-stop check (all from one address).
            "RATELIMIT_STAFF_LOGIN": "3 per minute",
            "RATELIMIT_FILING": "10000 per hour",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(self.smtp_port),
            "MAIL_DEFAULT_SENDER": "Portail des droits <ne-pas-repondre@example.org>",
            "LOG_FORMAT": "json",
            "METRICS_TOKEN": self.secrets[2],
            "WEB_WORKERS": "2",
            "WEB_THREADS": "4",
            "WORKER_POLL_SECONDS": "1",
            "WORKER_STALE_SECONDS": "10",
        }
        cert_dir = work / "tls"
        cert_dir.mkdir()
        self.cert, self.key = cert_dir / "fullchain.pem", cert_dir / "privkey.pem"
        self.tls = ssl.create_default_context()

    # helpers ------------------------------------------------------------------

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(ENTRYPOINT), *args],
            env={**self.env, **(env or {})},
            cwd=self.work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [str(ENTRYPOINT), *args],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=600,
        )
        (self.logs / f"{args[0]}.log").write_text(done.stdout + done.stderr)
        expect(done.returncode == 0, f"entrypoint {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def stop(self, name: str, timeout: float = 40) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -9

    def web(self, index: int) -> None:
        port = self.web_ports[index]
        self.start(
            f"web-{port}",
            "web",
            env={
                "WEB_BIND": f"127.0.0.1:{port}",
                "WEB_NAME": f"portal-web-{port}",
                "PROMETHEUS_MULTIPROC_DIR": str(self.work / f"metrics-{port}"),
            },
        )

    def direct(self, port: int, path: str) -> int:
        """An instance's own port, as monitoring reads /readyz (nginx refuses it)."""
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": HOST})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    # the pieces ---------------------------------------------------------------

    def certificate(self) -> None:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-keyout", str(self.key), "-out", str(self.cert),
                "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.tls = ssl.create_default_context(cafile=str(self.cert))

    def nginx_config(self) -> Path:
        """deploy/nginx/portal.conf as shipped, with this run's ports, paths and name."""
        site = SITE.read_text()
        replacements = {
            "127.0.0.1:8001": f"127.0.0.1:{self.web_ports[0]}",
            "127.0.0.1:8002": f"127.0.0.1:{self.web_ports[1]}",
            "listen 443 ssl": f"listen 127.0.0.1:{self.https} ssl",
            "listen 80;": f"listen 127.0.0.1:{self.http};",
            "portal.example.org": HOST,
            "/etc/ssl/portal/fullchain.pem": str(self.cert),
            "/etc/ssl/portal/privkey.pem": str(self.key),
            "/var/log/nginx/": f"{self.logs}/nginx-",
        }
        for old, new in replacements.items():
            expect(old in site, f"deploy/nginx/portal.conf no longer holds {old!r}")
            site = site.replace(old, new)
        # IPv6 may be off on a build machine; the site's IPv6 lines are the same listens.
        site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
        (self.work / "site.conf").write_text(site)
        temp = self.work / "nginx-temp"
        temp.mkdir()
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = f"""{user}daemon off;
worker_processes 1;
pid {self.work}/nginx.pid;
error_log {self.logs}/nginx-main.error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.work}/site.conf;
}}
"""
        path = self.work / "nginx.conf"
        path.write_text(main)
        return path

    def database(self, drop_only: bool = False) -> None:
        with psycopg.connect(
            f"postgresql://{self.database_server}/postgres", autocommit=True
        ) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            if not drop_only:
                c.execute(f"CREATE DATABASE {DATABASE}")

    def start_all(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.smtp_port)
        self.controller.start()
        for index in (0, 1):
            self.web(index)
        self.start("worker-1", "worker")
        self.start("worker-2", "worker")
        config = self.nginx_config()
        tested = subprocess.run(["nginx", "-t", "-c", str(config)], capture_output=True, text=True)
        expect(tested.returncode == 0, f"nginx refuses the site: {tested.stderr}")
        self.nginx = subprocess.Popen(
            ["nginx", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.logs / "nginx-stderr.log").open("wb"),
        )

    def stop_all(self) -> dict[str, int]:
        codes = {name: self.stop(name) for name in list(self.processes)}
        if self.nginx is not None:
            self.nginx.send_signal(signal.SIGQUIT)
            self.nginx.wait(timeout=20)
            self.nginx = None
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        return codes

    def count_requests(self) -> int:
        url = f"postgresql://{self.database_server}/{DATABASE}"
        with psycopg.connect(url) as c:
            row = c.execute("SELECT count(*) FROM requests").fetchone()
        assert row is not None
        return int(row[0])


# --- the checks -------------------------------------------------------------------


def journey(shape: Shape) -> list[str]:
    step("The citizen journey over HTTPS, through nginx")
    browser = Client(shape.https, shape.tls)
    form = browser.get("/")
    expect(form.status == 200, f"GET / answered {form.status}")
    hsts = form.header("Strict-Transport-Security")
    expect(len(hsts) == 1 and "max-age=" in hsts[0], f"HSTS once: {hsts}")
    ok(f"the form over TLS (certificate verified), HSTS once: {hsts[0]}")
    cookies = form.header("Set-Cookie")
    expect(cookies, "the form sets its session cookie")
    for cookie in cookies:
        flags = {p.strip().lower() for p in cookie.split(";")[1:]}
        expect({"secure", "httponly"} <= flags, f"a cookie without Secure/HttpOnly: {cookie}")
    ok(f"{len(cookies)} cookie(s), each Secure and HttpOnly")

    filed = browser.file(CAMILLE)
    expect(filed.status == 303, f"filing answered {filed.status}: {filed.text()}")
    ok("filed: 303")
    address = CAMILLE["email"]
    wait_until(
        "the verification email", lambda: shape.mailbox.link(address, "/verify/") is not None
    )
    verify = shape.mailbox.link(address, "/verify/")
    assert verify is not None
    ok(f"the verification email came over SMTP, its link on https://{HOST}:{shape.https}")
    confirmed = browser.submit(verify, {})
    expect(confirmed.status == 303, f"confirming the link answered {confirmed.status}")
    wait_until("the status link email", lambda: shape.mailbox.link(address, "/s/") is not None)
    status_link = shape.mailbox.link(address, "/s/")
    assert status_link is not None
    opened = browser.get(status_link)
    expect(opened.status == 303, f"the status link answered {opened.status}")
    ok("the address confirmed; the status link emailed and opened")

    def routed() -> bool:
        page = browser.get("/status")
        expect(page.status == 200, f"/status answered {page.status}")
        return 'class="plan' in page.body or "plan-" in page.body

    wait_until("the status page showing the routed request", routed, seconds=60)
    ok("the workers routed the request; the status page shows it")
    return [verify.rsplit("/", 1)[-1], status_link.rsplit("/", 1)[-1]]


def redirect(shape: Shape) -> None:
    step("Plain HTTP")
    connection = http.client.HTTPConnection("127.0.0.1", shape.http, timeout=10)
    connection.request("GET", "/status?x=1", headers={"Host": HOST})
    response = connection.getresponse()
    response.read()
    expect(response.status == 301, f"http:// answered {response.status}")
    location = response.getheader("Location") or ""
    expect(location.startswith(f"https://{HOST}"), f"redirected to {location}")
    ok(f"http:// is redirected to {location}")


def forwarded_address(shape: Shape) -> None:
    step("The rate limiter counts the client nginx saw (X-Forwarded-For)")
    first = Client(shape.https, shape.tls, source="127.0.0.2")
    answers = []
    for n in range(4):
        fields = {
            "email": f"nobody{n}@example.org",
            "password": "wrong-password",
            "code": "000000",
        }
        answers.append(first.submit("/staff/login", fields).status)
    expect(answers[:3] == [401, 401, 401] and answers[3] == 429, f"from 127.0.0.2: {answers}")
    ok(f"127.0.0.2: {answers} (RATELIMIT_STAFF_LOGIN=3 per minute)")
    spoofed = first.submit(
        "/staff/login",
        {"email": "nobody9@example.org", "password": "wrong-password", "code": "000000"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    expect(spoofed.status == 429, f"a spoofed X-Forwarded-For escaped the limit: {spoofed.status}")
    ok("127.0.0.2 claiming to be 198.51.100.7: still 429")
    other = Client(shape.https, shape.tls, source="127.0.0.3")
    fields = {"email": "nobody5@example.org", "password": "wrong-password", "code": "000000"}
    answer = other.submit("/staff/login", fields).status
    expect(answer == 401, f"another client was limited too ({answer}): the proxy's address counts")
    ok("127.0.0.3: 401, its own count")


def graceful_stop(shape: Shape, seconds: float = 8.0, threads: int = 6) -> None:
    step("SIGTERM to one gunicorn instance under load")
    before = shape.count_requests()
    answers: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def load(worker: int) -> None:
        n = 0
        while time.monotonic() < stop_at:
            client = Client(shape.https, shape.tls)
            address = f"load.{worker}.{n}@example.net"
            form = {**CAMILLE, "kind": "erasure", "email": address, "details": ""}
            try:
                status = client.file(form).status
            except (OSError, http.client.HTTPException, CheckFailed) as error:
                status = -1
                print(f"   !!  {address}: {error}", flush=True)
            with lock:
                answers.append((address, status))
            n += 1

    pool = [threading.Thread(target=load, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(seconds / 3)
    port = shape.web_ports[0]
    with lock:
        before_stop = len(answers)
    code = shape.stop(f"web-{port}")
    for thread in pool:
        thread.join()
    filed = [a for a, s in answers if s == 303]
    # nginx's 502 for a POST sent on a connection the stopping instance reset from its
    # accept queue (gunicorn#2409, docs/deploy.md "Stopping and restarting"): the person
    # is told, nothing is stored (the count below proves it). Rare, never silent.
    reset = [a for a, s in answers if s == 502]
    failed = [(a, s) for a, s in answers if s not in (303, 502)]
    print(f"   {len(answers)} filings, {before_stop} before SIGTERM; gunicorn exited {code}")
    expect(code == 0, f"gunicorn on {port} did not stop cleanly: {code}")
    expect(not failed, f"{len(failed)} filings not accepted: {failed[:5]}")
    expect(
        len(reset) <= max(2, len(answers) // 100),
        f"{len(reset)} filings answered 502 by nginx while one instance stopped: {reset[:5]}",
    )
    if reset:
        print(f"   {len(reset)} answered 502 (reset in the accept queue), and not stored")
    after = shape.count_requests()
    expect(after - before == len(filed), f"{len(filed)} accepted, {after - before} stored")
    ok(f"{len(filed)} filings accepted, {after - before} stored: none lost, none doubled")

    def mailed() -> bool:
        return all(shape.mailbox.to(a) for a in filed)

    wait_until("a verification email for every filing", mailed, seconds=90)
    doubled = [a for a in filed if len(shape.mailbox.to(a)) != 1]
    expect(not doubled, f"{len(doubled)} addresses got more than one email: {doubled[:5]}")
    ids = [m["Message-ID"] for a in filed for m in shape.mailbox.to(a)]
    expect(len(set(ids)) == len(ids), "two emails share a Message-ID")
    ok(f"{len(filed)} verification emails, one each")
    shape.web(0)
    wait_until("the stopped instance back", lambda: shape.direct(port, "/healthz") == 200)
    ok(f"the instance on {port} restarted and answers")


def readiness(shape: Shape) -> None:
    step("/readyz follows the workers")
    port = shape.web_ports[1]
    wait_until("/readyz healthy", lambda: shape.direct(port, "/readyz") == 200, seconds=30)
    ok("both workers running: /readyz 200")
    for name in ("worker-1", "worker-2"):
        code = shape.stop(name)
        expect(code == 0, f"{name} did not stop cleanly on SIGTERM: {code}")
    ok("both workers stopped on SIGTERM, exit 0")
    wait_until("/readyz unhealthy", lambda: shape.direct(port, "/readyz") == 503, seconds=30)
    ok("no worker: /readyz 503")
    shape.start("worker-1", "worker")
    wait_until("/readyz healthy again", lambda: shape.direct(port, "/readyz") == 200, seconds=30)
    ok("a worker back: /readyz 200")


def nginx_log(shape: Shape, tokens: list[str]) -> None:
    step("nginx's access log")
    log = (shape.logs / "nginx-portal.access.log").read_text()
    lines = log.splitlines()
    expect(lines, "nginx wrote no access log")
    leaked = [t for t in tokens if t in log]
    expect(not leaked, f"nginx's log holds {len(leaked)} link token(s)")
    expect("/verify/[token]" in log and "/s/[token]" in log, "the token paths are not masked")
    expect("?" not in log.replace('"-"', ""), "a query string reached the log")
    ok(f"{len(lines)} lines, token paths written as [token], no query string")


def portal_logs(shape: Shape, tokens: list[str]) -> None:
    step("The portal's logs")
    # The processes' own logs; demo-data.log is the synthetic warehouse's listing.
    logs = [p for p in shape.logs.glob("*.log") if p.name.startswith(("web-", "worker-"))]
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    lines = [line for line in text.splitlines() if line.startswith("{")]
    expect(lines, "the portal wrote no JSON line")
    for line in lines:
        json.loads(line)
    secrets_seen = [CAMILLE[k] for k in ("last_name", "email", "nir", "details")] + tokens
    leaked = [s[:6] for s in secrets_seen if s in text]
    expect(not leaked, f"a log line holds a requester's detail or a token: {leaked}")
    ok(f"{len(lines)} JSON lines, none with a name, an address, a NIR, a free text or a token")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs) at the end")
    args = parser.parse_args(argv)
    for tool in ("nginx", "openssl"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"prod-check needs {tool}: apt-get install -y nginx openssl", file=sys.stderr)
            return 2
    os.environ["PATH"] = f"{os.environ.get('PATH', '')}:/usr/sbin"
    database_server = os.environ.get("PRODCHECK_DATABASE", "postgres@127.0.0.1:5432")
    redis_url = os.environ.get("PRODCHECK_REDIS", "redis://127.0.0.1:6379/14")
    work = Path(tempfile.mkdtemp(prefix="portal-prodcheck-"))
    shape = Shape(work, database_server, redis_url)
    started = time.monotonic()
    failure: str | None = None
    try:
        step(f"Setting up in {work}")
        shape.database()
        redis.Redis.from_url(redis_url).flushdb()
        shape.certificate()
        shape.run("migrate")
        shape.run("demo-data", "--citizens", "200")
        shape.run("check")
        ok("migrated PostgreSQL, built a demo warehouse, rules checked (entrypoint, production)")
        shape.start_all()
        for port in shape.web_ports:
            wait_until(f"gunicorn on {port}", lambda p=port: shape.direct(p, "/healthz") == 200)
        ok(f"nginx on {shape.https}/{shape.http}, gunicorn on {shape.web_ports}, 2 workers")
        tokens = journey(shape)
        redirect(shape)
        forwarded_address(shape)
        graceful_stop(shape)
        readiness(shape)
        nginx_log(shape, tokens)
        step("Stopping")
        codes = shape.stop_all()
        expect(all(c == 0 for c in codes.values()), f"exit codes on SIGTERM: {codes}")
        ok(f"every process stopped cleanly: {sorted(codes)}")
        portal_logs(shape, tokens)
    except CheckFailed as error:
        failure = str(error)
    finally:
        shape.stop_all()
        try:
            shape.database(drop_only=True)
        except psycopg.Error as error:
            print(f"could not drop {DATABASE}: {error}", file=sys.stderr)
    took = time.monotonic() - started
    if failure:
        print(f"\nprod-check FAILED after {took:.0f} s: {failure}", file=sys.stderr)
        print(f"logs kept in {shape.logs}", file=sys.stderr)
        for log in sorted(shape.logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
        return 1
    print(f"\nprod-check passed in {took:.0f} s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"folder kept: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The production entrypoint (what the container and the systemd units run): gunicorn with
the WEB_* sizing, the worker stopping cleanly, /readyz following the worker, metrics summed
over gunicorn's processes, and the logs of a whole citizen journey free of personal data
and tokens."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from app.serving import SizingError, sizing
from tests.conftest import ROOT, VALID_FILING, csrf_from, send_data

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
TOKEN = "t" * 40


def test_sizing_reads_the_environment_with_defaults_from_the_cores():
    """gthread always; workers 2 x cores + 1 unless WEB_WORKERS; the proxy's address only."""
    default = sizing({}, cores=2)
    assert default["worker_class"] == "gthread"
    assert (default["workers"], default["threads"]) == (5, 2)
    assert default["forwarded_allow_ips"] == "127.0.0.1"
    assert default["accesslog"] is None, "gunicorn's access log would write token paths"
    given = sizing(
        {
            "WEB_WORKERS": "3",
            "WEB_THREADS": "8",
            "WEB_TIMEOUT": "60",
            "WEB_BIND": "127.0.0.1:8001, 127.0.0.1:8002",
            "FORWARDED_ALLOW_IPS": "10.0.0.5",
        },
        cores=2,
    )
    assert (given["workers"], given["threads"], given["timeout"]) == (3, 8, 60)
    assert given["bind"] == ["127.0.0.1:8001", "127.0.0.1:8002"]
    assert given["forwarded_allow_ips"] == "10.0.0.5"
    # gunicorn's control socket defaults to $HOME, which two instances would share.
    assert default["control_socket_disable"] is True and "control_socket" not in default
    controlled = sizing({"WEB_CONTROL_SOCKET": "/run/portal-web-8001/gunicorn.ctl"}, cores=2)
    assert controlled["control_socket"] == "/run/portal-web-8001/gunicorn.ctl"
    assert "control_socket_disable" not in controlled
    for wrong in ({"WEB_WORKERS": "many"}, {"WEB_THREADS": "0"}):
        with pytest.raises(SizingError):
            sizing(wrong, cores=2)


def test_every_unit_runs_the_entrypoint_with_a_command_it_knows():
    """The systemd units start deploy/entrypoint.sh with one of its commands; each timer
    has its service; the services restart on failure and stop with SIGTERM."""
    units = ROOT / "deploy" / "systemd"
    known = set(re.findall(r"^    ([a-z]+)\)$", ENTRYPOINT.read_text(), re.M))
    for unit in units.glob("*.service"):
        text = unit.read_text()
        (command,) = re.findall(r"^ExecStart=/opt/portal/deploy/entrypoint\.sh (\w+)", text, re.M)
        assert command in known, f"{unit.name}: {command}"
        if "Type=oneshot" not in text:
            assert "Restart=on-failure" in text and "KillSignal=SIGTERM" in text, unit.name
    for timer in units.glob("*.timer"):
        assert (units / timer.name.replace(".timer", ".service")).exists(), timer.name
    assert {"web", "worker", "purge", "anchor", "migrate"} <= known
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert set(re.findall(r'command: \["(\w+)"\]', compose)) <= known


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Portal:
    """The entrypoint's processes on the test database, mail written to files."""

    def __init__(self, app, tmp: Path, warehouse: str) -> None:
        self.port = _free_port()
        self.mail = tmp / "mail"
        self.logs: list[Path] = []
        self.tmp = tmp
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLASK")},
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
            "PORTAL_HOME": str(ROOT),
            "PORTAL_ENV": "test",
            "LOG_FORMAT": "json",
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "WAREHOUSE_URL": warehouse,
            "MAIL_DIR": str(self.mail),
            "AUDIT_ANCHOR_FILE": str(tmp / "anchors.log"),
            "PORTAL_BASE_URL": "https://portal.example.org",
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "WEB_WORKERS": "2",
            "WEB_THREADS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
            "METRICS_TOKEN": TOKEN,
            "WORKER_POLL_SECONDS": "1",
        }
        jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(jar), NoRedirect()
        )

    def start(self, *args: str) -> subprocess.Popen:
        log = self.tmp / f"{args[0]}-{len(self.logs)}.log"
        self.logs.append(log)
        return subprocess.Popen(
            [str(ENTRYPOINT), *args],
            env=self.env,
            cwd=self.tmp,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def run(self, *args: str) -> None:
        process = self.start(*args)
        assert process.wait(timeout=120) == 0, self.logs[-1].read_text()[-3000:]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def post(self, path: str, data: dict[str, str]) -> int:
        shown = self.get(path)[1]
        body = urllib.parse.urlencode({**data, "csrf_token": csrf_from(shown)}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def file(self, data: dict[str, str]) -> int:
        """Fill in the public form, then send it from its "check your answers" page."""
        shown = self.get("/")[1]
        body = urllib.parse.urlencode({**data, "csrf_token": csrf_from(shown)}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/", data=body)
        with self.opener.open(request, timeout=30) as response:
            checked = response.read().decode()
        return self.post_to("/request/send", send_data(checked))

    def post_to(self, path: str, data: dict[str, str]) -> int:
        """POST ``data`` as it is (its CSRF token included); the status of the answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=urllib.parse.urlencode(data).encode()
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def newest_link(self, prefix: str) -> str:
        for eml in sorted(self.mail.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            message = message_from_bytes(eml.read_bytes(), policy=policy.default)
            text = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(rf"https://portal\.example\.org({prefix}[^\s]+)", text)
            if found:
                return found.group(1)
        raise AssertionError(f"no {prefix} link in the mail")

    def wait_for(self, path: str, status: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.get(path)[0] == status:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{path} never answered {status}: {self.logs[0].read_text()[-3000:]}")


@pytest.mark.slow
def test_a_journey_through_the_entrypoint(app, tmp_path, warehouse):
    """gunicorn (2 gthread workers) and workers started by the entrypoint serve a filing, a
    verification and a status page; /readyz follows the worker; metrics are summed over the
    gunicorn processes; every process stops cleanly on SIGTERM; and no log line holds the
    requester's name, address, number, free text or any link token."""
    portal = Portal(app, tmp_path, f"sqlite:///{warehouse}")
    web = portal.start("web")
    try:
        portal.wait_for("/healthz", 200)
        assert portal.file(VALID_FILING) == 303
        portal.run("worker", "--once")
        verify = portal.newest_link("/verify/")
        assert portal.post(verify, {}) == 303
        portal.run("worker", "--once")
        status = portal.newest_link("/s/")
        assert portal.get(status)[0] == 303
        assert portal.get("/status")[0] == 200

        assert portal.get("/readyz")[0] == 503, "no worker runs: not ready"
        worker = portal.start("worker")
        portal.wait_for("/readyz", 200, seconds=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        assert portal.get("/readyz")[0] == 503, "the worker stopped: not ready any more"

        for _ in range(6):
            portal.get("/healthz")
        code, page, _ = portal.get("/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert code == 200
        assert re.search(
            r'portal_http_requests_total\{method="GET",route="/s/<token>",status="303"\} 1\.0',
            page,
        ), page[:3000]
        assert re.search(r'portal_requests\{kind="erasure",status="\w+"\} 1\.0', page)
        assert len(list((tmp_path / "metrics").glob("*.db"))) >= 2, "not multi-process"
    finally:
        web.send_signal(signal.SIGTERM)
        assert web.wait(timeout=40) == 0
    logs = "\n".join(path.read_text() for path in portal.logs)
    assert "Using worker: gthread" in logs
    assert logs.count("Booting worker") >= 2
    requests = [
        json.loads(line) for line in logs.splitlines() if '"logger": "portal.request"' in line
    ]
    assert any(r["message"].startswith("POST /verify/<token> 303") for r in requests)
    assert all(len(r["request_id"]) == 32 and r["time"] for r in requests)
    secrets = [VALID_FILING[k] for k in ("first_name", "last_name", "email", "nir", "details")]
    secrets += [verify.rsplit("/", 1)[-1], status.rsplit("/", 1)[-1]]
    for secret in secrets:
        assert secret not in logs, f"a log line holds {secret[:12]}..."

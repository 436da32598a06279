"""The demo's web server does not announce its software (no ``Server`` header)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from app.demo.server import make_demo_server, own_base_url
from tests.conftest import ROOT, free_port


@contextmanager
def serving(server: BaseWSGIServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def headers_of(port: int, path: str) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return {name.lower(): value for name, value in answer.getheaders()}


def raw_answer(port: int, request: bytes) -> bytes:
    """What the server sends back to a request it cannot parse (http.server's own error)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_demo_server_sends_no_server_header(make_app: Any) -> None:
    app: Flask = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False)
    # What `flask run` used: it names Werkzeug and Python, with their versions.
    with serving(
        make_server("127.0.0.1", free_port(), app, request_handler=WSGIRequestHandler)
    ) as port:
        assert "Werkzeug/" in headers_of(port, "/accessibility")["server"]
    with serving(make_demo_server(app, "127.0.0.1", free_port())) as port:
        for path in ("/accessibility", "/nowhere", "/static/portal.css", "/?q=%00"):
            headers = headers_of(port, path)
            assert "server" not in headers, (path, headers["server"])
            assert "date" in headers and "content-security-policy" in headers
        # Four words: http.server refuses it itself, with a status line and headers.
        refused = raw_answer(port, b"GET / not-a-request HTTP/1.1\r\n\r\n")
        assert refused.startswith(b"HTTP/") and b"Werkzeug" not in refused
        assert b"server:" not in refused.lower()


def test_make_demo_runs_the_demo_server() -> None:
    """``make demo`` serves with ``flask demo-serve``, not ``flask run``."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "demo-serve --worker --host 127.0.0.1 --port $(PORT)" in recipe
    assert " run --host" not in recipe
    assert "\nPORT ?= 5000\n" in (ROOT / "Makefile").read_text()


def test_the_base_url_follows_the_demo_server_unless_set() -> None:
    """Left unset, emailed links use the server's own address, not port 5000."""
    assert own_base_url("127.0.0.1", 7301, {}) == "http://127.0.0.1:7301"
    assert own_base_url("0.0.0.0", 7301, {"PORTAL_BASE_URL": " "}) == "http://127.0.0.1:7301"
    assert own_base_url("::1", 7301, {}) == "http://[::1]:7301"
    assert own_base_url("127.0.0.1", 7301, {"PORTAL_BASE_URL": "https://demo.example"}) is None


def test_demo_serve_builds_its_app_and_worker_on_its_own_address(
    make_app: Any, monkeypatch: Any
) -> None:
    """The served app's emails, and the worker it starts, link to the port it serves on."""
    import app.demo.server as server

    demo = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False)
    # Restored after the test: the command sets it for the app it builds and the worker.
    monkeypatch.setenv("PORTAL_BASE_URL", "")
    monkeypatch.delenv("PORTAL_BASE_URL")
    served: dict[str, Any] = {}

    def rebuilt() -> Flask:
        # What create_app() reads: the environment the command has just set.
        return make_app(
            PORTAL_ENV="demo", DEMO=True, PORTAL_BASE_URL=server.os.environ["PORTAL_BASE_URL"]
        )

    class Server:
        def __init__(self, app: Flask) -> None:
            served["app"] = app

        def serve_forever(self) -> None:
            served["worker_env"] = started["env"]

    started: dict[str, Any] = {}

    class Worker:
        def __init__(self, args: list[str], env: dict[str, str]) -> None:
            started.update(args=args, env=env)

        def terminate(self) -> None:
            started["stopped"] = True

        def wait(self, timeout: float) -> None:
            pass

    monkeypatch.setattr("app.create_app", rebuilt)
    monkeypatch.setattr(server, "make_demo_server", lambda app, host, port: Server(app))
    monkeypatch.setattr(server.subprocess, "Popen", Worker)
    result = demo.test_cli_runner().invoke(args=["demo-serve", "--port", "7301", "--worker"])
    assert result.exit_code == 0, result.output
    assert served["app"].config["PORTAL_BASE_URL"] == "http://127.0.0.1:7301"
    assert served["worker_env"]["PORTAL_BASE_URL"] == "http://127.0.0.1:7301"
    assert started["args"][-1] == "worker" and started["stopped"]
    assert "Emailed links point at http://127.0.0.1:7301" in result.output


def test_demo_serve_refuses_to_run_outside_the_demo(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo-serve", "--port", str(free_port())])
    assert result.exit_code != 0
    assert "PORTAL_ENV=demo" in result.output

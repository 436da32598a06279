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

from app.demo.server import make_demo_server
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
    assert "demo-serve --host 127.0.0.1 --port 5000" in recipe
    assert " run --host" not in recipe


def test_demo_serve_refuses_to_run_outside_the_demo(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["demo-serve", "--port", str(free_port())])
    assert result.exit_code != 0
    assert "PORTAL_ENV=demo" in result.output

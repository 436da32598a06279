"""``flask demo-serve``: the demo's web server, which does not say what software it runs.

``flask run`` answered every request with ``Server: Werkzeug/x Python/y``,
telling a visitor which versions to look up flaws for. A WSGI middleware
cannot take that header away: Python's ``http.server`` adds it after the
application has answered, in ``send_response``. So the demo runs Werkzeug's
development server with a request handler whose ``send_response`` sends the
status line and the date only. Production runs on gunicorn, not on this.

Emailed links are built from ``PORTAL_BASE_URL``. Left unset, the demo's
default was ``http://127.0.0.1:5000`` whatever port the demo was served on, so
the links in the demo mailbox led nowhere. Unless it is set, ``demo-serve``
now takes its own address as the base URL, and ``--worker`` starts the worker
with the same one (``make demo PORT=...``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping

import click
from flask import Flask
from flask.cli import ScriptInfo, pass_script_info
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, without the ``Server`` header."""

    def send_response(self, code: int, message: str | None = None) -> None:
        # http.server's own, less its "Server" line.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The sign-in callback's query carries a code and a state: log the path alone.
        line = self.requestline
        method, _, rest = line.partition(" ")
        target, _, version = rest.partition(" ")
        self.requestline = f"{method} {target.split('?', 1)[0]} {version}".strip()
        try:
            super().log_request(code, size)
        finally:
            self.requestline = line


def make_demo_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


def own_base_url(host: str, port: int, environ: Mapping[str, str]) -> str | None:
    """The server's own address as the base URL, unless ``PORTAL_BASE_URL`` is set."""
    if environ.get("PORTAL_BASE_URL", "").strip():
        return None
    # Listening everywhere: the links are followed on this machine.
    shown = "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@click.command("demo-serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option(
    "--worker/--no-worker",
    default=False,
    help="Also run `flask worker`, with the same base URL, until the server stops.",
)
@pass_script_info
def demo_serve_command(info: ScriptInfo, host: str, port: int, worker: bool) -> None:
    """Serve the demo portal (PORTAL_ENV=demo only; production runs on gunicorn)."""
    app = info.load_app()
    if not app.config["DEMO"]:
        raise click.ClickException("demo-serve runs the demo only (PORTAL_ENV=demo).")
    base = own_base_url(host, port, os.environ)
    if base is not None:
        # Built again for this address: emailed links, the mail domain, the demo sign-in.
        os.environ["PORTAL_BASE_URL"] = base
        from app import create_app

        app = create_app()
    click.echo(f" * Serving the demo portal on http://{host}:{port}")
    click.echo(f" * Emailed links point at {app.config['PORTAL_BASE_URL']}")
    child = None
    if worker:
        command = [sys.executable, "-m", "flask", "--app", info.app_import_path or "wsgi"]
        child = subprocess.Popen([*command, "worker"], env=dict(os.environ))  # noqa: S603
    elif base is not None:
        click.echo(f" * Start the worker with PORTAL_BASE_URL={base} (or use --worker)")
    # Stopped by SIGTERM as by Ctrl-C: the finally below stops the worker too.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)) if child else None
    try:
        make_demo_server(app, host, port).serve_forever()
    finally:
        if child is not None:
            signal.signal(signal.SIGTERM, previous)
            child.terminate()
            child.wait(timeout=30)

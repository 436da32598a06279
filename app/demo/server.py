"""``flask demo-serve``: the demo's web server, which does not say what software it runs.

``flask run`` answered every request with ``Server: Werkzeug/x Python/y``,
telling a visitor which versions to look up flaws for. A WSGI middleware
cannot take that header away: Python's ``http.server`` adds it after the
application has answered, in ``send_response``. So the demo runs Werkzeug's
development server with a request handler whose ``send_response`` sends the
status line and the date only. Production runs on gunicorn, not on this.
"""

from __future__ import annotations

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


@click.command("demo-serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@pass_script_info
def demo_serve_command(info: ScriptInfo, host: str, port: int) -> None:
    """Serve the demo portal (PORTAL_ENV=demo only; production runs on gunicorn)."""
    app = info.load_app()
    if not app.config["DEMO"]:
        raise click.ClickException("demo-serve runs the demo only (PORTAL_ENV=demo).")
    click.echo(f" * Serving the demo portal on http://{host}:{port}")
    make_demo_server(app, host, port).serve_forever()

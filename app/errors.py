"""Error pages: one place renders every HTTP error, in HTML or JSON as asked.

No error page or log line carries personal data; the 500 handler rolls the
transaction back so nothing is half-written.
"""

from __future__ import annotations

import logging
import traceback

from flask import Flask, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("You are not allowed to see this page."),
    404: _l("This page does not exist."),
    405: _l("This action is not possible on this page."),
    409: _l("Someone changed this request in the meantime. Please reload the page."),
    410: _l("This link is no longer valid."),
    413: _l("What you sent is too large."),
    422: _l("Some of the information you entered needs correcting."),
    429: _l("Too many attempts. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. Nothing was saved; please try again later."),
}
TITLES = {
    400: _l("Bad request"),
    403: _l("Forbidden"),
    404: _l("Page not found"),
    405: _l("Not allowed"),
    409: _l("Conflict"),
    410: _l("Link expired"),
    413: _l("Too large"),
    422: _l("Please check your entries"),
    429: _l("Too many attempts"),
    500: _l("Server error"),
}


def render_error(code: int, message: str | None = None) -> ResponseReturnValue:
    text = message or str(MESSAGES.get(code, MESSAGES[400]))
    # The id on this request's log lines: quoting it lets support find what happened
    # without the person telling anything about themselves.
    request_id = g.get("request_id", "")
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify(error=code, message=text, request_id=request_id), code
    title = str(TITLES.get(code, TITLES[400]))
    try:
        page = render_template(
            "errors/error.html", code=code, title=title, message=text, request_id=request_id
        )
        return page, code
    except Exception:
        # A request refused before routing (unknown Host) cannot build links:
        # answer with a bare page rather than fail again.
        page = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
        page += f"<p>{escape(text)}</p>"
        if request_id:
            page += f'<p>Request id: <code class="request-id">{escape(request_id)}</code></p>'
        return page, code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> ResponseReturnValue:
        return render_error(
            400, str(_l("This form has expired or was already sent. Please fill it in again."))
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        if code >= 500:
            db.session.rollback()
        return render_error(code if code in MESSAGES else 400)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        db.session.rollback()
        # The type and place only: arguments and messages may hold personal data.
        log.error(
            "unhandled %s at %s\n%s",
            type(error).__name__,
            request.endpoint,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        return render_error(InternalServerError.code)

"""Headers every response carries (docs/security.md, "Headers, pages and files")."""

from __future__ import annotations

from flask import Flask, Response, request

CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

# An identity document shown to staff (app/staff/identity_views.py): framed by the case
# page only, and sandboxed, so a file that is also a web page can run nothing.
DOCUMENT_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "sandbox; frame-ancestors 'self'"
)


def init_app(app: Flask) -> None:
    hsts = app.config.get("HSTS", False)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        # Links carry tokens: never tell another site where a visitor came from.
        headers.setdefault("Referrer-Policy", "no-referrer")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Pages show personal data: no shared or browser cache may keep them.
            headers["Cache-Control"] = "no-store"
        return response

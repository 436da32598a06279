"""Downloading an access package: the emailed link, the date-of-birth check, the files.

GET on the link only shows the form (mail scanners open links); the POST
checks the date of birth, uses up the link, remembers the unlocked package in
the session and redirects to a page without the token, from which both files
are fetched as attachments.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, current_app, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app import intake, tokens
from app.extensions import db
from app.fulfilment import package_download
from app.models import AccessPackage, Request, utcnow
from app.public.forms import BirthDateForm
from app.public.memorable_date import PARTS
from app.public.routes import bp
from app.public.status_view import PackageView
from app.services import services_of

UNLOCK_KEY = "download_unlocked"
# How long an unlocked package stays downloadable in the same browser.
UNLOCK_SECONDS = 30 * 60
FILES = {
    "html": ("text/html; charset=utf-8", "html"),
    "json": ("application/json", "json"),
}
PROBLEM_CODES = {
    "invalid": 400,
    "expired": 410,
    "used": 409,
    "missing": 410,
    "gone": 410,
    "locked": 403,
    "session": 403,
}
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _attempts() -> int:
    return int(current_app.config["DOWNLOAD_CHECK_ATTEMPTS"])


def _problem(reason: str) -> tuple[str, int, dict[str, str]]:
    page = render_template(
        "public/download_problem.html",
        reason=reason,
        contact=current_app.config["CONTACT_EMAIL"],
        attempts=_attempts(),
    )
    return page, PROBLEM_CODES[reason], PRIVATE


def _resolve(token: str, now: datetime) -> tokens.LinkToken:
    signer: tokens.LinkSigner = services_of(current_app).signer
    return signer.resolve(
        db.session(), token, tokens.DOWNLOAD, now, current_app.config["DOWNLOAD_LINK_MAX_AGE"]
    )


def _package_of(request_id: int) -> AccessPackage | None:
    request = db.session.get(Request, request_id)
    return request.package if request is not None else None


def _unlocked(now: datetime) -> AccessPackage | None:
    """The package this browser unlocked, while the unlock lasts."""
    held = session.get(UNLOCK_KEY)
    if not isinstance(held, dict):
        return None
    try:
        until = datetime.fromisoformat(str(held["until"]))
        package_id = int(held["package"])
    except (KeyError, TypeError, ValueError):
        return None
    if until <= now:
        session.pop(UNLOCK_KEY, None)
        return None
    return db.session.get(AccessPackage, package_id)


def _for_other(request_id: int) -> bool:
    """Whether the request is made for someone else: its pages then say the person's data."""
    # Read already by _package_of: the session's identity map answers, no statement.
    request = db.session.get(Request, request_id)
    return request is not None and request.acts_as != "self"


def _form_page(form: BirthDateForm, failed_checks: int, for_other: bool, code: int = 200) -> Any:
    left = _attempts() - failed_checks
    page = render_template(
        "public/download.html", form=form, attempts_left=left, for_other=for_other
    )
    return page, code, PRIVATE


@bp.get("/download/<token>")
def download(token: str) -> Any:
    """Ask the date of birth; opening the link changes nothing."""
    now = utcnow()
    try:
        link = _resolve(token, now)
    except tokens.LinkError as error:
        unlocked = _unlocked(now)
        if (
            error.reason == "used"
            and error.token is not None
            and unlocked is not None
            and unlocked.request_id == error.token.request_id
        ):
            # The same browser, back on a link it has used: its files are still there.
            return redirect(url_for("public.download_files"), 303)
        return _problem(error.reason)
    package = _package_of(link.request_id)
    reason = package_download.availability(package, now, _attempts())
    if reason or package is None:
        return _problem(reason or "missing")
    return _form_page(BirthDateForm(), package.failed_checks, _for_other(link.request_id))


@bp.post("/download/<token>")
def download_check(token: str) -> Any:
    now = utcnow()
    try:
        link = _resolve(token, now)
    except tokens.LinkError as error:
        return _problem(error.reason)
    package = _package_of(link.request_id)
    reason = package_download.availability(package, now, _attempts())
    if reason or package is None:
        return _problem(reason or "missing")
    form = BirthDateForm()
    request = db.session.get_one(Request, link.request_id)
    for_other = request.acts_as != "self"
    if not form.validate_on_submit() or form.birth_date.data is None:
        return _form_page(form, package.failed_checks, for_other, 422)
    # "Your date of birth as you gave it": for someone else, the requester's own.
    requester = intake.read_requester(request, services_of(current_app).vault)
    expected = date.fromisoformat(requester["birth_date"]) if requester else None
    outcome = package_download.check_birth_date(
        db.session(), package, request, form.birth_date.data, now, _attempts(), expected
    )
    if outcome != "unlocked":
        # The count this check left: after the commit, another one may have moved it.
        failed = package.failed_checks
        db.session.commit()
        if outcome == "locked" or failed >= _attempts():
            return _problem("locked")
        form.birth_date.errors = [
            _("This date of birth does not match our records. Check it and try again.")
        ]
        form.birth_date.wrong = PARTS
        return _form_page(form, failed, for_other, 422)
    try:
        tokens.consume(db.session(), link, now)
    except tokens.LinkError:
        db.session.rollback()
        return _problem("used")
    db.session.commit()
    until = min(now + timedelta(seconds=UNLOCK_SECONDS), package.expires_at or now)
    session[UNLOCK_KEY] = {"package": package.id, "until": until.isoformat()}
    return redirect(url_for("public.download_files"), 303)


@bp.get("/download")
def download_files() -> Any:
    """The two files of the unlocked package, offered without the token in the URL."""
    now = utcnow()
    package = _unlocked(now)
    if package is None:
        return _problem("session")
    reason = package_download.availability(package, now, _attempts() + package.failed_checks)
    if reason:
        return _problem(reason)
    request = db.session.get_one(Request, package.request_id)
    page = render_template(
        "public/download_files.html",
        package=package,
        reference=request.reference,
        for_other=request.acts_as != "self",
    )
    return page, 200, PRIVATE


@bp.get("/download/file/<kind>")
def download_file(kind: str) -> Any:
    if kind not in FILES:
        abort(404)
    now = utcnow()
    package = _unlocked(now)
    if package is None:
        return _problem("session")
    # Unlocked already: later wrong attempts elsewhere do not take it back.
    reason = package_download.availability(package, now, _attempts() + package.failed_checks)
    if reason:
        return _problem(reason)
    content_type, extension = FILES[kind]
    blob = package.html_encrypted if kind == "html" else package.json_encrypted
    body = package_download.decrypt(services_of(current_app).vault, blob)
    if body is None:
        return _problem("gone")
    request = db.session.get_one(Request, package.request_id)
    package_download.record_download(db.session(), package, kind, now)
    db.session.commit()
    name = re.sub(r"[^A-Za-z0-9-]", "", request.reference or "") or str(package.id)
    return Response(
        body,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="dossier-{name}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            **PRIVATE,
        },
    )


@bp.app_template_global()
def package_state(package: AccessPackage | PackageView | None) -> str | None:
    """What the status page says about a package: building, held, ready, expired or locked."""
    if package is None:
        return None
    if package.ready_at is None:
        # Built and kept, waiting for the reflection period (app.fulfilment.package_release).
        built = (
            package.json_encrypted is not None and package.records_done >= package.records_total
        )
        return "held" if built else "building"
    reason = package_download.availability(package, utcnow(), _attempts())
    return {"gone": "expired", "locked": "locked"}.get(reason or "", "ready")

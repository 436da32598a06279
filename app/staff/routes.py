"""Staff pages: sign in with a second factor, enrol, change password, sign out.

Closed by default: ``_guard`` refuses every request without a live session,
except the endpoints in ``OPEN``. Views read the form, call ``app.staffing.accounts``,
commit, redirect.
"""

from __future__ import annotations

from typing import Any

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from app import input_guard
from app.extensions import db, limiter
from app.labels import (
    ROLE_LABELS,
    STAFF_ACTION_LABELS,
    STAFF_KIND_LABELS,
    STAFF_STATUS_LABELS,
)
from app.models import StaffUser, utcnow
from app.services import services_of
from app.staff import auth
from app.staff.access import can
from app.staff.forms import REASONS, EnrolForm, LoginForm, LogoutForm, PasswordForm
from app.staff.timeline import REVIEW_REASONS
from app.staffing import accounts, roles

bp = Blueprint("staff", __name__, url_prefix="/staff")
# The only pages reachable without a session; every other staff page is closed.
OPEN = frozenset({"staff.login", "staff.login_post", "staff.enrol", "staff.enrol_post"})


@bp.app_context_processor
def _staff_helpers() -> dict[str, Any]:
    return {"staff_can": can}


def source_title(name: str) -> str:
    """A source as people name it, in the reader's language; one since removed, by its code."""
    catalogue = services_of(current_app).catalogue
    found = next((s for s in catalogue.sources if s.name == name), None)
    return found.title.in_(str(get_locale() or "fr")) if found else name


def category_label(code: str) -> str:
    """A category as the catalogue names it, in the reader's language; else its code."""
    return services_of(current_app).catalogue.label(code).in_(str(get_locale() or "fr"))


def review_reason(code: str) -> str:
    """Why routing doubted the identity ("source:reason"), as a sentence naming the source."""
    source, _sep, reason = code.rpartition(":")
    text = str(REVIEW_REASONS[reason]) if reason in REVIEW_REASONS else _("another reason")
    if not source:
        return text
    return _("%(source)s: %(reason)s", source=source_title(source), reason=text)


@bp.context_processor
def _staff_words() -> dict[str, Any]:
    """Staff pages word the codes for staff: these replace the requester's labels there."""
    return {
        "kind_labels": STAFF_KIND_LABELS,
        "status_labels": STAFF_STATUS_LABELS,
        "action_labels": STAFF_ACTION_LABELS,
        "source_title": source_title,
        "category_label": category_label,
        "review_reason": review_reason,
    }


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_STAFF_LOGIN"])


@bp.before_request
def _guard() -> Response | None:
    if request.endpoint in OPEN:
        return None
    if current_user.is_authenticated and not auth.timed_out():
        return None
    if current_user.is_authenticated or auth.LOGIN_AT in session:
        auth.end()
        flash(_("Your session has ended. Please sign in again."))
    return redirect(url_for("staff.login", next=request.path))


def _me() -> StaffUser:
    user: StaffUser = current_user.user
    return user


def _landing() -> str:
    """Where a signed-in member of staff starts: the requests, or the accounts for an admin."""
    if can(roles.VIEW_CASES):
        return url_for("staff.queue")
    if can(roles.MANAGE_STAFF):
        return url_for("staff.accounts")
    return url_for("staff.home")


@bp.get("/")
def home() -> str:
    user = _me()
    # An account holds no role only before its first one is confirmed, and cannot sign in then.
    role = ROLE_LABELS[user.role] if user.role else ""
    return render_template("staff/home.html", user=user, role=role, logout=LogoutForm())


@bp.get("/login")
def login() -> str:
    return render_template("staff/login.html", form=LoginForm())


def _login_account() -> str:
    """The per-account key: the address typed in, known or not (no enumeration)."""
    return accounts.normalise_email(request.form.get("email", ""))


@bp.post("/login")
# Per IP, and per account so that an attacker rotating addresses still gets
# at most RATELIMIT_STAFF_LOGIN tries on one account (docs/security.md, "No enumeration").
@limiter.limit(_login_limit)
@limiter.limit(_login_limit, key_func=_login_account, scope="staff-login-account")
@input_guard.checks_itself
def login_post() -> ResponseReturnValue:
    # After the rate limits (app/input_guard.py): a refused sign-in is still audited.
    if input_guard.refused():
        _refuse_login()
        return input_guard.refusal()
    form = LoginForm()
    if not form.validate():
        _refuse_login()
        return render_template("staff/login.html", form=form), 422
    try:
        user = accounts.authenticate(
            db.session(),
            form.email.data,
            form.password.data,
            form.code.data,
            services_of(current_app).vault,
            utcnow(),
            address_key=auth.address_key(),
        )
    except accounts.LoginFailed:
        db.session.commit()  # keep the audit event and the spent code
        error = _("The email address, the password or the code is wrong.")
        return render_template("staff/login.html", form=form, error=error), 401
    db.session.commit()
    auth.start(user)
    return redirect(auth.safe_next(request.args.get("next")) or _landing(), 303)


def _refuse_login() -> None:
    """A sign-in refused for its input is a failed sign-in too, and audited as one."""
    accounts.refuse_login(
        db.session(), request.form.get("email", ""), auth.address_key(), utcnow()
    )
    db.session.commit()


@bp.post("/logout")
def logout() -> Response:
    accounts.sign_out(db.session(), _me(), utcnow())
    db.session.commit()
    auth.end()
    flash(_("You are signed out."))
    return redirect(url_for("staff.login"), 303)


def _enrol_problem(reason: str) -> tuple[str, int]:
    return render_template("staff/enrol_problem.html", reason=reason), (
        410 if reason == "expired" else 404
    )


def _enrol_page(user: StaffUser, form: EnrolForm) -> str:
    uri = accounts.provisioning_uri(user, services_of(current_app).vault)
    secret = accounts.totp_secret(user, services_of(current_app).vault)
    # Inline SVG: no script, no data: URL, nothing the CSP would block. segno
    # escapes the title; the rest is paths it drew itself, so it is safe markup.
    svg = segno.make(uri, error="m").svg_inline(scale=5, light="#fff", title=_("QR code to scan"))
    qr = Markup(svg)  # noqa: S704
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("staff/enrol.html", form=form, user=user, qr=qr, secret=grouped)


@bp.get("/enrol/<token>")
def enrol(token: str) -> str | tuple[str, int]:
    try:
        user = accounts.pending_enrolment(db.session(), token, utcnow())
    except accounts.AccountError as error:
        return _enrol_problem(error.reason)
    return _enrol_page(user, EnrolForm())


@bp.post("/enrol/<token>")
def enrol_post(token: str) -> Response | str | tuple[str, int]:
    try:
        user = accounts.pending_enrolment(db.session(), token, utcnow())
    except accounts.AccountError as error:
        return _enrol_problem(error.reason)
    form = EnrolForm()
    if form.validate():
        try:
            accounts.enrol(
                db.session(),
                token,
                form.password.data,
                form.code.data,
                services_of(current_app).vault,
                utcnow(),
            )
        except accounts.AccountError as error:
            db.session.rollback()
            if error.reason in ("invalid", "expired"):  # spent meanwhile, by a simultaneous POST
                return _enrol_problem(error.reason)
            field = form.code if error.reason == "wrong_code" else form.password
            field.errors = [REASONS.get(error.reason, _("Please check this field."))]
        else:
            db.session.commit()
            flash(_("Your account is ready. Sign in with your password and a code."))
            return redirect(url_for("staff.login"), 303)
    return _enrol_page(user, form), 422


@bp.get("/password")
def password() -> str:
    return render_template("staff/password.html", form=PasswordForm())


@bp.post("/password")
def password_post() -> Response | tuple[str, int]:
    form = PasswordForm()
    if form.validate():
        user = _me()
        try:
            accounts.change_password(
                db.session(), user, form.current.data, form.password.data, utcnow()
            )
        except accounts.AccountError as error:
            db.session.rollback()
            field = form.current if error.reason == "wrong_password" else form.password
            field.errors = [REASONS.get(error.reason, _("Please check this field."))]
        else:
            db.session.commit()
            # Other sessions die with the old version; this one continues under the new one.
            auth.start(user, login_at=session.get(auth.LOGIN_AT))
            flash(_("Your password is changed. Your other sessions are closed."))
            return redirect(url_for("staff.home"), 303)
    return render_template("staff/password.html", form=form), 422

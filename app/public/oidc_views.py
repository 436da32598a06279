"""Proving one's identity by signing in with FranceConnect (an OpenID Connect provider).

From the status page, a button (POST, CSRF) starts the authorization code
flow with PKCE, a ``state`` and a ``nonce`` kept in this browser's session,
and the ``acr_values`` configured. The provider sends the browser back to
the callback, which exchanges the code, has Authlib verify the ID token, reads
userinfo, and hands the claims to ``app.identity.oidc``. Whatever fails
(cancelled, provider down, state unknown or replayed, a token refused) the
requester reads a message on the status page and nothing changes: at most a
code-only ``identity.oidc_failed`` audit event. No claim, token or code is
ever logged or put in a URL built here; the ID token is kept in the session
only to end the provider's session (``id_token_hint``), for a few minutes.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from flask import abort, current_app, flash, redirect, session, url_for
from flask import request as http
from flask_babel import gettext as _
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from app import lifecycle
from app.extensions import db
from app.identity import assurance, oidc
from app.models import Request, utcnow
from app.public import oidc_client
from app.public.forms import ConfirmForm
from app.public.routes import _followed_request, bp
from app.security_headers import CSP
from app.services import services_of

log = logging.getLogger(__name__)
PENDING = "oidc_request"
LOGOUT = "oidc_logout"
# The ID token is kept this long for "sign out of FranceConnect", then forgotten.
LOGOUT_SECONDS = 15 * 60
# What the requester reads for each failure; nothing about why a token was refused.
_FAILED = {
    "cancelled": "cancelled",
    "provider_error": "provider",
    "provider_down": "down",
    "state": "expired",
    "session": "expired",
}


def _home() -> Response:
    return redirect(url_for("public.status"), 303)


def _redirect_uri() -> str:
    return current_app.config["PORTAL_BASE_URL"] + url_for("public.oidc_callback")


def _provider() -> str:
    return str(current_app.config["OIDC_PROVIDER_NAME"])


def _fail(reason: str, request_id: int | None) -> Response:
    """Nothing was proven: say so, keep a code in the audit, change nothing else."""
    db.session.rollback()
    if request_id is not None:
        # Only for a request this browser follows: anyone else could fill the audit trail.
        oidc.failed(db.session(), request_id, reason, utcnow())
        db.session.commit()
    log.info("oidc sign-in failed: %s", reason)
    kind = _FAILED.get(reason, "refused")
    name = _provider()
    if kind == "cancelled":
        flash(
            _("You cancelled the sign-in with %(provider)s: nothing has changed.", provider=name)
        )
    elif kind == "down":
        flash(
            _(
                "%(provider)s cannot be reached at the moment: nothing has changed. Please try "
                "again later, or prove your identity another way.",
                provider=name,
            )
        )
    elif kind == "expired":
        flash(
            _(
                "This sign-in with %(provider)s has expired or was already used: nothing has "
                "changed. Please start again from this page.",
                provider=name,
            )
        )
    elif kind == "provider":
        flash(
            _(
                "%(provider)s could not sign you in: nothing has changed. Please try again.",
                provider=name,
            )
        )
    else:
        flash(
            _(
                "We could not verify the answer of %(provider)s, so we did not use it: nothing "
                "has changed. Please try again, or prove your identity another way.",
                provider=name,
            )
        )
    return _home()


@bp.post("/identity/oidc/start")
def oidc_start() -> Response:
    if not oidc_client.enabled():
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    request = _followed_request()
    if request is None:
        return _home()
    if not assurance.can_prove(request) or assurance.identity_shows_plan(
        services_of(current_app).assurance, request
    ):
        flash(_("Your identity does not need to be proven for this request."))
        return _home()
    session[PENDING] = request.id
    try:
        oidc_client.metadata()
        return oidc_client.client().authorize_redirect(
            _redirect_uri(),
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            **(
                {"acr_values": " ".join(oidc_client.acr_values())}
                if oidc_client.acr_values()
                else {}
            ),
        )
    except oidc_client.ClaimsRefused as error:
        session.pop(PENDING, None)
        return _fail(error.reason, request.id)
    except (requests.RequestException, ValueError, RuntimeError):
        session.pop(PENDING, None)
        return _fail("provider_down", request.id)


def _token_and_claims() -> tuple[dict[str, Any], oidc.Claims, str]:
    """Authlib's verified token, the claims, the acr reached; raises a failure code."""
    try:
        token = oidc_client.client().authorize_access_token(leeway=oidc_client.LEEWAY)
        claims, acr = oidc_client.verified_claims(token)
    except MismatchingStateError:
        raise _Failure("state") from None
    except oidc_client.ClaimsRefused as error:
        raise _Failure(error.reason) from None
    except requests.HTTPError:
        raise _Failure("provider_refused") from None
    except requests.RequestException:
        raise _Failure("provider_down") from None
    except JoseError as error:
        # Signature, key, exp, iat, nonce, iss, aud: the error's name is a code, never its text.
        raise _Failure(f"id_token_{getattr(error, 'error', 'invalid')}") from None
    except (AuthlibBaseError, ValueError, KeyError, TypeError) as error:
        log.info("oidc answer unusable: %s", type(error).__name__)
        raise _Failure("provider_answer") from None
    return token, oidc.Claims.of(claims), acr


class _Failure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:60]


@bp.get("/identity/oidc/callback")
def oidc_callback() -> Response:
    if not oidc_client.enabled():
        abort(404)
    expected = session.get(PENDING)
    request = _followed_request()
    if request is None or request.id != expected:
        # No status session, or another request's: the sign-in is tied to none.
        return _fail("session", request.id if request else None)
    if http.args.get("error"):
        # The state of a refused sign-in is used up as well: it cannot be answered later.
        oidc_client.client().framework.clear_state_data(session, http.args.get("state"))
        code = "cancelled" if http.args.get("error") == "access_denied" else "provider_error"
        return _fail(code, request.id)
    try:
        token, claims, acr = _token_and_claims()
    except _Failure as failure:
        return _fail(failure.reason, request.id)
    return _prove(request, token, claims, acr)


def _prove(request: Request, token: dict[str, Any], claims: oidc.Claims, acr: str) -> Response:
    services = services_of(current_app)
    try:
        differs = oidc.prove(
            db.session(),
            request,
            claims,
            vault=services.vault,
            acr=acr,
            now=utcnow(),
            mail=services.mail,
            policy=services.assurance,
        )
    except assurance.AssuranceRefused:
        db.session.rollback()
        flash(_("This request can no longer take a proof of identity: nothing has changed."))
        return _home()
    except (lifecycle.StaleRequest, lifecycle.TransitionError):
        db.session.rollback()
        flash(_("This request changed in the meantime; here is its current state."))
        return _home()
    db.session.commit()
    session.pop(PENDING, None)
    _keep_for_logout(token)
    if differs is None:
        flash(
            _(
                "Thank you: %(provider)s has confirmed who you are. Your request goes on.",
                provider=_provider(),
            )
        )
    else:
        flash(
            _(
                "The identity given by %(provider)s is not the one in your request. A member "
                "of our staff will check your request and may write to you.",
                provider=_provider(),
            )
        )
    return _home()


def _keep_for_logout(token: dict[str, Any]) -> None:
    metadata = oidc_client.client().load_server_metadata()
    if metadata.get("end_session_endpoint") and token.get("id_token"):
        session[LOGOUT] = {"id_token": token["id_token"], "at": int(utcnow().timestamp())}


def logout_offered() -> bool:
    kept = session.get(LOGOUT)
    if not isinstance(kept, dict):
        return False
    if int(utcnow().timestamp()) - int(kept.get("at", 0)) > LOGOUT_SECONDS:
        session.pop(LOGOUT, None)
        return False
    return True


@bp.post("/identity/oidc/logout")
def oidc_logout() -> Response:
    """End the provider's session (FranceConnect asks for it), then come back here."""
    if not oidc_client.enabled():
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not logout_offered():
        return _home()
    kept = session.pop(LOGOUT)
    try:
        # The protocol puts the ID token in the provider's URL (id_token_hint); it is
        # the provider's own, and single-purpose.
        return oidc_client.client().logout_redirect(
            post_logout_redirect_uri=current_app.config["PORTAL_BASE_URL"]
            + url_for("public.oidc_logged_out"),
            id_token_hint=kept["id_token"],
            state=secrets.token_urlsafe(32),
        )
    except (requests.RequestException, RuntimeError, ValueError):
        flash(_("%(provider)s cannot be reached at the moment.", provider=_provider()))
        return _home()


@bp.get("/identity/oidc/logged-out")
def oidc_logged_out() -> Response:
    if not oidc_client.enabled():
        abort(404)
    try:
        oidc_client.client().validate_logout_response()
    except AuthlibBaseError:
        return _home()
    flash(_("You are signed out of %(provider)s.", provider=_provider()))
    return _home()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@bp.after_request
def _allow_provider_forms(response: Response) -> Response:
    """The status page's sign-in and sign-out buttons post here, then go to the provider.

    Browsers apply ``form-action`` to where a form's answer redirects too, so
    the provider's origin is added on the status page (security_headers would
    otherwise set ``form-action 'self'`` alone).
    """
    if http.endpoint != "public.status" or not oidc_client.enabled():
        return response
    origins = {_origin(current_app.config["OIDC_DISCOVERY_URL"])}
    metadata = oidc_client.client().server_metadata
    for key in ("authorization_endpoint", "end_session_endpoint"):
        if isinstance(metadata.get(key), str):
            origins.add(_origin(metadata[key]))
    extra = " ".join(sorted(o for o in origins if o and o != _origin(http.host_url)))
    if extra:
        response.headers["Content-Security-Policy"] = CSP.replace(
            "form-action 'self'", f"form-action 'self' {extra}"
        )
    return response


@bp.context_processor
def _oidc_context() -> dict[str, Any]:
    on = oidc_client.enabled()
    return {
        "oidc_enabled": on,
        "oidc_provider": _provider() if on else "",
        "oidc_logout_offered": on and logout_offered(),
        "oidc_form": ConfirmForm,
    }

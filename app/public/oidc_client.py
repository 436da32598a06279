"""The portal as an OpenID Connect client (Authlib's Flask client), one per app.

Discovery is read lazily, at the first sign-in, so a provider that is down
never stops the portal from starting; Authlib keeps the metadata and the
provider's keys (JWKS) once read, and reads the keys again when a token names
a key it does not know (a rotation).

Authlib checks, on the callback: the ``state`` against the one kept in this
browser's session (single use: it is removed when read), the code exchange
with the PKCE verifier (S256), and the ID token: its signature by the
provider's JWKS with an algorithm the provider announces, ``iss``, ``aud``,
``exp`` and ``iat``, ``nonce``, and ``at_hash``. ``verified_claims`` adds the
``acr`` asked for, and the userinfo answer (JSON, or a JWT signed with the
same keys as FranceConnect v2 sends it) with the same ``sub`` as the ID token.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from config import DEMO_OIDC_PATH

EXTENSION = "portal_oidc"
NAME = "provider"
# Seconds of clock difference tolerated on exp/iat (FranceConnect's tokens live 60 s).
LEEWAY = 30
_ACR = re.compile(r"^[A-Za-z0-9:._/-]{1,80}$")
_EIDAS = re.compile(r"^eidas([1-3])$")


class ClaimsRefused(Exception):
    """The provider's answer was read and verified, but cannot be used; ``reason`` is a code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def init_app(app: Flask) -> None:
    """Register the provider's client when OpenID Connect is configured."""
    if not app.config.get("OIDC_ENABLED"):
        return
    if app.config.get("OIDC_DEMO_PROVIDER"):
        # The demo provider is on this very server, wherever it was told it is served.
        issuer = app.config["PORTAL_BASE_URL"] + DEMO_OIDC_PATH
        app.config["OIDC_ISSUER"] = issuer
        app.config["OIDC_DISCOVERY_URL"] = issuer + "/.well-known/openid-configuration"
    # Authlib logs the PKCE verifier at DEBUG: never let a debug setting print it.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").level))
    oauth = OAuth(app)
    oauth.register(
        NAME,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=app.config["OIDC_DISCOVERY_URL"],
        client_kwargs={
            "scope": app.config["OIDC_SCOPES"],
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": app.config["OIDC_TOKEN_AUTH_METHOD"],
            "default_timeout": app.config["OIDC_TIMEOUT"],
        },
    )
    app.extensions[EXTENSION] = oauth


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def client() -> Any:
    return current_app.extensions[EXTENSION].create_client(NAME)


def metadata() -> dict[str, Any]:
    """The discovery document; its ``issuer`` must be the one configured (OIDC Discovery 4.3)."""
    found: dict[str, Any] = client().load_server_metadata()
    expected = current_app.config["OIDC_ISSUER"]
    if expected and found.get("issuer") != expected:
        raise ClaimsRefused("issuer_mismatch")
    return found


def acr_values() -> list[str]:
    return current_app.config["OIDC_ACR_VALUES"].split()


def acr_reached(acr: Any) -> str | None:
    """The ``acr`` of the ID token if it is at least one of those asked for, else None.

    eIDAS levels are ordered (``eidas3`` satisfies ``eidas2``); other values
    must be among those asked for. Nothing asked: whatever came, if it looks
    like an acr value at all.
    """
    wanted = acr_values()
    if acr is not None and not (isinstance(acr, str) and _ACR.match(acr)):
        return None
    if not wanted:
        return acr or ""
    if acr in wanted:
        return acr
    reached = _EIDAS.match(acr or "")
    floors = [int(m.group(1)) for m in map(_EIDAS.match, wanted) if m]
    if reached and floors and int(reached.group(1)) >= min(floors):
        return acr
    return None


def verified_claims(token: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The claims of a token Authlib has verified, merged with userinfo; and the acr reached."""
    id_claims = token.get("userinfo")
    if not id_claims:
        # No ID token (or no nonce to check it against): nothing is proven.
        raise ClaimsRefused("no_id_token")
    acr = acr_reached(id_claims.get("acr"))
    if acr is None:
        raise ClaimsRefused("acr_insufficient")
    claims = dict(id_claims)
    found = metadata()
    if found.get("userinfo_endpoint"):
        info = _userinfo(token, found)
        if info.get("sub") != id_claims.get("sub"):
            raise ClaimsRefused("userinfo_subject")
        claims.update(info)
    return claims, acr


def _userinfo(token: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    # The bearer header by hand: Authlib's session would take FranceConnect's 60-second
    # access token for expired (it keeps a 60-second margin) and try to refresh it.
    answer = client().get(
        metadata["userinfo_endpoint"],
        withhold_token=True,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    answer.raise_for_status()
    kind = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind != "application/jwt":
        data = answer.json()
        if not isinstance(data, dict):
            raise ClaimsRefused("userinfo_invalid")
        return data
    # FranceConnect v2 signs its userinfo answer: the same keys, issuer and audience.
    keys = KeySet.import_key_set(client().fetch_jwk_set())
    algorithms = metadata.get("userinfo_signing_alg_values_supported") or metadata.get(
        "id_token_signing_alg_values_supported"
    )
    try:
        decoded = jwt.decode(answer.text.strip(), keys, algorithms=algorithms)
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": str(metadata.get("issuer"))},
            aud={"essential": True, "value": current_app.config["OIDC_CLIENT_ID"]},
        ).validate(decoded.claims)
    except JoseError as error:
        raise ClaimsRefused(f"userinfo_{getattr(error, 'error', 'invalid')}") from None
    return dict(decoded.claims)

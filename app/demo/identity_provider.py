"""A small OpenID Connect provider built with Authlib's server side, for the demo and the tests.

Like FranceConnect's demonstration providers, it signs in people who exist
only here: the demo lists the warehouse's personas (``app.demo.identity_views``),
the tests pick whom it signs in and make it misbehave (``tests/identity``).
It speaks the same protocol as FranceConnect: discovery, the authorization
code flow with PKCE (S256 only) and a required ``nonce``, the client
authenticated by its secret (``client_secret_post`` or ``_basic``), RS256
ID tokens signed with a key published at the JWKS endpoint, userinfo with
FranceConnect's claims, and an end-session endpoint taking ``id_token_hint``.

Everything is kept in memory: a restart forgets codes and tokens, and the
signing key too unless one is given.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import jsonify, redirect, request
from joserfc.jwk import RSAKey

from app.extensions import csrf

SCOPES: tuple[str, ...] = (
    *("openid", "given_name", "family_name", "birthdate", "gender", "birthplace"),
    *("birthcountry", "preferred_name", "email"),
)
CODE_SECONDS = 60
TOKEN_SECONDS = 60


@dataclass(frozen=True)
class Person:
    """Someone the provider can sign in: a pairwise ``sub`` and the claims it releases."""

    sub: str
    claims: Mapping[str, str]


@dataclass(frozen=True)
class Client:
    """A relying party registered with the provider."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    person: Person
    acr: str
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return self.acr

    def get_amr(self) -> list[str] | None:
        return None


@dataclass
class Provider:
    """The provider's state and behaviour; subclasses may misbehave (the tests do)."""

    issuer: str
    clients: dict[str, Client] = field(default_factory=dict)
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "demo-1"})
    )
    acr: str = "eidas2"
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, tuple[Person, str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = _Server(self)

    # What subclasses change to misbehave.
    def signing_key(self) -> RSAKey:
        return self.key

    def id_token_overrides(self, person: Person) -> dict[str, Any]:
        """Claims written over the ID token's last (a wrong nonce, an old exp...)."""
        return {}

    def userinfo_claims(self, person: Person, scope: str) -> dict[str, Any]:
        granted = set(scope.split())
        return {"sub": person.sub, **{k: v for k, v in person.claims.items() if k in granted}}

    def userinfo_response(self, person: Person, scope: str) -> Any:
        """The userinfo answer as JSON (FranceConnect v2 signs it: ``SignedUserinfo`` in tests)."""
        return jsonify(self.userinfo_claims(person, scope))

    # The protocol.
    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "end_session_endpoint": f"{base}/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", *SCOPES[1:]],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": ["eidas1", "eidas2", "eidas3"],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False, use="sig", alg="RS256")]}

    def validate_authorization(self, params: Mapping[str, str] | None = None) -> Any:
        """The authorization request, checked (client, redirect URI, PKCE S256, nonce).

        ``params``: the request's parameters kept from an earlier page, instead of
        those of the HTTP request being served.
        """
        request = None
        if params is not None:
            request = OAuth2Request("GET", f"{self.issuer}/authorize?{urlencode(params)}")
            request.payload = BasicOAuth2Payload(dict(params))
        grant = self.server.get_consent_grant(request=request)
        if grant.request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        return grant

    def authorize(self, person: Person | None, grant: Any = None) -> Any:
        """The redirect back to the client: with a code for ``person``, access_denied for None."""
        return self.server.create_authorization_response(grant_user=person, grant=grant)

    def token(self) -> Any:
        return self.server.create_token_response()

    def person_of_token(self, access_token: str) -> tuple[Person, str] | None:
        with self.lock:
            held = self.tokens.get(access_token)
        if held is None or held[2] < time.time():
            return None
        return held[0], held[1]

    def logout_target(self, args: Mapping[str, str]) -> str | None:
        """Where the end-session request sends the browser back, if it is allowed to."""
        target = args.get("post_logout_redirect_uri")
        if not target or not any(
            target in client.post_logout_redirect_uris for client in self.clients.values()
        ):
            return None
        state = args.get("state")
        return f"{target}?{urlencode({'state': state})}" if state else target


class _Server(AuthorizationServer):
    def __init__(self, provider: Provider) -> None:
        super().__init__(query_client=provider.clients.get, save_token=self._save_token)
        self.provider = provider
        self.load_config({"OAUTH2_TOKEN_EXPIRES_IN": {"authorization_code": TOKEN_SECONDS}})
        self.register_grant(_CodeGrant, [CodeChallenge(required=True), _OpenIDCode(self)])

    def create_oauth2_request(self, request: Any) -> Any:
        # A request rebuilt from kept parameters (``validate_authorization``) as it is.
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        with self.provider.lock:
            self.provider.tokens[token["access_token"]] = (
                request.user,
                token.get("scope", ""),
                time.time() + TOKEN_SECONDS,
            )


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

    @property
    def provider(self) -> Provider:
        return self.server.provider

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        with self.provider.lock:
            self.provider.codes[code] = Code(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                person=request.user,
                acr=self.provider.acr,
                auth_time=int(time.time()),
                expires_at=time.time() + CODE_SECONDS,
            )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        with self.provider.lock:
            found = self.provider.codes.get(code)
        if found is None or found.client_id != client.client_id or found.expires_at < time.time():
            return None
        return found

    def delete_authorization_code(self, authorization_code: Code) -> None:
        with self.provider.lock:
            self.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> Person:
        return authorization_code.person


class _OpenIDCode(OpenIDCode):
    def __init__(self, server: _Server) -> None:
        super().__init__(require_nonce=True)
        self.server = server

    @property
    def provider(self) -> Provider:
        return self.server.provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        with self.provider.lock:
            return any(code.nonce == nonce for code in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.signing_key()

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.provider.signing_key().kid)}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.provider.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + 60,
        }

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        # Like FranceConnect: the ID token says who (sub) and how (acr); userinfo says the rest.
        return UserInfo(sub=user.sub, **self.provider.id_token_overrides(user))


def add_protocol_routes(target: Any, provider_of: Callable[[], Provider]) -> None:
    """Discovery, token, JWKS, userinfo and end-session on a Flask app or blueprint.

    The authorization endpoint (``/authorize``) is the caller's: it is where a
    person is chosen, by a page (the demo) or by the test itself.
    """

    @target.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(provider_of().metadata())

    @target.get("/jwks")
    def jwks() -> Any:
        return jsonify(provider_of().jwks())

    @target.post("/token")
    def token() -> Any:
        return provider_of().token()

    @target.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Any:
        kind, _, value = request.headers.get("Authorization", "").partition(" ")
        held = provider_of().person_of_token(value) if kind.lower() == "bearer" else None
        if held is None:
            return jsonify(error="invalid_token"), 401, {"WWW-Authenticate": "Bearer"}
        return provider_of().userinfo_response(*held)

    @target.route("/logout", methods=["GET", "POST"])
    def logout() -> Any:
        target_uri = provider_of().logout_target(request.values)
        return redirect(target_uri, 303) if target_uri else ("Signed out.", 200)

    for view in (discovery, jwks, token, userinfo, logout):
        # Called by the portal's server, not by a browser with a form: no CSRF token.
        csrf.exempt(view)

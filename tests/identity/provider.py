"""A real OpenID Connect provider on loopback, in the test process, that can misbehave.

The same Authlib server as the demo's (``app.demo.identity_provider``), on a
plain Flask app served by werkzeug in a thread, on a free port. Its
authorization endpoint signs in ``who`` at once (``None``: the person
cancels); a test changes ``who``, ``overrides`` (claims written over the ID
token's: a wrong nonce, an old exp), ``rogue_key`` (sign with a key the JWKS
does not hold) or ``acr``, or stops the server (the provider is down).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

from app.demo.identity_provider import Client, Person, Provider, add_protocol_routes
from tests.conftest import free_port

CLIENT_ID = "portal-test"
CLIENT_SECRET = "test-secret-" + "s" * 32
PORTAL = "https://portal.example.org"


@dataclass
class TestProvider(Provider):
    __test__ = False
    who: Person | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    rogue_key: RSAKey | None = None
    userinfo_extra: dict[str, Any] = field(default_factory=dict)
    # Sign the userinfo answer as FranceConnect v2 does (application/jwt).
    signed_userinfo: bool = False

    def signing_key(self) -> RSAKey:
        return self.rogue_key or self.key

    def id_token_overrides(self, person: Person) -> dict[str, Any]:
        return dict(self.overrides)

    def userinfo_claims(self, person: Person, scope: str) -> dict[str, Any]:
        return {**super().userinfo_claims(person, scope), **self.userinfo_extra}

    def userinfo_response(self, person: Person, scope: str) -> Any:
        if not self.signed_userinfo:
            return super().userinfo_response(person, scope)
        claims = {"iss": self.issuer, "aud": CLIENT_ID, **self.userinfo_claims(person, scope)}
        header = {"alg": "RS256", "kid": self.signing_key().kid}
        body = jwt.encode(header, claims, self.signing_key())
        return body, 200, {"Content-Type": "application/jwt"}


class Running:
    """The provider, its server thread, and what the portal's settings need."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        client = Client(
            CLIENT_ID,
            CLIENT_SECRET,
            (f"{PORTAL}/identity/oidc/callback",),
            (f"{PORTAL}/identity/oidc/logged-out",),
        )
        self.provider = TestProvider(issuer=self.issuer, clients={CLIENT_ID: client})
        self.app = Flask("test_provider")
        add_protocol_routes(self.app, lambda: self.provider)
        self.app.add_url_rule("/authorize", "authorize", self._authorize)
        self.server: BaseWSGIServer | None = None
        self.start()

    def _authorize(self) -> Any:
        grant = self.provider.validate_authorization()
        return self.provider.authorize(self.provider.who, grant)

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def settings(self, **more: Any) -> dict[str, Any]:
        return {
            "OIDC_ENABLED": True,
            "OIDC_ISSUER": self.issuer,
            "OIDC_DISCOVERY_URL": f"{self.issuer}/.well-known/openid-configuration",
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_ACR_VALUES": "eidas2",
            "OIDC_TIMEOUT": 5,
            **more,
        }

"""The demo identity provider exists in demo mode only, and only when no real one is set."""

from __future__ import annotations

import threading

import requests

from app.demo.server import make_demo_server
from tests.conftest import free_port

PATHS = (
    "/demo/identity/.well-known/openid-configuration",
    "/demo/identity/jwks",
    "/demo/identity/authorize",
    "/demo/identity/choose",
    "/demo/identity/userinfo",
    "/demo/identity/logout",
)


def test_there_is_no_demo_provider_outside_the_demo(app):
    client = app.test_client()
    assert not app.config["OIDC_ENABLED"]
    for path in PATHS:
        assert client.get(path).status_code == 404, path
    assert client.post("/demo/identity/token").status_code in (400, 404)
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/demo/identity")]


def test_a_real_provider_replaces_the_demo_one(make_app, monkeypatch):
    monkeypatch.setenv("OIDC_ISSUER", "https://idp.example.org")
    monkeypatch.setenv("OIDC_CLIENT_ID", "portal")
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "s" * 32)
    app = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False)
    assert app.config["OIDC_DISCOVERY_URL"].startswith("https://idp.example.org/")
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/demo/identity")]


def test_the_demo_provider_serves_discovery_and_keys_on_the_demo_server(make_app, monkeypatch):
    for name in ("OIDC_ISSUER", "OIDC_DISCOVERY_URL", "OIDC_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "demo-secret-" + "d" * 32)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(PORTAL_ENV="demo", DEMO=True, SESSION_COOKIE_SECURE=False, PORTAL_BASE_URL=base)
    assert app.config["OIDC_DEMO_PROVIDER"] and app.config["OIDC_ENABLED"]
    assert app.config["OIDC_ISSUER"] == f"{base}/demo/identity"
    server = make_demo_server(app, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        metadata = requests.get(
            f"{base}/demo/identity/.well-known/openid-configuration", timeout=5
        ).json()
        assert metadata["issuer"] == f"{base}/demo/identity"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        keys = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
        assert [k["kty"] for k in keys] == ["RSA"] and "d" not in keys[0]
        # An authorization request from no registered client gets a page, not a code.
        answer = requests.get(
            metadata["authorization_endpoint"],
            params={"client_id": "stranger", "response_type": "code", "scope": "openid"},
            allow_redirects=False,
            timeout=5,
        )
        assert answer.status_code == 400
    finally:
        server.shutdown()
        server.server_close()

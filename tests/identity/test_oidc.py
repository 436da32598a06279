"""Proving one's identity with OpenID Connect, against a real provider on loopback.

The portal's Authlib client talks HTTP to ``tests.identity.provider``: the
same discovery, PKCE, signed ID tokens and userinfo as FranceConnect. Each
failure case checks that nothing changed: level, status, and no audit event
but a code-only ``identity.oidc_failed``.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey
from sqlalchemy import select

from app.demo.identity_views import person_of
from app.demo.personas import PERSONAS
from app.extensions import db
from app.identity import oidc
from app.models import AuditEvent, Request
from tests.conftest import birth_parts, csrf_from, file_form, link_in, run_jobs
from tests.identity.provider import CLIENT_ID, Running

# Camille's address on file is camille.lefevre@example.org: filing from another
# one leaves her request at the "email" level, waiting for a proof.
OTHER_ADDRESS = "camille.elsewhere@example.net"


def persona(number: int):
    return next(p for p in PERSONAS if p.person_id == number)


@pytest.fixture
def idp():
    running = Running()
    yield running
    running.stop()


@pytest.fixture
def oidc_app(make_app, smtp, idp):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, **idp.settings())


def file_waiting(app, smtp, client, number=1, address=OTHER_ADDRESS):
    """File as a persona from an address not on file, confirm, route: awaiting_identity."""
    p = persona(number)
    filing = {
        "kind": "access",
        "first_name": p.first_name,
        "last_name": p.last_name,
        **birth_parts(p.birth_date.isoformat()),
        "email": address,
        "nir": p.nir or "",
        "details": "",
    }
    file_form(client, filing)
    run_jobs(app)
    path = link_in(smtp.received.to(address)[-1])
    client.post(path, data={"csrf_token": csrf_from(client.get(path).data)})
    run_jobs(app)
    with app.app_context():
        request = db.session.scalar(select(Request).order_by(Request.id.desc()))
        assert request.status == "awaiting_identity" and request.assurance == "email"
        return request.id


def start(client):
    """Press the button on the status page: the redirect to the provider."""
    page = client.get("/status")
    assert page.status_code == 200
    answer = client.post("/identity/oidc/start", data={"csrf_token": csrf_from(page.data)})
    assert answer.status_code == 302, answer.status_code
    return answer.headers["Location"]


def at_provider(location):
    """The browser at the provider: it answers with the redirect back to the portal."""
    answer = requests.get(location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/identity/oidc/callback"
    return f"{back.path}?{back.query}"


def sign_in(client, idp, number=1):
    idp.provider.who = person_of(persona(number), CLIENT_ID)
    return client.get(at_provider(start(client)))


def state_of(app, request_id):
    with app.app_context():
        request = db.session.get(Request, request_id)
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        ).all()
        return request.status, request.assurance, [(e.action, e.details) for e in events]


def assert_unchanged(app, request_id, before, reason_prefix):
    status, level, events = state_of(app, request_id)
    assert (status, level) == before[:2]
    new = events[len(before[2]) :]
    assert [action for action, _ in new] == ["identity.oidc_failed"]
    assert new[0][1]["reason"].startswith(reason_prefix), new[0][1]
    assert set(new[0][1]) == {"reason"}


def test_the_button_is_shown_only_when_configured(make_app, smtp, idp):
    for settings, shown in (({}, False), (idp.settings(), True)):
        app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, **settings)
        client = app.test_client()
        file_waiting(app, smtp, client, address=f"x{int(shown)}@example.net")
        page = client.get("/status").get_data(as_text=True)
        assert ("/identity/oidc/start" in page) is shown
        if not shown:
            assert client.post("/identity/oidc/start").status_code in (400, 404)


def test_a_matching_sign_in_raises_the_level_and_the_request_goes_on(oidc_app, smtp, idp, caplog):
    caplog.set_level(logging.DEBUG)
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    location = start(client)
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["acr_values"] == ["eidas2"]
    assert query["redirect_uri"] == ["https://portal.example.org/identity/oidc/callback"]
    assert set(query["scope"][0].split()) >= {"openid", "given_name", "family_name", "birthdate"}

    idp.provider.who = person_of(persona(1), CLIENT_ID)
    answer = client.get(at_provider(location))
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/status")
    page = client.get("/status").get_data(as_text=True)
    assert "a confirmé votre identité" in page

    status, level, events = state_of(oidc_app, request_id)
    assert (status, level) == ("received", "oidc")
    actions = [a for a, _ in events]
    assert "identity.oidc" in actions and "identity.assurance" in actions
    proof = dict(events)["identity.oidc"]
    assert proof == {"outcome": "match", "acr": "eidas2"}
    run_jobs(oidc_app)
    status, level, _ = state_of(oidc_app, request_id)
    assert (status, level) == ("triage", "oidc")
    page = client.get("/status").get_data(as_text=True)
    assert "Ce que nous avons trouvé et ce qui va se passer" in page

    # Nothing of the claims anywhere: not in the audit, the logs, the request.
    claims = person_of(persona(1), CLIENT_ID).claims
    ours = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("app", "authlib.integrations"))
    )
    dumped = json.dumps([d for _, d in events]) + ours
    for value in ("Marie Anne", claims["birthdate"], claims["birthplace"], "given_name"):
        assert value not in dumped
    assert "code=" not in ours and "code_verifier" not in ours


def test_a_signed_userinfo_answer_is_verified(oidc_app, smtp, idp):
    """FranceConnect v2 signs userinfo: read with the provider's keys, iss and aud checked."""
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    idp.provider.signed_userinfo = True
    sign_in(client, idp)
    assert state_of(oidc_app, request_id)[:2] == ("received", "oidc")


def test_a_signed_userinfo_for_another_client_is_refused(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    idp.provider.signed_userinfo = True
    idp.provider.userinfo_extra = {"aud": "another-client"}
    before = state_of(oidc_app, request_id)
    sign_in(client, idp)
    assert_unchanged(oidc_app, request_id, before, "userinfo_invalid_claim")


def test_half_a_configuration_is_refused_at_start():
    from config import ConfigError, load_config

    env = {"PORTAL_ENV": "test", "OIDC_ISSUER": "https://idp.example.org"}
    with pytest.raises(ConfigError) as error:
        load_config(env)
    assert "OIDC_CLIENT_ID" in str(error.value) and "OIDC_CLIENT_SECRET" in str(error.value)
    assert load_config({"PORTAL_ENV": "test"})["OIDC_ENABLED"] is False
    full = {**env, "OIDC_CLIENT_ID": "portal", "OIDC_CLIENT_SECRET": "s" * 32}
    settings = load_config(full)
    assert settings["OIDC_DISCOVERY_URL"] == (
        "https://idp.example.org/.well-known/openid-configuration"
    )
    assert settings["OIDC_PROVIDER_NAME"] == "FranceConnect"
    assert "birthcountry" in settings["OIDC_SCOPES"]
    with pytest.raises(ConfigError, match="openid"):
        load_config({**full, "OIDC_SCOPES": "given_name"})


def test_several_first_names_match_the_first_or_all_of_them():
    identity = oidc.Identity("Jean-Baptiste", "Santoni", "1962-09-30", "162092A004117")
    base = {
        "family_name": "SANTONI",
        "birthdate": "1962-09-30",
        "gender": "male",
        "birthplace": "2A004",
        "birthcountry": "99100",
    }
    for given in ("Jean-Baptiste Pierre", "jean baptiste", "JEAN-BAPTISTE"):
        assert oidc.compare(oidc.Claims.of({**base, "given_name": given}), identity) is None
    claims = oidc.Claims.of({**base, "given_name": "Pierre Jean-Baptiste"})
    assert oidc.compare(claims, identity) == "given_name_differs"
    whole = oidc.Identity("Jean-Baptiste Pierre", "Santoni", "1962-09-30")
    assert (
        oidc.compare(oidc.Claims.of({**base, "given_name": "Jean-Baptiste Pierre"}), whole) is None
    )
    for field, value, reason in (
        ("gender", "female", "gender_differs"),
        ("birthplace", "75056", "birthplace_differs"),
        ("birthdate", "1962-09-29", "birthdate_differs"),
        ("family_name", "Santini", "family_name_differs"),
        ("family_name", "", "claims_missing"),
    ):
        claims = oidc.Claims.of({**base, "given_name": "Jean-Baptiste", field: value})
        assert oidc.compare(claims, identity) == reason
    # The name in use, when the provider gives it, also fits.
    married = oidc.Identity("Camille", "Dubois", "1978-05-14")
    claims = {**base, "given_name": "Camille", "family_name": "Lefèvre", "birthdate": "1978-05-14"}
    assert oidc.compare(oidc.Claims.of({**claims, "preferred_name": "DUBOIS"}), married) is None
    assert oidc.compare(oidc.Claims.of(claims), married) == "family_name_differs"
    assert "Santoni" not in repr(oidc.Claims.of(base)) + repr(identity)


def test_claims_that_do_not_match_send_the_request_to_staff(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    answer = sign_in(client, idp, number=4)  # Marie Martin signs in on Camille's request
    assert answer.status_code == 303
    page = client.get("/status").get_data(as_text=True)
    assert "n’est pas celle de votre demande" in page or "n'est pas celle de votre demande" in page
    status, level, events = state_of(oidc_app, request_id)
    assert (status, level) == ("identity_review", "email")
    assert dict(events)["identity.oidc"] == {"outcome": "given_name_differs", "acr": "eidas2"}
    assert dict(events)["identity.refused"] == {"reason": "oidc_claims_differ"}
    assert "Ce que nous avons trouvé" not in page


def test_a_replayed_or_unknown_state_is_refused(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    idp.provider.who = person_of(persona(1), CLIENT_ID)
    callback = at_provider(start(client))
    before = state_of(oidc_app, request_id)
    client.get(callback.replace("state=", "state=x"))
    assert "a expiré ou a déjà été utilisée" in client.get("/status").get_data(as_text=True)
    assert_unchanged(oidc_app, request_id, before, "state")

    # The genuine answer uses its state up, even when its token is then refused...
    idp.provider.overrides = {"nonce": "not-the-one-sent"}
    before = state_of(oidc_app, request_id)
    client.get(callback)
    assert_unchanged(oidc_app, request_id, before, "id_token")
    # ... so that replaying it, the provider behaving again, is refused before any exchange.
    idp.provider.overrides = {}
    before = state_of(oidc_app, request_id)
    client.get(callback)
    assert_unchanged(oidc_app, request_id, before, "state")

    # Another browser replaying someone's callback holds no state and follows no request.
    stranger = oidc_app.test_client()
    before = state_of(oidc_app, request_id)
    assert stranger.get(callback).status_code == 303
    assert state_of(oidc_app, request_id) == before
    with oidc_app.app_context():
        assert (
            db.session.scalar(
                select(AuditEvent).where(
                    AuditEvent.request_id.is_(None), AuditEvent.action.like("identity%")
                )
            )
            is None
        )


def test_a_callback_is_used_once(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    idp.provider.who = person_of(persona(1), CLIENT_ID)
    callback = at_provider(start(client))
    client.get(callback)
    before = state_of(oidc_app, request_id)
    assert before[:2] == ("received", "oidc")
    client.get(callback)
    assert_unchanged(oidc_app, request_id, before, "session")


@pytest.mark.parametrize(
    ("misbehaviour", "reason"),
    [
        ({"overrides": {"nonce": "not-the-one-sent"}}, "id_token_invalid_claim"),
        (
            {"overrides": {"exp": int(time.time()) - 600, "iat": int(time.time()) - 700}},
            "id_token_expired_token",
        ),
        ({"overrides": {"aud": ["another-client"]}}, "id_token_"),
        ({"overrides": {"iss": "https://impostor.example"}}, "id_token_invalid_claim"),
        ({"rogue_key": "same kid"}, "id_token_bad_signature"),
        ({"rogue_key": "other kid"}, "id_token"),
        ({"acr": "eidas1"}, "acr_insufficient"),
        ({"userinfo_extra": {"sub": "someone-else"}}, "userinfo_subject"),
    ],
    ids=[
        "wrong-nonce",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "other-key",
        "unknown-key",
        "weak-acr",
        "userinfo-of-another",
    ],
)
def test_a_token_that_fails_a_check_changes_nothing(oidc_app, smtp, idp, misbehaviour, reason):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    provider = idp.provider
    for name, value in misbehaviour.items():
        if name == "rogue_key":
            kid = provider.key.kid if value == "same kid" else "rogue"
            value = RSAKey.generate_key(2048, parameters={"kid": kid})
        setattr(provider, name, value)
    before = state_of(oidc_app, request_id)
    answer = sign_in(client, idp)
    assert answer.status_code == 303
    page = client.get("/status").get_data(as_text=True)
    assert "Nous n’avons pas pu vérifier" in page or "Nous n'avons pas pu vérifier" in page
    assert_unchanged(oidc_app, request_id, before, reason)


def test_a_discovery_document_of_another_issuer_is_refused(make_app, smtp, idp):
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        **idp.settings(OIDC_ISSUER="https://franceconnect.example"),
    )
    client = app.test_client()
    request_id = file_waiting(app, smtp, client)
    before = state_of(app, request_id)
    page = client.get("/status")
    client.post("/identity/oidc/start", data={"csrf_token": csrf_from(page.data)})
    assert_unchanged(app, request_id, before, "issuer_mismatch")


def test_a_cancelled_sign_in_changes_nothing(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    before = state_of(oidc_app, request_id)
    idp.provider.who = None
    callback = at_provider(start(client))
    client.get(callback)
    assert "Vous avez annulé" in client.get("/status").get_data(as_text=True)
    assert_unchanged(oidc_app, request_id, before, "cancelled")
    # Its state is used up: an answer with a code under it later is refused.
    state = parse_qs(urlsplit(callback).query)["state"][0]
    before = state_of(oidc_app, request_id)
    client.get(f"/identity/oidc/callback?code=forged&state={state}")
    assert_unchanged(oidc_app, request_id, before, "state")


def test_the_provider_down_changes_nothing(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    request_id = file_waiting(oidc_app, smtp, client)
    before = state_of(oidc_app, request_id)
    idp.stop()
    page = client.get("/status")
    answer = client.post("/identity/oidc/start", data={"csrf_token": csrf_from(page.data)})
    assert answer.status_code == 303
    assert "ne peut pas être joint" in client.get("/status").get_data(as_text=True)
    assert_unchanged(oidc_app, request_id, before, "provider_down")

    # Down between the redirect and the code exchange.
    idp.start()
    idp.provider.who = person_of(persona(1), CLIENT_ID)
    callback = at_provider(start(client))
    idp.stop()
    before = state_of(oidc_app, request_id)
    client.get(callback)
    assert "ne peut pas être joint" in client.get("/status").get_data(as_text=True)
    assert_unchanged(oidc_app, request_id, before, "provider_down")


def test_the_provider_session_can_be_ended(oidc_app, smtp, idp):
    client = oidc_app.test_client()
    file_waiting(oidc_app, smtp, client)
    sign_in(client, idp)
    page = client.get("/status")
    text = page.get_data(as_text=True)
    assert "/identity/oidc/logout" in text
    assert idp.issuer in page.headers["Content-Security-Policy"]
    answer = client.post("/identity/oidc/logout", data={"csrf_token": csrf_from(page.data)})
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.netloc == urlsplit(idp.issuer).netloc and target.path == "/logout"
    assert "id_token_hint" in parse_qs(target.query)
    back = requests.get(answer.headers["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 303
    returned = urlsplit(back.headers["Location"])
    assert returned.path == "/identity/oidc/logged-out"
    client.get(f"{returned.path}?{returned.query}")
    text = client.get("/status").get_data(as_text=True)
    assert "Vous êtes déconnecté" in text
    assert "/identity/oidc/logout" not in text

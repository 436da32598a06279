"""The demo identity provider's pages: pick a demo persona to sign in as (demo mode only).

Registered by ``create_app`` only when ``PORTAL_ENV=demo`` and no real
provider is configured; ``make demo`` then points the portal's OpenID Connect
client at ``/demo/identity`` on the same server. Like FranceConnect's
demonstration providers, it lists fictitious people and signs in whichever is
chosen, with real signed tokens: choosing someone other than the request's
person shows what happens when the claims differ.
"""

from __future__ import annotations

import hashlib
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.demo.identity_provider import Client, Person, Provider, add_protocol_routes
from app.demo.personas import PERSONAS, Persona

bp = Blueprint("demo_identity", __name__, url_prefix="/demo/identity")
EXTENSION = "demo_identity_provider"
PENDING = "demo_identity_request"
# A few personas have several first names, as FranceConnect gives them all.
MORE_FIRST_NAMES = {1: "Camille Marie Anne", 8: "Jean-Baptiste Pierre", 12: "Thomas Louis"}


def claims_of(persona: Persona) -> dict[str, str]:
    """What a real provider would release for this persona, from the warehouse's data."""
    nir = persona.nir or ""
    born_abroad = nir[5:7] == "99"
    return {
        "given_name": MORE_FIRST_NAMES.get(persona.person_id, persona.first_name),
        "family_name": persona.last_name,
        "birthdate": persona.birth_date.isoformat(),
        "gender": {"F": "female", "M": "male"}[persona.sex],
        "birthplace": nir[5:10] if nir and not born_abroad else "",
        "birthcountry": nir[5:10] if born_abroad else "99100",
    }


def person_of(persona: Persona, client_id: str) -> Person:
    # Pairwise, as FranceConnect's: the same person has another sub at another client.
    sub = hashlib.sha256(f"{client_id}:{persona.person_id}".encode()).hexdigest()
    return Person(sub=sub, claims=claims_of(persona))


def provider() -> Provider:
    """The provider of this app, built at first use with the portal's own client registered."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        base = current_app.config["PORTAL_BASE_URL"]
        client = Client(
            client_id=current_app.config["OIDC_CLIENT_ID"],
            client_secret=current_app.config["OIDC_CLIENT_SECRET"],
            redirect_uris=(base + "/identity/oidc/callback",),
            post_logout_redirect_uris=(base + "/identity/oidc/logged-out",),
        )
        found = Provider(
            issuer=current_app.config["OIDC_ISSUER"], clients={client.client_id: client}
        )
        current_app.extensions[EXTENSION] = found
    assert isinstance(found, Provider)
    return found


add_protocol_routes(bp, provider)


def _problem() -> tuple[str, int]:
    return render_template("demo/identity.html", problem=True), 400


@bp.get("/authorize")
def authorize() -> Response | tuple[str, int]:
    """Check the portal's request, then show the personas on a page of its own."""
    try:
        provider().validate_authorization()
    except OAuth2Error:
        return _problem()
    # Kept for the page, whose language switch reloads it without the query string.
    session[PENDING] = request.args.to_dict()
    return redirect(url_for(".choose"), 303)


@bp.get("/choose")
def choose() -> str | tuple[str, int]:
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return _problem()
    personas = [(p, claims_of(p)) for p in PERSONAS]
    return render_template("demo/identity.html", pending=pending, personas=personas)


@bp.post("/authorize")
def sign_in() -> Any:
    """The persona chosen (or the sign-in cancelled): back to the portal with a code."""
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict):
        return _problem()
    try:
        grant = provider().validate_authorization(pending)
    except OAuth2Error:
        return _problem()
    chosen = request.form.get("persona", "")
    persona = next((p for p in PERSONAS if str(p.person_id) == chosen), None)
    client_id = grant.request.payload.client_id
    return provider().authorize(
        person_of(persona, client_id) if persona is not None else None, grant
    )

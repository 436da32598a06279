"""The privacy notice and the legal notice: the operator named, linked from every public page."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup


def _text(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return BeautifulSoup(response.data, "html.parser").get_text(" ")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_privacy_notice_names_the_controller_dpo_retention_and_cnil(make_app, lang):
    """Controller, DPO, basis, retention, recipients and the CNIL, from the settings."""
    app = make_app(
        CONTROLLER_NAME="Hôpital Exemple",
        CONTROLLER_ADDRESS="1 rue Exemple, 75001 Paris",
        CONTACT_EMAIL="dpo@hopital.example",
        HOSTING_PROVIDER="Hébergeur Exemple",
    )
    client = app.test_client()
    text = _text(client, f"/privacy?lang={lang}")
    for value in ("Hôpital Exemple", "1 rue Exemple, 75001 Paris", "dpo@hopital.example"):
        assert value in text
    assert "Hébergeur Exemple" in text and "CNIL" in text
    french = lang == "fr"
    assert ("RGPD art. 6.1.c" if french else "GDPR Art. 6(1)(c)") in text
    assert ("5 ans" if french else "5 years") in text
    assert ("Politique de confidentialité" if french else "Privacy notice") in text
    page = client.get("/privacy").get_data(as_text=True)
    assert 'href="https://www.cnil.fr/fr/plaintes"' in page


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_legal_notice_names_publisher_director_and_host(make_app, lang):
    """Publisher with its address, publication director and hosting provider (LCEN art. 6)."""
    app = make_app(
        CONTROLLER_NAME="Hôpital Exemple",
        PUBLICATION_DIRECTOR="Jeanne Exemple",
        HOSTING_PROVIDER="Hébergeur Exemple, 2 rue Exemple",
    )
    text = _text(app.test_client(), f"/legal?lang={lang}")
    for value in ("Hôpital Exemple", "Jeanne Exemple", "Hébergeur Exemple, 2 rue Exemple"):
        assert value in text
    assert ("Mentions légales" if lang == "fr" else "Legal notice") in text


@pytest.mark.parametrize("path", ["/", "/status/link", "/accessibility", "/privacy", "/legal"])
def test_every_public_page_links_both_notices_from_its_footer(client, path):
    """The footer of each public page links the privacy notice and the legal notice."""
    soup = BeautifulSoup(client.get(path).data, "html.parser")
    links = [a["href"] for a in soup.select("footer a")]
    assert "/privacy" in links and "/legal" in links

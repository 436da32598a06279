"""How the status is named while only the relationship's proofs are awaited (issue 18).

A request made for someone else waits in ``awaiting_identity`` until both the
requester's own identity and the relationship are proven. Once the identity is
proven, the requester and staff read that the relationship's documents are
awaited, not the identity (``app.identity.assurance.shown_status``); no new
status value is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pytest
from bs4 import BeautifulSoup

from app.identity import assurance
from app.services import services_of
from tests.conftest import VALID_FILING
from tests.identity.kit import prove
from tests.representation.kit import FILINGS, file_and_verify, request_of, send_proof
from tests.staffkit import staff_client

IDENTITY_FR = "En attente de la preuve de votre identité"
RELATIONSHIP_FR = "En attente des justificatifs du lien avec la personne"
RELATIONSHIP_EN = "Waiting for the documents proving your relationship to the person"
STAFF_IDENTITY_FR = "En attente d’une preuve d’identité du demandeur"
STAFF_RELATIONSHIP_FR = "En attente des justificatifs du lien entre le demandeur et la personne"


def _summary_status(page: bytes) -> str:
    """What the summary's "Status" (Statut) entry says."""
    soup = BeautifulSoup(page, "html.parser")
    for entry in soup.select("dl.summary div, dl div"):
        term = entry.find("dt")
        if term is not None and term.get_text(strip=True) in ("Statut", "Status"):
            return " ".join(entry.find("dd").get_text(" ", strip=True).split())
    raise AssertionError("no status in the summary")


def _queue_status(page: bytes, reference: str) -> str:
    soup = BeautifulSoup(page, "html.parser")
    link = soup.find("a", string=re.compile(re.escape(reference)))
    assert link is not None, reference
    row = link.find_parent("tr")
    cells = [" ".join(td.get_text(" ", strip=True).split()) for td in row.find_all("td")]
    return next(c for c in cells if c.startswith("En attente"))


def test_the_identity_first_then_the_relationship_alone(app):
    data = FILINGS["heir"]
    client, request_id, reference = file_and_verify(app, data)
    agent, _ = staff_client(app, "agent@example.org", "agent")
    # Neither proven yet: the identity is named, as for anyone.
    assert _summary_status(client.get("/status").data) == IDENTITY_FR
    assert _summary_status(agent.get(f"/staff/cases/{reference}").data) == STAFF_IDENTITY_FR
    assert _queue_status(agent.get("/staff/queue").data, reference) == STAFF_IDENTITY_FR
    assert "(en attente d’un justificatif d’identité)" in agent.get(
        f"/staff/cases/{reference}"
    ).get_data(as_text=True)

    prove(app, request_id)
    found = request_of(app, data["email"])
    assert found.status == "awaiting_identity"  # the stored status does not change
    assert assurance.shown_status(services_of(app).assurance, found) == "awaiting_relationship"
    assert _summary_status(client.get("/status").data) == RELATIONSHIP_FR
    assert _summary_status(client.get("/status?lang=en").data) == RELATIONSHIP_EN
    client.get("/status?lang=fr")
    assert _summary_status(agent.get(f"/staff/cases/{reference}").data) == STAFF_RELATIONSHIP_FR
    assert _queue_status(agent.get("/staff/queue").data, reference) == STAFF_RELATIONSHIP_FR
    case_page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "(en attente des justificatifs du lien avec la personne)" in case_page
    assert "(en attente d’un justificatif d’identité)" not in case_page
    english = agent.get(f"/staff/cases/{reference}?lang=en")
    assert _summary_status(english.data) == (
        "Waiting for the documents proving the requester's relationship to the person"
    )
    agent.get("/staff/queue?lang=fr")

    # One document sent, the other not yet; then both sent, to be checked: still the same.
    assert send_proof(client, "death_certificate").status_code == 303
    assert _summary_status(client.get("/status").data) == RELATIONSHIP_FR
    assert send_proof(client, "heir_proof").status_code == 303
    assert request_of(app, data["email"]).relationship_proof == "submitted"
    assert _summary_status(client.get("/status").data) == RELATIONSHIP_FR


def test_a_request_for_oneself_still_waits_for_the_identity(app):
    client, _, _ = file_and_verify(app, {**VALID_FILING, "email": "self@example.fr"})
    assert _summary_status(client.get("/status").data) == IDENTITY_FR


@dataclass(frozen=True)
class _Row:
    kind: str = "access"
    status: str = "awaiting_identity"
    assurance: str = "document"
    disputed_at: datetime | None = None
    acts_as: str = "heir"
    relationship_proof: str | None = "awaited"


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        (_Row(), "awaiting_relationship"),
        (_Row(relationship_proof="submitted"), "awaiting_relationship"),
        (_Row(relationship_proof="refused"), "awaiting_relationship"),
        (_Row(assurance="email"), "awaiting_identity"),  # the identity first
        (_Row(disputed_at=datetime(2026, 1, 1)), "awaiting_identity"),  # a dispute: identity
        (_Row(acts_as="self", relationship_proof=None), "awaiting_identity"),
        (_Row(status="triage", relationship_proof="accepted"), "triage"),
        (_Row(status="in_review"), "in_review"),
    ],
)
def test_shown_status_derives_from_the_stored_fields(app, row, shown):
    assert assurance.shown_status(services_of(app).assurance, row) == shown


def test_the_case_page_words_the_proofs_for_staff(app):
    """The requester reads "votre qualité d’ayant droit"; staff read about the requester."""
    client, _, reference = file_and_verify(app, FILINGS["heir"])
    assert "Preuve de votre qualité d’ayant droit" in client.get("/status").get_data(as_text=True)
    agent, _ = staff_client(app, "agent@example.org", "agent")
    page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
    assert "Preuve de la qualité d’ayant droit du demandeur" in page
    assert "Preuve de votre qualité d’ayant droit" not in page
    _, _, mandate = file_and_verify(app, FILINGS["mandatary"])
    page = agent.get(f"/staff/cases/{mandate}").get_data(as_text=True)
    assert "qui charge le demandeur d’exercer ce droit pour elle" in page
    assert "Pièce d’identité de la personne qui a donné le mandat" in page
    assert "vous mandate" not in page and "qui vous charge" not in page

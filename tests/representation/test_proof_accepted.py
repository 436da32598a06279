"""One proof of two accepted: the requester is told which, and what is still awaited (once).

A request made for someone else needs the requester's own identity and the
relationship's documents. Whichever staff accept first, the status page then
asks for the other only; the requester gets one email saying what was
accepted and what is awaited, in their language, queued with the decision
(``assurance.PROOF_ACCEPTED_EMAIL``). The second acceptance moves the request
on with its own email.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Request
from tests.conftest import VALID_FILING, text_of
from tests.identity import files
from tests.identity.kit import prove, upload
from tests.representation.kit import FILINGS, decide_all, file_and_verify, forms_for, request_of
from tests.representation.kit import send_proof as send_relationship_proof
from tests.staffkit import mail_to, staff_client

IDENTITY_ACCEPTED = {
    "fr": "Votre demande {ref}\u00a0: votre identité est confirmée",
    "en": "Your request {ref}: your identity is confirmed",
}
RELATIONSHIP_ACCEPTED = {
    "fr": "Votre demande {ref}\u00a0: votre lien avec la personne est accepté",
    "en": "Your request {ref}: your relationship to the person is accepted",
}
STILL_RELATIONSHIP = {
    "fr": "Il nous faut encore les justificatifs de votre lien avec la personne que vous "
    "représentez.",
    "en": "We still need the documents proving your relationship to the person you act for.",
}
STILL_IDENTITY = {
    "fr": "Il nous faut encore la preuve de votre propre identité.",
    "en": "We still need proof of your own identity.",
}


def _in_locale(app, request_id: int, locale: str) -> None:
    with app.app_context():
        db.session.execute(update(Request).where(Request.id == request_id).values(locale=locale))
        db.session.commit()
        db.session.remove()


def _accept_identity(agent, reference: str) -> dict[str, str]:
    """Accept the waiting identity document from the case page; the form, to send again."""
    action = f"/staff/cases/{reference}/identity-document/accept"
    [fields] = forms_for(agent.get(f"/staff/cases/{reference}").data, action)
    assert agent.post(action, data=fields).status_code == 303
    return fields


def _subjects(app, address: str) -> list[str]:
    return [str(m["Subject"]) for m in mail_to(app, address)]


def _send_every_proof(client, acts_as: str) -> None:
    codes = {"parent": ["family_record_book"], "guardian": ["guardianship_judgment"]}[acts_as]
    for code in codes:
        assert send_relationship_proof(client, code).status_code == 303


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_identity_first_then_the_relationship(app, locale):
    """Identity accepted: one email that asks for the relationship; then the relationship."""
    data = FILINGS["guardian"]
    client, request_id, reference = file_and_verify(app, data)
    _in_locale(app, request_id, locale)
    before = _subjects(app, data["email"])
    assert upload(client, files.png(), "identite.png", "image/png").status_code == 303
    agent, _ = staff_client(app, "agent@example.org", "agent")
    fields = _accept_identity(agent, reference)
    found = request_of(app, data["email"])
    assert found.assurance == "document" and found.status == "awaiting_identity"

    new = mail_to(app, data["email"])[len(before) :]
    assert [str(m["Subject"]) for m in new] == [IDENTITY_ACCEPTED[locale].format(ref=reference)]
    body = text_of(new[0])
    assert STILL_RELATIONSHIP[locale] in body
    assert "Paul" not in body and "Élodie" not in body  # neither the person nor the requester
    # The same decision sent again is refused by the version check: no second email.
    again = agent.post(f"/staff/cases/{reference}/identity-document/accept", data=fields)
    assert again.status_code in (409, 422)
    assert len(mail_to(app, data["email"])) == len(before) + 1

    _send_every_proof(client, "guardian")
    assert decide_all(agent, reference, accept=True) == 1
    last = mail_to(app, data["email"])[len(before) + 1 :]
    subjects = [str(m["Subject"]) for m in last]
    # The relationship's acceptance moves the request on, with its own news, not the identity's.
    assert subjects[0] == RELATIONSHIP_ACCEPTED[locale].format(ref=reference)
    assert IDENTITY_ACCEPTED[locale].format(ref=reference) not in subjects
    assert STILL_IDENTITY[locale] not in text_of(last[0])
    assert request_of(app, data["email"]).status in ("triage", "identity_review")


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_the_relationship_first_then_the_identity(app, locale):
    """Relationship accepted: one email that asks for the identity; the request stays waiting."""
    data = FILINGS["parent"]
    client, request_id, reference = file_and_verify(app, data)
    _in_locale(app, request_id, locale)
    before = _subjects(app, data["email"])
    _send_every_proof(client, "parent")
    agent, _ = staff_client(app, "agent@example.org", "agent")
    action = f"/staff/cases/{reference}/relationship-proof/accept"
    [fields] = forms_for(agent.get(f"/staff/cases/{reference}").data, action)
    assert agent.post(action, data=fields).status_code == 303
    found = request_of(app, data["email"])
    assert found.relationship_proof == "accepted"
    assert found.status == "awaiting_identity" and found.paused_at is not None

    new = mail_to(app, data["email"])[len(before) :]
    assert [str(m["Subject"]) for m in new] == [
        RELATIONSHIP_ACCEPTED[locale].format(ref=reference)
    ]
    assert STILL_IDENTITY[locale] in text_of(new[0])
    # Sent again, the decision is refused (the proof is gone, the version moved on).
    assert agent.post(action, data=fields).status_code in (409, 422)
    assert len(mail_to(app, data["email"])) == len(before) + 1

    assert upload(client, files.png(), "identite.png", "image/png").status_code == 303
    _accept_identity(agent, reference)
    last = [str(m["Subject"]) for m in mail_to(app, data["email"])[len(before) + 1 :]]
    assert last[0] == IDENTITY_ACCEPTED[locale].format(ref=reference)
    assert RELATIONSHIP_ACCEPTED[locale].format(ref=reference) not in last
    assert request_of(app, data["email"]).status in ("triage", "identity_review")


def test_a_request_for_oneself_gets_no_such_email(app):
    """For oneself, an accepted identity document sends the usual confirmation only."""
    data = {**VALID_FILING, "email": "self@example.fr"}
    client, _, reference = file_and_verify(app, data)
    before = len(mail_to(app, data["email"]))
    assert upload(client, files.png(), "identite.png", "image/png").status_code == 303
    agent, _ = staff_client(app, "agent@example.org", "agent")
    _accept_identity(agent, reference)
    new = [str(m["Subject"]) for m in mail_to(app, data["email"])[before:]]
    assert new[0] == IDENTITY_ACCEPTED["fr"].format(ref=reference)
    assert all("lien avec la personne" not in subject for subject in new)


def test_a_second_proof_of_identity_sends_nothing_more(app):
    """The identity already at its level (a sign-in after a document): no second email."""
    data = FILINGS["guardian"]
    _, request_id, reference = file_and_verify(app, data)
    before = len(mail_to(app, data["email"]))
    prove(app, request_id, "document")
    prove(app, request_id, "document")
    new = [str(m["Subject"]) for m in mail_to(app, data["email"])[before:]]
    assert new == [IDENTITY_ACCEPTED["fr"].format(ref=reference)]

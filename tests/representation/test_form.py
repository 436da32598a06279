"""The public form for a request made for someone else: fields, checks, what is filed."""

from __future__ import annotations

import json
from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Request
from app.services import services_of
from tests.conftest import VALID_FILING, birth_parts, file_form, post_form

PARENT = {
    **VALID_FILING,
    "kind": "access",
    "first_name": "Léa",
    "last_name": "Martin",
    **birth_parts("2015-03-02"),
    "nir": "",
    "email": "parent@example.fr",
    "for_whom": "other",
    "acts_as": "parent",
    "requester_first_name": "Élodie",
    "requester_last_name": "Martin",
    **birth_parts("1980-07-14", "requester_birth_date"),
}
HEIR = {
    **PARENT,
    **birth_parts("1940-01-05"),
    "acts_as": "heir",
    **birth_parts("2025-02-03", "died_on"),
    "heir_reason": "causes_of_death",
    "email": "heir@example.fr",
}


def _filed(app) -> list[Request]:
    with app.app_context():
        found = list(db.session.scalars(select(Request).order_by(Request.id)))
        db.session.expunge_all()
    return found


def test_a_parent_files_for_a_child_and_the_check_page_shows_every_answer(app, client):
    checked = post_form(client, "/", PARENT, action="/")
    assert checked.status_code == 200, checked.data[:3000]
    page = checked.data.decode()
    for shown in ("Léa", "Élodie", "Parent d’un enfant mineur", "Pour quelqu’un d’autre"):
        assert shown in page
    answer = file_form(client, PARENT)
    assert answer.status_code == 303
    [request] = _filed(app)
    assert (request.acts_as, request.relationship_proof) == ("parent", "awaited")
    assert (request.first_name, request.birth_date) == ("Léa", date(2015, 3, 2))
    assert request.heir_reason is None and request.subject_died_on is None
    with app.app_context():
        identity = json.loads(services_of(app).vault.decrypt(request.requester_encrypted))
        assert identity == {
            "first_name": "Élodie",
            "last_name": "Martin",
            "birth_date": "1980-07-14",
        }
        details = [e.details for e in db.session.scalars(select(AuditEvent))]
    assert "Élodie" not in json.dumps(details)


def test_an_heir_gives_the_date_of_death_and_a_reason(app, client):
    assert file_form(client, HEIR).status_code == 303
    [request] = _filed(app)
    assert (request.acts_as, request.heir_reason) == ("heir", "causes_of_death")
    assert request.subject_died_on == date(2025, 2, 3)


def test_for_oneself_the_other_fields_are_not_read(app, client):
    assert (
        file_form(
            client,
            {
                **VALID_FILING,
                "for_whom": "self",
                "acts_as": "heir",
                "requester_first_name": "1234",
            },
        ).status_code
        == 303
    )
    [request] = _filed(app)
    assert (request.acts_as, request.relationship_proof, request.requester_encrypted) == (
        "self",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"acts_as": ""}, "Choisissez votre lien avec la personne."),
        ({"requester_first_name": ""}, "Saisissez votre prénom."),
        ({"requester_birth_date-year": ""}, "La date de naissance doit comprendre une année."),
        ({**birth_parts("1990-01-01")}, "moins de 18 ans"),
        (
            {"acts_as": "heir", **birth_parts("2025-02-03", "died_on")},
            "Choisissez pourquoi vous demandez les données de la personne décédée.",
        ),
        ({"acts_as": "heir", "heir_reason": "defend_memory"}, "Saisissez la date du décès."),
        (
            {
                "acts_as": "heir",
                "heir_reason": "defend_memory",
                **birth_parts("2010-01-01", "died_on"),
            },
            "La date du décès ne peut pas être antérieure à la date de naissance.",
        ),
        (
            {
                "acts_as": "heir",
                "heir_reason": "defend_memory",
                **birth_parts("2099-01-01", "died_on"),
            },
            "La date du décès ne peut pas être dans le futur.",
        ),
        (
            {"acts_as": "mandatary", "kind": "erasure"},
            "Un mandataire ne peut pas demander l’effacement",
        ),
        (
            {
                "acts_as": "heir",
                "heir_reason": "defend_memory",
                "kind": "erasure",
                **birth_parts("2025-01-01", "died_on"),
            },
            "seule une demande d’accès est possible",
        ),
        ({"for_whom": "nobody"}, "Choisissez pour qui est cette demande."),
        ({"requester_last_name": "Mar\u200btin"}, "Utilisez uniquement des lettres"),
        ({"requester_first_name": "x" * 101}, "Saisissez 100 caractères au maximum."),
    ],
)
def test_bad_answers_are_refused_with_a_message_and_nothing_is_filed(
    app, client, changes, message
):
    answer = post_form(client, "/", {**PARENT, **changes}, action="/")
    assert answer.status_code == 422
    assert message in answer.data.decode()
    assert _filed(app) == []


@pytest.mark.parametrize(
    "name", ["for_whom", "acts_as", "died_on", "heir_reason", "requester_birth_date"]
)
def test_each_answer_of_the_check_page_can_be_changed(app, client, name):
    """Change leads back to the form with every answer kept, for the new fields too."""
    from tests.conftest import send_data

    checked = post_form(client, "/", HEIR, action="/")
    assert checked.status_code == 200
    back = client.post("/request/send", data={**send_data(checked.data), "change": name})
    assert back.status_code == 200
    page = back.get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find("input", attrs={"name": "acts_as", "value": "heir"}).has_attr("checked")
    assert soup.find("input", attrs={"name": "requester_first_name"})["value"] == "Élodie"
    assert _filed(app) == []

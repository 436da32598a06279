"""Strict subject matching: the cases docs/legal.md names, on the demo warehouse's personas."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from app.demo.personas import PERSONAS
from app.rules.matching import (
    MATCHED,
    NO_MATCH,
    REVIEW,
    Applicant,
    Candidate,
    choose,
    normalize_name,
)
from app.rules.routing import compute
from app.services import services_of


def persona(first: str, email_end: str = ""):
    return next(
        p for p in PERSONAS if p.first_name == first and (p.email or "").endswith(email_end)
    )


def applicant(p, **changes) -> Applicant:
    values = {
        "last_name": p.last_name,
        "first_name": p.first_name,
        "birth_date": p.birth_date,
        "email": p.email or "someone@example.org",
        "nir": p.nir,
        **changes,
    }
    return Applicant(**values)


@pytest.fixture
def match(make_app):
    """Match an applicant in the hospital source of the demo warehouse."""
    app = make_app()
    services = services_of(app)
    source = services.catalogue.source("hospital")

    def _match(who: Applicant):
        with services.warehouse.engine(source).connect() as connection:
            return services.warehouse.match(connection, source, who)

    return _match


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("LEFEVRE DUBOIS", "Lefèvre-Dubois"),
        ("lefèvre-dubois", "Lefèvre-Dubois"),
        ("N’Diaye", "N'Diaye"),
        ("NDIAYE", "N'Diaye"),
        ("Jean Baptiste", "Jean-Baptiste"),
        ("OEUVRAY", "Œuvray"),
        ("Maelys", "Maëlys"),
    ],
)
def test_names_fold_accents_case_hyphens_apostrophes_and_ligatures(typed, stored):
    """What people type and what a source stores compare equal once folded."""
    assert normalize_name(typed) == normalize_name(stored)


def test_different_names_stay_different():
    """Folding never merges names that differ by a letter."""
    assert normalize_name("Martin") != normalize_name("Martine")
    assert normalize_name("Zoé") != normalize_name("Zoë Ann")


def test_the_number_and_birth_date_find_the_person(match):
    """Camille with her number and birth date is found, however her name is typed."""
    camille = persona("Camille")
    found = match(applicant(camille, last_name="LEFEVRE DUBOIS", first_name="camille"))
    assert (found.outcome, found.key) == (MATCHED, camille.person_id)


def test_a_number_shared_with_a_dependant_goes_to_identity_review(match):
    """Karim and his daughter Inès share his number: neither is matched by a guess."""
    karim, ines = persona("Karim"), persona("Inès")
    assert karim.nir == ines.nir
    assert match(applicant(karim)).reason == "shared_number"
    found = match(applicant(ines, nir=karim.nir, email="ines@example.org"))
    assert (found.outcome, found.reason) == (REVIEW, "shared_number")


def test_homonyms_are_told_apart_by_their_email_without_a_number(match):
    """Two Marie Martin born the same day: the email decides, whatever its case."""
    org, net = persona("Marie", ".org"), persona("Marie", ".net")
    assert (org.last_name, org.birth_date) == (net.last_name, net.birth_date)
    assert match(applicant(org, nir=None)).key == org.person_id
    assert match(applicant(net, nir=None, email="Marie.Martin@EXAMPLE.NET")).key == net.person_id


def test_homonyms_without_email_in_the_source_go_to_review(match):
    """Two Lucas Petit with no email on file: without a number, nobody is picked."""
    lucas = persona("Lucas")
    found = match(applicant(lucas, nir=None, email="lucas@example.org"))
    assert (found.outcome, found.reason) == (REVIEW, "email_unconfirmed")
    # With his number each is found.
    assert match(applicant(lucas)).key == lucas.person_id


def test_a_corsican_number_is_matched(match):
    """A number with 2A in the department position is found like any other."""
    santoni = persona("Jean-Baptiste")
    assert santoni.nir is not None and santoni.nir[5:7] == "2A"
    assert match(applicant(santoni)).key == santoni.person_id


def test_without_a_number_names_birth_date_and_email_match(match):
    """Zoé has no number: folded names, birth date and email in any case find her."""
    zoe = persona("Zoé")
    assert zoe.nir is None
    found = match(
        applicant(zoe, first_name="ZOE", last_name="N’DIAYE", email="zoe.ndiaye@example.org")
    )
    assert (found.outcome, found.key) == (MATCHED, zoe.person_id)


def test_a_wrong_email_is_never_matched_by_a_guess(match):
    """Right names and birth date but another address: a person checks, nothing is read."""
    zoe = persona("Zoé")
    found = match(applicant(zoe, email="someone.else@example.org"))
    assert (found.outcome, found.reason) == (REVIEW, "email_differs")


def test_nobody_found_is_the_no_data_path(match):
    """Someone the warehouse does not know is not matched."""
    stranger = Applicant("Inconnu", "Personne", date(1931, 2, 3), "nobody@example.org", None)
    assert match(stranger).outcome == NO_MATCH


def test_a_number_with_another_birth_date_goes_to_review(match):
    """The number exists, but not with this birth date: a typo or someone else's number."""
    camille = persona("Camille")
    found = match(applicant(camille, birth_date=date(1978, 5, 15)))
    assert (found.outcome, found.reason) == (REVIEW, "number_birth_date_mismatch")


def test_a_number_with_another_name_goes_to_review(match):
    """Number and birth date agree but the names do not: never a match."""
    camille = persona("Camille")
    found = match(applicant(camille, last_name="Durand"))
    assert (found.outcome, found.reason) == (REVIEW, "name_mismatch")


def test_a_contradicting_number_on_a_name_match_goes_to_review():
    """Names, birth date and email agree but the source holds another number."""
    born = date(1990, 1, 1)
    who = Applicant("Martin", "Marie", born, "m@example.org", "290011305521043")
    other = Candidate(1, "Martin", "Marie", born, "m@example.org", "290015935008763")
    assert choose(who, [], [other]).reason == "number_mismatch"


def test_lookups_use_indexes(make_app):
    """Every query routing sends searches by an index: no table scan whatever the size."""
    app = make_app()
    services = services_of(app)

    statements: list[tuple[str, tuple]] = []
    engine = services.warehouse.engine(services.catalogue.sources[0])

    def route(who: Applicant) -> None:
        compute(
            who,
            "erasure",
            catalogue=services.catalogue,
            policy=services.policy,
            warehouse=services.warehouse,
            today=date(2026, 11, 29),
        )

    route(applicant(persona("Camille")))  # reflects the tables once, outside the capture

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    for who in (applicant(persona("Camille")), applicant(persona("Zoé"))):
        route(who)
    event.remove(engine, "before_cursor_execute", _capture)
    assert len(statements) > 10
    with engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "SCAN" not in details.replace("USING INDEX", ""), (statement, details)
            assert "USING" in details, (statement, details)

"""``catalogue/representation.toml``: who may act for someone else, checked at start-up.

Each broken variant is a copy of the real file edited as a data protection
officer might get it wrong; the message names the file, the key and the fix,
and the portal refuses to start.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.models import HEIR_REASONS, KINDS, RELATIONSHIPS
from app.rules.catalogue import load_catalogue
from app.rules.policy import load_policy
from app.rules.representation import RepresentationError, load_representation
from app.services import services_of
from config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "catalogue" / "representation.toml"
TEXT = FILE.read_text(encoding="utf-8")
CATALOGUE = load_catalogue(ROOT / "catalogue" / "sources.toml", {"WAREHOUSE_URL": "sqlite://"})
POLICY = load_policy(ROOT / "catalogue" / "rules.toml", CATALOGUE.categories)


def edited(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) == 1, f"expected exactly one {old!r}"
    return text.replace(old, new)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "representation.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RepresentationError) as error:
        load_representation(path, CATALOGUE, POLICY)
    return error.value.problems


def test_the_real_file_decides_every_right_of_every_relationship():
    rules = load_representation(FILE, CATALOGUE, POLICY)
    assert set(rules.relationships) == set(RELATIONSHIPS) - {"self"}
    assert set(rules.reasons) == set(HEIR_REASONS)
    for kind in KINDS:
        assert rules.may_exercise("self", kind)
    # An heir asks for access, never erasure (CSP L.1110-4 V, R.1111-7).
    for code in ("heir", "partner"):
        assert rules.of(code).rights == {"access"}
        assert rules.of(code).subject_deceased
    assert not rules.may_exercise("mandatary", "erasure")
    assert rules.of("parent").rights == set(KINDS)
    assert [p.code for p in rules.of("mandatary").proofs] == ["mandate", "mandator_id"]
    for reason in rules.reasons.values():
        assert "social_security.reimbursement" not in reason.categories


def test_a_right_with_no_decision_is_named(tmp_path):
    text = edited(
        'rights = ["access", "portability", "objection", "rectification"]\nrefused = ["erasure"]',
        'rights = ["access", "portability", "objection", "rectification"]\nrefused = []',
    )
    assert problems_of(tmp_path, text) == [
        "representation.toml: relationships.mandatary: no decision for erasure. Put each "
        "right in rights (the relationship may exercise it) or in refused (it is refused "
        "with the refusal text)."
    ]


def test_an_unknown_category_is_named_with_the_known_ones(tmp_path):
    text = edited(
        'categories = ["hospital.medical_record", "hospital.transfusion"]',
        'categories = ["hospital.medical_record", "hospital.transfusions"]',
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(
        "representation.toml: reasons.assert_rights.categories: 'hospital.transfusions' "
        "is not in the catalogue. Known: care.exchange, "
    )


def test_an_heir_may_not_be_given_erasure(tmp_path):
    text = edited(
        'rights = ["access"]\nrefused = ["portability", "erasure", "objection", '
        '"rectification"]\nrefusal = { fr = "La loi permet aux ayants',
        'rights = ["access", "erasure"]\nrefused = ["portability", "objection", '
        '"rectification"]\nrefusal = { fr = "La loi permet aux ayants',
    )
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("representation.toml: relationships.heir.rights: erasure: ")
    assert "L.1110-4 V" in problem


def test_a_missing_relationship_reason_or_text_is_each_named(tmp_path):
    text = TEXT.replace("[reasons.defend_memory]", "[reasons.defend_memories]")
    text = text.replace("[relationships.guardian]", "[relationships.tutor]")
    text = text.replace("minor_secret = {", "minor_secrets = {")
    found = problems_of(tmp_path, text)
    for fragment in (
        "relationships.tutor: unknown relationship.",
        "relationships.guardian: missing.",
        "reasons.defend_memories: unknown reason.",
        "reasons.defend_memory: missing.",
        "texts.minor_secrets: unknown key. Did you mean 'minor_secret'?",
        "texts.minor_secret: must be a table with both languages",
    ):
        assert any(fragment in p for p in found), (fragment, found)


def test_an_unknown_proof_and_a_right_decided_twice_are_named(tmp_path):
    text = edited('proofs = ["guardianship_judgment"]', 'proofs = ["guardianship_order"]')
    text = edited(
        'rights = ["access", "portability", "objection", "rectification"]\nrefused = ["erasure"]',
        'rights = ["access", "portability", "objection", "rectification"]\n'
        'refused = ["erasure", "access"]',
        text,
    )
    found = problems_of(tmp_path, text)
    assert any(
        p.startswith(
            "representation.toml: relationships.guardian.proofs: unknown: guardianship_order."
        )
        for p in found
    ), found
    assert (
        "representation.toml: relationships.mandatary: access is both in rights and in "
        "refused: decide once." in found
    )


def test_the_portal_does_not_start_with_a_wrong_file(make_app, tmp_path):
    path = tmp_path / "representation.toml"
    path.write_text(TEXT.replace("[reasons.causes_of_death]", "[reasons.cause]"), "utf-8")
    with pytest.raises(ConfigError, match=re.escape("the representation rules are wrong")) as e:
        make_app(REPRESENTATION_FILE=str(path))
    assert "representation.toml: reasons.causes_of_death: missing." in str(e.value)


def test_the_app_carries_the_rules(app):
    assert services_of(app).representation.of("heir").rights == {"access"}


def test_a_missing_file_names_the_setting(make_app, tmp_path):
    with pytest.raises(ConfigError, match="Set REPRESENTATION_FILE"):
        make_app(REPRESENTATION_FILE=str(tmp_path / "none.toml"))


def test_rules_check_says_what_each_relationship_may_do(app):
    result = app.test_cli_runner().invoke(args=["rules", "check"])
    assert result.exit_code == 0, result.output
    assert "Requests made for someone else (representation.toml)" in result.output
    assert "  heir       may exercise access; proves with death_certificate, heir_proof" in (
        result.output
    )
    assert "  reason causes_of_death: discloses hospital.medical_record" in result.output


def test_a_secret_column_the_table_does_not_describe_is_named(make_app, tmp_path):
    sources = (ROOT / "catalogue" / "sources.toml").read_text(encoding="utf-8")
    sources = sources.replace('minor_secret = "minor_secret"\n', 'minor_secret = "secret"\n', 1)
    path = tmp_path / "sources.toml"
    path.write_text(sources, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        make_app(SOURCES_FILE=str(path))
    assert (
        "sources.toml: sources.hospital.tables.hospital_stays.minor_secret: 'secret' is not a "
        "column of this table" in str(error.value)
    )


def test_staff_read_their_own_wording_of_a_proof_where_the_file_gives_one():
    """The hints speak to the requester ("qui vous désigne"); staff read about the requester."""
    rules = load_representation(FILE, CATALOGUE, POLICY)
    proofs = {p.code: p for r in rules.relationships.values() for p in r.proofs}
    for proof in proofs.values():
        label, hint = proof.for_staff
        for text in (label.fr, hint.fr):
            assert not re.search(r"\b(vous|votre|vos)\b", text), (proof.code, text)
        for text in (label.en, hint.en):
            assert not re.search(r"\b(you|your)\b", text, re.IGNORECASE), (proof.code, text)
    heir = proofs["heir_proof"]
    assert heir.label.fr == "Preuve de votre qualité d’ayant droit"  # the requester's
    assert heir.for_staff[0].fr == "Preuve de la qualité d’ayant droit du demandeur"
    # Without staff wording, staff read the requester's (here without "vous").
    death = proofs["death_certificate"]
    assert death.for_staff == (death.label, death.hint)


def test_a_staff_hint_missing_a_language_is_named(tmp_path):
    text = edited(
        'staff_label = { fr = "Preuve de la qualité d’ayant droit du demandeur", '
        'en = "Proof that the requester is an heir" }',
        'staff_label = { fr = "Preuve de la qualité d’ayant droit du demandeur" }',
    )
    problems = problems_of(tmp_path, text)
    assert any("proofs.heir_proof.staff_label" in p and "en =" in p for p in problems), problems

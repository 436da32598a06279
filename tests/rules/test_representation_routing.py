"""Routing a request made for someone else (catalogue/representation.toml, issue 18).

At the domain level: requests are built with ``acts_as``, ``heir_reason`` and
``subject_died_on`` set directly (the form is the public side's), and the plan
is computed against the test warehouse's personas (``app.demo.personas``):
Georges Moreau died in 2019, Simone Garnier died in 2019 and refused while
alive that her relatives see her record, Léa Fontaine is a minor with one stay
kept secret from her parents.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.demo.personas import PERSONAS
from app.public.plan_view import plan_cards
from app.rules.matching import Applicant
from app.rules.routing import (
    NOT_ENTITLED,
    REFUSED_DURING_LIFE,
    SECRET,
    WITHHOLD,
    Behalf,
    Draft,
    compute,
)
from app.services import services_of

TODAY = date(2026, 12, 4)


def persona(first: str, last: str):
    return next(p for p in PERSONAS if (p.first_name, p.last_name) == (first, last))


def applicant(p) -> Applicant:
    return Applicant(p.last_name, p.first_name, p.birth_date, "claire.moreau@example.org", p.nir)


def behalf(services, acts_as: str, reason: str | None = None, died: date | None = None):
    rules = services.representation
    return Behalf(acts_as, rules.of(acts_as), rules, reason, died)


def plan(app, p, right: str, on_behalf: Behalf | None) -> Draft:
    services = services_of(app)
    return compute(
        applicant(p),
        right,
        catalogue=services.catalogue,
        policy=services.policy,
        warehouse=services.warehouse,
        today=TODAY,
        behalf=on_behalf,
    )


def by_action(draft: Draft) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in draft.lines:
        found.setdefault(line.action, set()).add(line.category)
    return found


GEORGES_FOUND = {
    "hospital.medical_record",
    "hospital.transfusion",
    "social_security.reimbursement",
    "pharmacy.prescription",
    "lab.result",
}


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("causes_of_death", {"hospital.medical_record"}),
        ("defend_memory", {"hospital.medical_record"}),
        ("assert_rights", {"hospital.medical_record", "hospital.transfusion"}),
    ],
)
@pytest.mark.parametrize("acts_as", ["heir", "partner"])
def test_an_heir_receives_only_the_categories_of_the_reason(app, acts_as, reason, sent):
    """Georges Moreau's daughter: the reason's categories sent, the others neither sent nor
    erased, each with the sentence that says why (R.1111-7)."""
    services = services_of(app)
    draft = plan(app, persona("Georges", "Moreau"), "access", behalf(services, acts_as, reason))
    assert draft.outcome == "matched"
    actions = by_action(draft)
    assert set(actions) == {"disclose", WITHHOLD}
    assert actions["disclose"] == sent
    assert actions[WITHHOLD] == GEORGES_FOUND - sent
    assert "social_security.reimbursement" in actions[WITHHOLD]
    withheld = [line for line in draft.lines if line.action == WITHHOLD]
    for line in withheld:
        assert line.explanation == services.representation.text("not_for_reason")
        assert "R.1111-7" in line.basis.en and "R.1111-7" in line.basis.fr
        assert line.kept_until is None
    # The person's own request sees every category: the limit is the heir's.
    own = plan(app, persona("Georges", "Moreau"), "access", None)
    assert by_action(own) == {"disclose": GEORGES_FOUND}
    # The addresses on file are the deceased's: they prove nothing of the requester.
    assert draft.contacts == ()


def test_an_heir_without_a_reason_receives_nothing(app):
    services = services_of(app)
    draft = plan(app, persona("Georges", "Moreau"), "access", behalf(services, "heir", None))
    assert by_action(draft) == {WITHHOLD: GEORGES_FOUND}


def test_a_refusal_during_life_gives_the_relatives_nothing_with_the_reason(app):
    """Simone Garnier refused it while alive (CSP L.1110-4 V): nothing is disclosed."""
    services = services_of(app)
    simone = persona("Simone", "Garnier")
    for reason in ("causes_of_death", "defend_memory", "assert_rights"):
        draft = plan(app, simone, "access", behalf(services, "heir", reason))
        assert draft.outcome == "refused"
        assert draft.refusal_ground == REFUSED_DURING_LIFE
        assert draft.lines == ()
    text = services.representation.refusal("heir", REFUSED_DURING_LIFE)
    assert text is not None and "L.1110-4 V" in text.fr and "L.1110-4 V" in text.en
    assert "refused" in text.en and "opposée" in text.fr
    # Her own refusal binds her relatives, not a request made while she was alive.
    assert plan(app, simone, "access", None).outcome == "matched"


class Untouchable:
    """A warehouse that fails the test if routing reads it."""

    def connections(self, *_args, **_kwargs):
        raise AssertionError("a refused request must not read any source")


@pytest.mark.parametrize(
    ("acts_as", "kind"),
    [
        ("heir", "erasure"),
        ("partner", "erasure"),
        ("heir", "rectification"),
        ("heir", "portability"),
        ("heir", "objection"),
        ("mandatary", "erasure"),
    ],
)
def test_a_right_the_relationship_may_not_exercise_is_refused_with_the_reason(app, acts_as, kind):
    """An heir asking erasure of the reimbursements: refused before anything is read."""
    services = services_of(app)
    draft = compute(
        applicant(persona("Georges", "Moreau")),
        kind,
        catalogue=services.catalogue,
        policy=services.policy,
        warehouse=Untouchable(),  # type: ignore[arg-type]
        today=TODAY,
        behalf=behalf(services, acts_as, "assert_rights"),
    )
    assert draft == Draft("refused", review_reasons=(NOT_ENTITLED,))
    assert draft.refusal_ground == NOT_ENTITLED
    text = services.representation.refusal(acts_as, NOT_ENTITLED)
    assert text == services.representation.of(acts_as).refusal
    assert text.fr and text.en and text.fr != text.en


def test_a_parent_and_a_guardian_exercise_every_right(app):
    services = services_of(app)
    lea = persona("Léa", "Fontaine")
    camille = persona("Camille", "Lefèvre-Dubois")
    for kind in ("access", "erasure", "rectification"):
        assert plan(app, lea, kind, behalf(services, "parent")).outcome == "matched", kind
        assert plan(app, camille, kind, behalf(services, "guardian")).outcome == "matched", kind


def test_a_parent_does_not_act_for_an_adult_child(app):
    """Parental authority ends at 18 (Civil Code 371-1, 414): refused, nothing read."""
    services = services_of(app)
    draft = compute(
        applicant(persona("Camille", "Lefèvre-Dubois")),
        "access",
        catalogue=services.catalogue,
        policy=services.policy,
        warehouse=Untouchable(),  # type: ignore[arg-type]
        today=TODAY,
        behalf=behalf(services, "parent"),
    )
    assert draft.refusal_ground == NOT_ENTITLED


def test_a_minors_secret_is_kept_from_a_parent_without_saying_what_it_is(app):
    """Léa Fontaine's secret stay (CSP L.1111-5): not sent to a parent, not shown to them."""
    services = services_of(app)
    lea = persona("Léa", "Fontaine")
    draft = plan(app, lea, "access", behalf(services, "parent"))
    own = plan(app, lea, "access", None)
    [secret] = [line for line in draft.lines if line.action == SECRET]
    assert secret.category == "hospital.medical_record"
    assert secret.record_count == 2  # the stay and its diagnosis
    assert set(secret.record_keys) == {"hospital_stays", "diagnoses"}
    [sent] = [
        line
        for line in draft.lines
        if line.action == "disclose" and line.category == "hospital.medical_record"
    ]
    [all_of_it] = [
        line
        for line in own.lines
        if line.action == "disclose" and line.category == "hospital.medical_record"
    ]
    assert sent.record_count == all_of_it.record_count - 2
    for table, keys in secret.record_keys.items():
        assert not set(map(tuple, keys)) & set(map(tuple, sent.record_keys.get(table, [])))
    # The parent's page never shows the secret line; every parent reads the same notice.
    cards = plan_cards([_row(line) for line in draft.lines], "en")
    assert all(o.action != SECRET for card in cards for o in card.outcomes)
    assert sum(o.count for c in cards for o in c.outcomes) == sum(
        line.record_count for line in draft.lines if line.action != SECRET
    )
    notices = services.representation.notices("parent")
    assert notices == services.representation.notices("parent")
    assert notices and "L.1111-5" in notices[0].en
    assert services.representation.notices("guardian") == ()
    # A guardian (an adult's) and the minor herself are not concerned by the secret.
    assert not [li for li in own.lines if li.action == SECRET]
    guardian = plan(app, lea, "access", behalf(services, "guardian"))
    assert not [li for li in guardian.lines if li.action == SECRET]


def test_a_minors_secret_is_never_erased_at_a_parents_request(app):
    services = services_of(app)
    draft = plan(app, persona("Léa", "Fontaine"), "erasure", behalf(services, "parent"))
    secret = [line for line in draft.lines if line.action == SECRET]
    assert secret and all(line.action != "erase" for line in secret)


def _row(line):
    class Row:
        pass

    row = Row()
    row.category, row.action, row.record_count = line.category, line.action, line.record_count
    row.kept_until = line.kept_until
    for lang in ("fr", "en"):
        setattr(row, f"label_{lang}", getattr(line.label, lang))
        setattr(row, f"explanation_{lang}", getattr(line.explanation, lang))
        setattr(row, f"basis_{lang}", getattr(line.basis, lang))
    return row


def _package(app, draft: Draft):
    from datetime import UTC, datetime

    from app.fulfilment import package_document

    snap = package_document.Snapshot(
        request_id=1,
        reference="DSR-2026-HEIR01",
        kind="access",
        locale="fr",
        subjects=dict(draft.subjects),
        lines=draft.lines,
        generated_at=datetime(2026, 12, 4, 9, 0, tzinfo=UTC),
    )
    return package_document.build(snap, services_of(app))


def test_the_heirs_package_holds_only_the_reasons_records(app):
    """What Claire Moreau downloads: her father's stays and diagnoses, nothing else."""
    services = services_of(app)
    draft = plan(
        app, persona("Georges", "Moreau"), "access", behalf(services, "heir", "causes_of_death")
    )
    built = _package(app, draft)
    assert set(built.disclosed) == {("hospital", "hospital.medical_record")}
    assert built.records == 2 + 3  # two stays, three diagnoses
    assert "Choc cardiogénique" in built.json_text  # what the reason needs
    for absent in ("Furosémide", "Peptide natriurétique", "Concentré de globules rouges"):
        assert absent not in built.json_text and absent not in built.html_text


def test_the_parents_package_leaves_out_the_secret_stay_and_its_diagnosis(app):
    services = services_of(app)
    built = _package(
        app, plan(app, persona("Léa", "Fontaine"), "access", behalf(services, "parent"))
    )
    assert "Pneumopathie" in built.json_text
    for text in (built.json_text, built.html_text):
        assert "Z30.0" not in text and "contraception" not in text and "Gynécologie" not in text

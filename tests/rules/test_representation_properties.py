"""Properties of requests made for someone else, and of R.1112-7's ten years after death.

Whatever hypothesis generates:

* no rule set and no date lets a deceased person's medical record be erased
  before ten years after the death (CSP R.1112-7);
* no representation rule set, even one the loader would refuse, lets a
  representative erase what the law keeps: a right outside the relationship's
  is refused before anything is read, records set aside (an heir's reason, a
  minor's secret) are never marked erase, and what is erased is erased only
  once its retention is over, as for the person's own request;
* a file ``load_representation`` accepts never gives the relatives of a
  deceased person more than access, and decides every right of every relationship.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models import HEIR_REASONS, KINDS, RELATIONSHIPS
from app.rules.catalogue import Text, load_catalogue
from app.rules.policy import (
    AFTER_DEATH_BASIS,
    AFTER_DEATH_FLOOR_YEARS,
    PolicyError,
    Retention,
    Rule,
    decide,
    load_policy,
)
from app.rules.representation import (
    Proof,
    Reason,
    Relationship,
    Representation,
    RepresentationError,
    load_representation,
)
from app.rules.routing import (
    NOT_ENTITLED,
    SECRET,
    WITHHOLD,
    Behalf,
    behalf_lines,
    build_lines,
    compute,
)
from app.rules.sources import Record, Warehouse
from tests.rules.test_routing_properties import (
    SUBJECT,
    TODAY,
    _end,
    _write_world,
    dates,
    records_lists,
    retentions,
    rules,
    worlds,
)

REPRESENTATIVES = [r for r in RELATIONSHIPS if r != "self"]
T = Text("t", "t")
deaths = st.one_of(
    st.dates(min_value=date(1950, 1, 1), max_value=TODAY),
    st.integers(0, 15 * 366).map(lambda days: TODAY - timedelta(days=days)),
)
erase_rules = st.one_of(
    st.just(Rule("c.x", "erasure", "erase", T, T, 1, None)),
    retentions().map(lambda spec: Rule("c.x", "erasure", "erase", T, T, 1, spec)),
)
secret_records = records_lists.flatmap(
    lambda records: st.lists(st.booleans(), min_size=len(records), max_size=len(records)).map(
        lambda flags: [
            Record(r.table, r.key, r.date, r.flagged, s)
            for r, s in zip(records, flags, strict=True)
        ]
    )
)


def floor(died: date) -> date:
    return died + relativedelta(years=AFTER_DEATH_FLOOR_YEARS)


# --- R.1112-7: ten years after the death ----------------------------------------------


@settings(max_examples=500, deadline=None)
@given(rule=st.one_of(erase_rules, rules()), records=records_lists, died=deaths)
def test_no_rule_and_no_date_erases_a_medical_record_within_ten_years_of_the_death(
    rule, records, died
):
    lines = build_lines(
        "s",
        "c.x",
        T,
        records,
        rule,
        birth_date=SUBJECT.birth_date,
        today=TODAY,
        died_on=died,
        medical=True,
    )
    for line in lines:
        if line.action == "erase":
            assert floor(died) < TODAY
            if rule.retention is not None:
                for table, keys in line.record_keys.items():
                    for key in keys:
                        record = next(
                            r for r in records if (r.table, r.key) == (table, tuple(key))
                        )
                        end = _end(rule, record, records)
                        assert end is not None and end < TODAY


@settings(max_examples=300, deadline=None)
@given(rule=erase_rules, record_date=dates, died=deaths)
def test_the_floor_keeps_exactly_until_ten_years_after_the_death(rule, record_date, died):
    """Kept while either the rule's period or the ten years run; erased the day after both."""
    decision = decide(
        rule,
        record_date=record_date,
        last_date=record_date,
        birth_date=SUBJECT.birth_date,
        flagged=False,
        today=TODAY,
        died_on=died,
        medical=True,
    )
    spec = rule.retention
    end = (
        None
        if spec is None
        else spec.end(
            record_date=record_date,
            last_date=record_date,
            birth_date=SUBJECT.birth_date,
            flagged=False,
        )
    )
    if spec is not None and end is None:
        assert decision.action == "retain"  # no date: kept, as for anyone
    elif floor(died) >= TODAY or (end is not None and end >= TODAY):
        assert decision.action == "retain"
        assert decision.kept_until == max(floor(died), end or floor(died))
    else:
        assert decision.action == "erase"


def test_r1112_7_keeps_a_record_whose_twenty_years_are_over_until_ten_years_after_death():
    """Last stay in 2000, died in 2020: 20 years end in 2020, kept until 2030."""
    spec = Retention("last_record", 20, Text("k", "k"), Text("k", "k"), until_age=28)
    rule = Rule("hospital.medical_record", "erasure", "erase", T, T, 1, spec)
    born = date(1930, 1, 1)
    stay = Record("hospital_stays", (1,), date(2000, 1, 1))
    common = {"birth_date": born, "today": TODAY, "medical": True}
    [kept] = build_lines("h", "c", T, [stay], rule, died_on=date(2020, 6, 1), **common)
    assert (kept.action, kept.kept_until, kept.basis) == (
        "retain",
        date(2030, 6, 1),
        AFTER_DEATH_BASIS,
    )
    # Died in 2010: ten years over in 2020, twenty years over too: erased.
    [erased] = build_lines("h", "c", T, [stay], rule, died_on=date(2010, 6, 1), **common)
    assert erased.action == "erase"
    # Alive (no date of death): the floor does not apply.
    [alive] = build_lines("h", "c", T, [stay], rule, **common)
    assert alive.action == "erase"
    # Not a medical record: the floor does not apply either.
    [other] = build_lines(
        "h", "c", T, [stay], rule, birth_date=born, today=TODAY, died_on=date(2020, 6, 1)
    )
    assert other.action == "erase"
    # The policy's own after_death_years gives the same date, with its own texts.
    stated = Retention("last_record", 20, Text("k", "k"), Text("k", "k"), after_death_years=10)
    assert stated.end(
        record_date=None,
        last_date=date(2000, 1, 1),
        birth_date=born,
        flagged=False,
        died_on=date(2020, 6, 1),
    ) == date(2030, 6, 1)


def test_the_policy_must_state_the_ten_years_for_a_medical_record(tmp_path):
    """rules.toml without after_death_years on the medical record's erasure is refused."""
    root = Path(__file__).resolve().parents[2]
    catalogue = load_catalogue(root / "catalogue" / "sources.toml", {"WAREHOUSE_URL": "sqlite://"})
    text = (root / "catalogue" / "rules.toml").read_text(encoding="utf-8")
    assert text.count("after_death_years = 10\n") == 2
    path = tmp_path / "rules.toml"
    path.write_text(text.replace("after_death_years = 10\n", "", 1), encoding="utf-8")
    try:
        load_policy(path, catalogue.categories, catalogue.medical_categories)
    except PolicyError as error:
        [problem] = error.problems
    else:
        raise AssertionError("the policy was accepted")
    assert problem.startswith("rules.toml: rules[")
    assert "(hospital.medical_record).retention.after_death_years" in problem
    assert "R.1112-7" in problem and "Add after_death_years = 10" in problem


# --- Representation rule sets ---------------------------------------------------------


@st.composite
def representations(draw: st.DrawFn, categories: list[str]) -> Representation:
    """Any rule set, including ones the loader refuses (an heir allowed erasure)."""
    proof = Proof("p", T, T)
    relationships = {
        code: Relationship(
            code,
            T,
            frozenset(draw(st.sets(st.sampled_from(KINDS)))),
            Text("refus", "refusal"),
            (proof,),
            code in ("heir", "partner"),
        )
        for code in REPRESENTATIVES
    }
    reasons = {
        code: Reason(code, T, frozenset(draw(st.sets(st.sampled_from(categories)))), T)
        for code in HEIR_REASONS
    }
    texts = {
        name: Text(name, name)
        for name in (
            "refused_during_life",
            "minor_secret",
            "minor_secret_basis",
            "not_for_reason",
            "not_for_reason_basis",
        )
    }
    return Representation(relationships, reasons, texts)


@st.composite
def behalves(draw: st.DrawFn, categories: list[str]) -> Behalf:
    representation = draw(representations(categories))
    acts_as = draw(st.sampled_from(REPRESENTATIVES))
    return Behalf(
        acts_as,
        representation.relationships[acts_as],
        representation,
        draw(st.one_of(st.none(), st.sampled_from(HEIR_REASONS))),
        draw(st.one_of(st.none(), deaths)),
    )


@settings(max_examples=400, deadline=None)
@given(
    rule=rules(),
    records=secret_records,
    behalf=behalves(["c.x", "c.y"]),
    died=st.one_of(st.none(), deaths),
    medical=st.booleans(),
)
def test_no_representation_rule_set_lets_a_representative_erase_what_the_law_keeps(
    rule, records, behalf, died, medical
):
    lines = behalf_lines(
        "s",
        "c.x",
        T,
        records,
        rule,
        behalf,
        birth_date=SUBJECT.birth_date,
        today=TODAY,
        died_on=died,
        medical=medical,
    )
    placed = [
        (table, tuple(key))
        for line in lines
        for table, keys in line.record_keys.items()
        for key in keys
    ]
    assert sorted(placed) == sorted((r.table, r.key) for r in records)
    assert len(placed) == len(set(placed))
    by_key = {(r.table, r.key): r for r in records}
    allowed = behalf.categories()
    for line in lines:
        if line.action in (WITHHOLD, SECRET):
            continue
        keys = [by_key[(t, tuple(k))] for t, ks in line.record_keys.items() for k in ks]
        # Only records the relationship may reach are acted on at all.
        assert allowed is None or "c.x" in allowed
        if behalf.acts_as == "parent":
            assert not any(r.secret for r in keys)
        if line.action != "erase":
            continue
        assert rule.action == "erase"
        if medical and died is not None:
            assert floor(died) < TODAY
        if rule.retention is not None:
            acted = [r for r in records if not (behalf.acts_as == "parent" and r.secret)]
            for record in keys:
                end = _end(rule, record, acted)
                assert end is not None and end < TODAY


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), data=st.data())
def test_plans_for_someone_else_over_generated_worlds(world, data):
    """Routed end to end: a right outside the relationship's is refused; otherwise every
    record of the subject is in one line, and none is erased while a retention runs."""
    categories = sorted({c for _, _, c in world["tables"]})
    behalf = data.draw(behalves(categories))
    with tempfile.TemporaryDirectory() as folder:
        _database, sources_file, rules_file = _write_world(world, Path(folder))
        catalogue = load_catalogue(sources_file, {})
        policy = load_policy(rules_file, catalogue.categories)
        warehouse = Warehouse(catalogue)
        try:
            draft = compute(
                SUBJECT,
                world["right"],
                catalogue=catalogue,
                policy=policy,
                warehouse=warehouse,
                today=TODAY,
                behalf=behalf,
            )
        finally:
            warehouse.dispose()
    if not behalf.may_ask(world["right"], SUBJECT.birth_date, TODAY):
        assert draft.outcome == "refused" and draft.refusal_ground == NOT_ENTITLED
        assert draft.lines == ()
        return
    assert draft.outcome == "matched"
    table_category = {name: category for _, name, category in world["tables"]}
    allowed = behalf.categories()
    subject_rows: dict[tuple[str, int], tuple] = {}
    for _, name, _ in world["tables"]:
        for index, (person, day, flag) in enumerate(world["rows"][name], start=1):
            if person == 1:
                subject_rows[(name, index)] = (day, flag)
    placed = [
        (t, k[0]) for line in draft.lines for t, keys in line.record_keys.items() for k in keys
    ]
    assert sorted(placed) == sorted(subject_rows)
    for line in draft.lines:
        if allowed is not None and line.category not in allowed:
            assert line.action == WITHHOLD
        if line.action != "erase":
            continue
        for table, keys in line.record_keys.items():
            rule = policy.rule(table_category[table], world["right"])
            assert rule.action == "erase"
            if rule.retention is None:
                continue
            same = [
                Record(t, (k,), subject_rows[(t, k)][0], subject_rows[(t, k)][1])
                for (t, k) in subject_rows
                if table_category[t] == table_category[table]
            ]
            for key in keys:
                day, flag = subject_rows[(table, key[0])]
                end = _end(rule, Record(table, (key[0],), day, flag), same)
                assert end is not None and end < TODAY


# --- What the loader accepts ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = load_catalogue(ROOT / "catalogue" / "sources.toml", {"WAREHOUSE_URL": "sqlite://"})
POLICY = load_policy(ROOT / "catalogue" / "rules.toml", CATALOGUE.categories)
TEXT = '{ fr = "x", en = "x" }'


def _names(values) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


@settings(max_examples=150, deadline=None)
@given(
    decisions=st.fixed_dictionaries(
        {
            code: st.tuples(st.sets(st.sampled_from(KINDS)), st.sets(st.sampled_from(KINDS)))
            for code in REPRESENTATIVES
        }
    ),
    reasons=st.fixed_dictionaries(
        {code: st.sets(st.sampled_from(sorted(CATALOGUE.categories))) for code in HEIR_REASONS}
    ),
)
def test_an_accepted_file_never_gives_the_relatives_of_a_deceased_more_than_access(
    decisions, reasons
):
    text = f"[proofs.p]\nlabel = {TEXT}\nhint = {TEXT}\n"
    for code, (rights, refused) in decisions.items():
        text += (
            f"[relationships.{code}]\nlabel = {TEXT}\nrefusal = {TEXT}\n"
            f"rights = {_names(sorted(rights))}\nrefused = {_names(sorted(refused))}\n"
            f'proofs = ["p"]\nsubject_deceased = {str(code in ("heir", "partner")).lower()}\n'
        )
    for code, categories in reasons.items():
        text += (
            f"[reasons.{code}]\nlabel = {TEXT}\nexplanation = {TEXT}\n"
            f"categories = {_names(sorted(categories))}\n"
        )
    text += "[texts]\n" + "".join(
        f"{name} = {TEXT}\n"
        for name in (
            "refused_during_life",
            "minor_secret",
            "minor_secret_basis",
            "not_for_reason",
            "not_for_reason_basis",
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "representation.toml"
        path.write_text(text, encoding="utf-8")
        try:
            loaded = load_representation(path, CATALOGUE, POLICY)
        except RepresentationError as error:
            assert all(p.startswith("representation.toml: ") for p in error.problems)
            return
    for code, relationship in loaded.relationships.items():
        rights, refused = decisions[code]
        assert rights | refused == set(KINDS) and not rights & refused
        if relationship.subject_deceased:
            assert relationship.rights <= {"access"}
    for code, reason in loaded.reasons.items():
        assert reason.categories and reason.categories <= CATALOGUE.categories

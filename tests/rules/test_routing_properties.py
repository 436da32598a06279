"""Properties of routing over generated catalogues, policies and citizens.

Hypothesis writes a catalogue and a policy file, fills a SQLite source with the
subject's records and other people's, and routes. Whatever it generates:

* no record is marked for erasure while a rule keeps it or its retention runs;
* every record of the subject is in exactly one plan line, and nobody else's is;
* the plan is the same when computed twice, and whatever the order of records.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models import KINDS
from app.rules.catalogue import Text, load_catalogue
from app.rules.matching import Applicant
from app.rules.policy import ALLOWED, Retention, Rule, load_policy
from app.rules.routing import build_lines, compute
from app.rules.sources import Record, Warehouse

TODAY = date(2026, 11, 29)
SUBJECT = Applicant("Lefèvre", "Zoé", date(1990, 5, 17), "zoe@example.org", None)

# Dates cluster where retention ends fall around today, where mistakes would hide.
dates = st.one_of(
    st.none(),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(0, 45 * 366).map(lambda days: TODAY - timedelta(days=days)),
)


@st.composite
def retentions(draw: st.DrawFn) -> Retention:
    extended = draw(st.one_of(st.none(), st.integers(1, 40)))
    return Retention(
        anchor=draw(st.sampled_from(["record", "last_record"])),
        years=draw(st.integers(1, 40)),
        basis=Text("base", "basis"),
        explanation=Text("gardé", "kept"),
        until_age=draw(st.one_of(st.none(), st.integers(1, 100))),
        extended_years=extended,
        extended_when="flag" if extended else None,
    )


@st.composite
def rules(draw: st.DrawFn, right: str | None = None) -> Rule:
    right = right or draw(st.sampled_from(KINDS))
    action = draw(st.sampled_from(sorted(ALLOWED[right])))
    retention = draw(st.one_of(st.none(), retentions())) if action in ("erase", "retain") else None
    return Rule("c.x", right, action, Text("b", "b"), Text("e", "e"), 1, retention)


records_lists = st.lists(
    st.tuples(st.sampled_from(["t1", "t2"]), st.integers(1, 10_000), dates, st.booleans()),
    max_size=40,
    unique_by=lambda r: (r[0], r[1]),
).map(lambda rows: [Record(t, (k,), d, f) for t, k, d, f in rows])


def _end(rule: Rule, record: Record, records: list[Record]) -> date | None:
    """The retention end, computed here independently of the code under test."""
    spec = rule.retention
    assert spec is not None
    dated = [r.date for r in records if r.date]
    start = record.date if spec.anchor == "record" else (max(dated) if dated else None)
    if start is None:
        return None
    years = spec.extended_years if record.flagged and spec.extended_years else spec.years
    end = _add_years(start, years)
    if spec.until_age:
        end = max(end, _add_years(SUBJECT.birth_date, spec.until_age))
    return end


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


@settings(max_examples=400, deadline=None)
@given(rule=rules(), records=records_lists)
def test_no_erasure_of_what_a_rule_keeps_or_a_running_retention_covers(rule, records):
    """A record is marked erase only under an erase rule whose retention (if any) has ended."""
    lines = build_lines(
        "s", "c.x", Text("l", "l"), records, rule, birth_date=SUBJECT.birth_date, today=TODAY
    )
    by_key = {(r.table, r.key): r for r in records}
    for line in lines:
        if line.action != "erase":
            continue
        assert rule.action == "erase"
        for table, keys in line.record_keys.items():
            for key in keys:
                record = by_key[(table, tuple(key))]
                if rule.retention is not None:
                    end = _end(rule, record, records)
                    assert end is not None and end < TODAY


@settings(max_examples=300, deadline=None)
@given(
    rule=retentions().map(
        lambda spec: Rule("c.x", "erasure", "erase", Text("b", "b"), Text("e", "e"), 1, spec)
    ),
    records=records_lists,
)
def test_an_erasure_exemption_keeps_every_record_until_its_retention_ends(rule, records):
    """Under an erase rule with a retention, kept and erased split exactly at the end date."""
    lines = build_lines(
        "s", "c.x", Text("l", "l"), records, rule, birth_date=SUBJECT.birth_date, today=TODAY
    )
    action_of = {
        (table, tuple(key)): line.action
        for line in lines
        for table, keys in line.record_keys.items()
        for key in keys
    }
    for record in records:
        end = _end(rule, record, records)
        expected = "erase" if end is not None and end < TODAY else "retain"
        assert action_of[(record.table, record.key)] == expected


def test_the_last_day_of_retention_still_keeps_the_record():
    """Kept until the end date inclusive: erased from the day after."""
    spec = Retention("record", 2, Text("k", "k"), Text("k", "k"))
    rule = Rule("c.x", "erasure", "erase", Text("b", "b"), Text("e", "e"), 1, spec)
    on_last_day = Record("t", (1,), date(2024, 11, 29), False)
    day_after = Record("t", (2,), date(2024, 11, 28), False)
    lines = build_lines(
        "s",
        "c.x",
        Text("l", "l"),
        [on_last_day, day_after],
        rule,
        birth_date=SUBJECT.birth_date,
        today=TODAY,
    )
    assert {line.action: line.record_keys["t"] for line in lines} == {
        "erase": [[2]],
        "retain": [[1]],
    }
    [kept] = [line for line in lines if line.action == "retain"]
    assert kept.kept_until == TODAY


@settings(max_examples=400, deadline=None)
@given(rule=rules(), records=records_lists, data=st.data())
def test_every_record_is_in_exactly_one_line_and_the_plan_is_deterministic(rule, records, data):
    """Counts add up, keys are neither lost nor doubled, and order does not matter."""
    lines = build_lines(
        "s", "c.x", Text("l", "l"), records, rule, birth_date=SUBJECT.birth_date, today=TODAY
    )
    placed = [
        (t, tuple(k)) for line in lines for t, keys in line.record_keys.items() for k in keys
    ]
    assert sorted(placed) == sorted((r.table, r.key) for r in records)
    assert len(placed) == len(set(placed))
    assert sum(line.record_count for line in lines) == len(records)
    shuffled = data.draw(st.permutations(records))
    again = build_lines(
        "s", "c.x", Text("l", "l"), shuffled, rule, birth_date=SUBJECT.birth_date, today=TODAY
    )
    assert again == lines


# --- whole catalogues, policies and sources ---------------------------------

IDENTITY = """
[sources.{name}.identity]
table = "persons"
key = "person_id"
nir = "nir"
last_name = "last_name"
first_name = "first_name"
birth_date = "birth_date"
email = "email"
"""
COLUMNS = """id = { shown = false }
person_id = { shown = false }
on_date = { fr = "Date", en = "Date", kind = "date" }
flag = { fr = "Signalé", en = "Flagged", kind = "yes_no" }
"""
INFO = """
[sources.{source}.categories."{category}"]
label = {{ fr = "L", en = "L" }}
purposes = {{ fr = "P", en = "P" }}
legal_basis = {{ fr = "B", en = "B" }}
transfers = {{ fr = "T", en = "T" }}
retention = {{ fr = "R", en = "R" }}
origin = {{ fr = "O", en = "O" }}
automated_decisions = {{ fr = "A", en = "A" }}
recipients = []
"""


def _rule_toml(category: str, rule: Rule) -> str:
    text = (
        f'[[rules]]\ncategory = "{category}"\nrights = ["{rule.right}"]\n'
        f'action = "{rule.action}"\nbasis = {{ fr = "b", en = "b" }}\n'
        f'explanation = {{ fr = "e", en = "e" }}\n'
    )
    if rule.right == "portability":
        text += "portable = false\n"
    if rule.action == "refer":
        text += 'controller = { name = "N", contact = "c@example.org" }\n'
    spec = rule.retention
    if spec:
        text += f'[rules.retention]\nfrom = "{spec.anchor}"\nyears = {spec.years}\n'
        if spec.until_age:
            text += f"until_age = {spec.until_age}\n"
        if spec.extended_years:
            text += f'extended_years = {spec.extended_years}\nextended_when = "flag"\n'
        text += 'basis = { fr = "k", en = "k" }\nexplanation = { fr = "k", en = "k" }\n'
    return text


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    """Sources with tables of categories, a full policy, people and their records."""
    n_sources = draw(st.integers(1, 3))
    tables = []
    for s in range(n_sources):
        for t in range(draw(st.integers(1, 3))):
            category = f"cat.c{draw(st.integers(0, 3))}"
            tables.append((f"src{s}", f"t{s}_{t}", category))
    categories = sorted({c for _, _, c in tables})
    policy = {(c, k): draw(rules(right=k)) for c in categories for k in KINDS}
    for c in categories:
        # A valid policy: a retention the law imposes for one right binds erasure too.
        kept = [r for (cat, _), r in policy.items() if cat == c and r.action == "retain"]
        erasure = policy[(c, "erasure")]
        keeper = next((r for r in kept if r.retention), None)
        if keeper and erasure.action == "erase" and erasure.retention is None:
            policy[(c, "erasure")] = replace(erasure, retention=keeper.retention)
    # People 1 is the subject; the others share the subject's birth date or not.
    people = [(1, SUBJECT.last_name, SUBJECT.first_name, SUBJECT.birth_date, SUBJECT.email)]
    for pid in range(2, draw(st.integers(2, 6))):
        born = draw(st.sampled_from([SUBJECT.birth_date, date(1960, 1, 1)]))
        people.append((pid, "Martin", "Paul", born, f"p{pid}@example.org"))
    rows = {
        name: draw(
            st.lists(st.tuples(st.integers(1, len(people)), dates, st.booleans()), max_size=15)
        )
        for _, name, _ in tables
    }
    right = draw(st.sampled_from(KINDS))
    return {"tables": tables, "policy": policy, "people": people, "rows": rows, "right": right}


def _write_world(world: dict, folder: Path) -> tuple[Path, Path, Path]:
    database = folder / "source.sqlite3"
    connection = sqlite3.connect(database)
    connection.execute(
        "CREATE TABLE persons (person_id INTEGER PRIMARY KEY, nir TEXT, last_name TEXT, "
        "first_name TEXT, birth_date DATE, email TEXT)"
    )
    connection.execute("CREATE INDEX ix_nir ON persons (nir)")
    connection.execute("CREATE INDEX ix_birth ON persons (birth_date)")
    connection.executemany(
        "INSERT INTO persons VALUES (?, NULL, ?, ?, ?, ?)",
        [(p, ln, fn, b.isoformat(), e) for p, ln, fn, b, e in world["people"]],
    )
    catalogue = ""
    for source in sorted({s for s, _, _ in world["tables"]}):
        catalogue += f'[sources.{source}]\ntitle = {{ fr = "S", en = "S" }}\n'
        catalogue += f'url = "sqlite:///{database}"\n' + IDENTITY.format(name=source)
        held = set()
        for s, name, category in world["tables"]:
            if s != source:
                continue
            held.add(category)
            connection.execute(
                f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, person_id INTEGER, "
                "on_date DATE, flag INTEGER)"
            )
            connection.execute(f"CREATE INDEX ix_{name} ON {name} (person_id)")
            connection.executemany(
                f"INSERT INTO {name} (person_id, on_date, flag) VALUES (?, ?, ?)",
                [(p, d.isoformat() if d else None, int(f)) for p, d, f in world["rows"][name]],
            )
            catalogue += (
                f'[sources.{source}.tables.{name}]\ncategory = "{category}"\n'
                'label = { fr = "T", en = "T" }\n'
                'primary_key = ["id"]\nsubject = "person_id"\ndate_column = "on_date"\n'
                f"[sources.{source}.tables.{name}.columns]\n" + COLUMNS
            )
        for category in sorted(held):
            catalogue += INFO.format(source=source, category=category)
    connection.commit()
    connection.close()
    rules_text = "".join(_rule_toml(c, r) for (c, _), r in sorted(world["policy"].items()))
    (folder / "sources.toml").write_text(catalogue)
    (folder / "rules.toml").write_text(rules_text)
    return database, folder / "sources.toml", folder / "rules.toml"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_plans_over_generated_catalogues_policies_and_citizens(world):
    """Routed end to end: only the subject's records, each once, none erased while kept."""
    with tempfile.TemporaryDirectory() as folder:
        _database, sources_file, rules_file = _write_world(world, Path(folder))
        catalogue = load_catalogue(sources_file, {})
        policy = load_policy(rules_file, catalogue.categories)
        warehouse = Warehouse(catalogue)
        try:
            assert warehouse.check() == []
            plan = compute(
                SUBJECT,
                world["right"],
                catalogue=catalogue,
                policy=policy,
                warehouse=warehouse,
                today=TODAY,
            )
            again = compute(
                SUBJECT,
                world["right"],
                catalogue=catalogue,
                policy=policy,
                warehouse=warehouse,
                today=TODAY,
            )
        finally:
            warehouse.dispose()
    assert plan == again
    # The subject's own rows, read back from what was generated.
    expected = set()
    ids: dict[str, int] = {}
    subject_rows: dict[tuple[str, int], tuple] = {}
    for _, name, _ in world["tables"]:
        for person, day, flag in world["rows"][name]:
            ids[name] = ids.get(name, 0) + 1
            if person == 1:
                expected.add((name, ids[name]))
                subject_rows[(name, ids[name])] = (day, flag)
    others_share_identity = any(
        p != 1 and (ln, fn, b) == (SUBJECT.last_name, SUBJECT.first_name, SUBJECT.birth_date)
        for p, ln, fn, b, _ in world["people"]
    )
    assert not others_share_identity  # the generator never makes true homonyms here
    assert plan.outcome == "matched"
    placed = [
        (table, key[0])
        for line in plan.lines
        for table, keys in line.record_keys.items()
        for key in keys
    ]
    assert len(placed) == len(set(placed))
    assert set(placed) == expected
    table_category = {name: category for _, name, category in world["tables"]}
    for line in plan.lines:
        if line.action != "erase":
            continue
        for table, keys in line.record_keys.items():
            rule = policy.rule(table_category[table], world["right"])
            assert rule.action == "erase"
            if rule.retention is None:
                continue
            # Every retention end of these records has passed.
            same_category = [
                Record(t, (k,), subject_rows[(t, k)][0], subject_rows[(t, k)][1])
                for (t, k) in expected
                if table_category[t] == table_category[table]
                and _source_of(world, t) == line.source
            ]
            for key in keys:
                day, flag = subject_rows[(table, key[0])]
                end = _end(rule, Record(table, (key[0],), day, flag), same_category)
                assert end is not None and end < TODAY


def _source_of(world: dict, table: str) -> str:
    return next(s for s, name, _ in world["tables"] if name == table)

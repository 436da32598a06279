"""The synthetic demo warehouse: its schema contract, its determinism, its personas and
population, and the ``flask demo-data`` command that builds it."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.demo import personas
from app.demo.personas import HOSTILE, MIN_CITIZENS, PERSONAS
from app.demo.schema import TABLES
from app.demo.warehouse import build
from app.nir import mask_nir, normalize_nir

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 1, 15)


def persona(first: str, last: str) -> personas.Persona:
    return next(p for p in PERSONAS if (p.first_name, p.last_name) == (first, last))


def years_before(years: int) -> str:
    return (AS_OF - timedelta(days=round(365.25 * years))).isoformat()


def dump(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as connection:
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in TABLES
        }


def rows(connection: sqlite3.Connection, sql: str, *params: object) -> list[tuple]:
    return connection.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(
        tmp_path_factory.mktemp("warehouse") / "warehouse.sqlite3",
        citizens=2000,
        seed=42,
        as_of=AS_OF,
    ).path


@pytest.fixture
def db(built: Path):
    connection = sqlite3.connect(built)
    yield connection
    connection.close()


def contract() -> tuple[dict[str, dict[str, str]], str]:
    """Tables -> {column: declared type}, and the text, of catalogue/WAREHOUSE_SCHEMA.md."""
    text = (ROOT / "catalogue" / "WAREHOUSE_SCHEMA.md").read_text(encoding="utf-8")
    tables: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("table", "") or set(cells[0]) <= {"-", " "}:
            continue
        columns = [column.split() for column in cells[1].split(", ")]
        tables[cells[0]] = {words[0]: words[1] for words in columns}
    return tables, text


# --- The schema contract ---------------------------------------------------------


def test_every_table_of_the_schema_exists_with_its_columns_and_types(db):
    """Each table of WAREHOUSE_SCHEMA.md has exactly its columns, declared with its types."""
    tables, _ = contract()
    assert len(tables) == 13
    assert set(tables) == set(TABLES)
    for table, columns in tables.items():
        info = {row[1]: row[2] for row in rows(db, f"PRAGMA table_info({table})")}
        assert info == columns, table


def test_the_indexes_of_the_schema_exist(db):
    """persons(nir), persons(birth_date), research_linkage(person_id),
    research_extracts(pseudonym) and person_id on every data table are indexed."""
    tables, text = contract()
    indexed: set[tuple[str, str]] = set()
    for table in tables:
        for index in rows(db, f"PRAGMA index_list({table})"):
            columns = [row[2] for row in rows(db, f"PRAGMA index_info({index[1]})")]
            if len(columns) == 1:
                indexed.add((table, columns[0]))
    listed = set(re.findall(r"`(\w+)\((\w+)\)`", text))
    assert listed == {
        ("persons", "nir"),
        ("persons", "birth_date"),
        ("research_linkage", "person_id"),
        ("research_extracts", "pseudonym"),
    }
    data_tables = {t for t, columns in tables.items() if "person_id" in columns} - {"persons"}
    assert len(data_tables) == 11
    assert listed | {(table, "person_id") for table in data_tables} <= indexed


def test_date_columns_reflect_as_dates_with_sqlalchemy(built):
    """Reflected with SQLAlchemy, DATE columns come back as datetime.date objects."""
    engine = sa.create_engine(f"sqlite:///{built}")
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        assert isinstance(metadata.tables["persons"].c.birth_date.type, sa.Date)
        with engine.connect() as connection:
            for table, column in (
                ("persons", "birth_date"),
                ("hospital_stays", "admitted_on"),
                ("reimbursements", "paid_on"),
                ("research_extracts", "extracted_on"),
            ):
                value = connection.execute(sa.select(metadata.tables[table].c[column])).scalar()
                assert type(value) is date, (table, column)
    finally:
        engine.dispose()


# --- Determinism -----------------------------------------------------------------


def test_the_same_seed_gives_identical_tables(tmp_path):
    """Two builds with the same citizens, seed and as_of have the same rows in every table."""
    first = build(tmp_path / "a.sqlite3", citizens=400, seed=7, as_of=AS_OF)
    second = build(tmp_path / "b.sqlite3", citizens=400, seed=7, as_of=AS_OF)
    assert first.rows == second.rows
    assert dump(first.path) == dump(second.path)


def test_another_seed_gives_other_people_but_the_same_personas(tmp_path):
    """A different seed changes the population; the personas stay the same people."""
    first = dump(build(tmp_path / "a.sqlite3", citizens=400, seed=7, as_of=AS_OF).path)
    other = dump(build(tmp_path / "b.sqlite3", citizens=400, seed=8, as_of=AS_OF).path)
    personas = [row for row in first["persons"] if row[0] <= len(PERSONAS)]
    assert personas == [row for row in other["persons"] if row[0] <= len(PERSONAS)]
    assert len(personas) == len(PERSONAS)
    assert first["persons"] != other["persons"]
    assert first["reimbursements"] != other["reimbursements"]


def test_dates_are_counted_back_from_as_of(tmp_path):
    """Built a year later, every random date moves a year later: recent data stays recent."""
    later = AS_OF + timedelta(days=365)
    first = dump(build(tmp_path / "a.sqlite3", citizens=100, seed=7, as_of=AS_OF).path)
    moved = dump(build(tmp_path / "b.sqlite3", citizens=100, seed=7, as_of=later).path)
    # Some personas' stays are on fixed days (Hélène's in 1995): only the population's move.
    stays = [stay for stay in first["hospital_stays"] if stay[1] > len(PERSONAS)]
    moved_stays = [stay for stay in moved["hospital_stays"] if stay[1] > len(PERSONAS)]
    assert len(stays) == len(moved_stays) > 10
    for stay, moved_stay in zip(stays, moved_stays, strict=True):
        assert stay[:4] == moved_stay[:4]
        shift = date.fromisoformat(moved_stay[4]) - date.fromisoformat(stay[4])
        assert shift == timedelta(days=365)


# --- NIRs ------------------------------------------------------------------------


def test_every_nir_passes_normalize_nir(db):
    """Every non-null NIR is valid (length, Corsica, month, key) and already canonical."""
    nirs = [nir for (nir,) in rows(db, "SELECT nir FROM persons WHERE nir IS NOT NULL")]
    assert len(nirs) > 1900
    for nir in nirs:
        assert normalize_nir(nir) == nir


def test_nirs_are_unique_except_for_dependants(db):
    """A number held by several people belongs to one adult and their children."""
    shared = rows(
        db,
        "SELECT nir, count(*) FROM persons WHERE nir IS NOT NULL GROUP BY nir HAVING count(*) > 1",
    )
    assert shared
    adult = years_before(18)
    for nir, _ in shared:
        births = sorted(
            b for (b,) in rows(db, "SELECT birth_date FROM persons WHERE nir = ?", nir)
        )
        assert births[0] < adult, nir
        assert all(birth > adult for birth in births[1:]), nir


def test_nir_matches_sex_birth_date_and_place_of_its_holder(db):
    """Sex digit, YY and MM come from the holder; places are metropolitan, 97x or 99."""
    holders = rows(
        db,
        "SELECT nir, sex, birth_date FROM persons p WHERE nir IS NOT NULL AND birth_date = "
        "(SELECT min(birth_date) FROM persons q WHERE q.nir = p.nir)",
    )
    places = Counter()
    for nir, sex, birth in holders:
        assert nir[0] == ("1" if sex == "M" else "2")
        assert nir[1:3] == birth[2:4] and nir[3:5] == birth[5:7]
        department = nir[5:7]
        places[
            "overseas" if department == "97" else "abroad" if department == "99" else "metro"
        ] += 1
        if department == "97":
            assert nir[7] in "123456"
        elif department != "99":
            assert department in ("2A", "2B") or 1 <= int(department) <= 95
    assert places["metro"] > places["abroad"] > 0
    assert places["overseas"] > 0


# --- Personas --------------------------------------------------------------------


def test_personas_come_first_as_declared(db):
    """Persons 1 to 15 are the personas, field for field, with a date of death for two."""
    assert [p.person_id for p in PERSONAS] == list(range(1, len(PERSONAS) + 1))
    assert len(PERSONAS) == MIN_CITIZENS
    for p in PERSONAS:
        birth = p.birth_date.isoformat()
        died = p.died_on.isoformat() if p.died_on else None
        refused = int(p.refused_access_after_death)
        expected = (p.person_id, p.nir, p.last_name, p.first_name, birth, p.sex, p.email)
        expected += (died, refused)
        assert rows(db, "SELECT * FROM persons WHERE person_id = ?", p.person_id) == [expected]


def test_karim_and_ines_share_a_number_with_different_birth_dates(db):
    """Inès is a dependant: her father's NIR, her own birth date, no email."""
    karim, ines = persona("Karim", "Benali"), persona("Inès", "Benali")
    assert karim.nir == ines.nir and karim.nir is not None
    assert karim.birth_date != ines.birth_date
    assert ines.email is None
    holders = rows(db, "SELECT first_name, birth_date FROM persons WHERE nir = ?", karim.nir)
    assert sorted(holders) == [("Inès", "2015-06-21"), ("Karim", "1980-03-02")]
    assert mask_nir(karim.nir).startswith("1 80 03")


def test_homonym_personas_differ_only_by_number_and_email(db):
    """Two Marie Martin and two Lucas Petit, born the same day, with different NIRs."""
    for first, last, born in (("Marie", "Martin", "1990-01-01"), ("Lucas", "Petit", "1985-07-07")):
        found = rows(
            db,
            "SELECT nir, email FROM persons WHERE first_name = ? AND last_name = ? "
            "AND birth_date = ? AND person_id <= ?",
            first,
            last,
            born,
            len(PERSONAS),
        )
        assert len(found) == 2
        assert found[0][0] != found[1][0]
    marie = [p.email for p in PERSONAS if p.first_name == "Marie"]
    assert marie == ["marie.martin@example.org", "marie.martin@example.net"]
    assert [p.email for p in PERSONAS if p.first_name == "Lucas"] == [None, None]


def test_santoni_has_a_2a_number_and_celeste_a_971_number():
    """Corsica (2A, read as 19 for the key) and Guadeloupe (3-digit department)."""
    santoni, celeste = persona("Jean-Baptiste", "Santoni"), persona("Maëlys", "Céleste")
    assert santoni.nir is not None and santoni.nir[5:7] == "2A"
    assert normalize_nir(santoni.nir) == santoni.nir
    assert celeste.nir is not None and celeste.nir[5:8] == "971"
    assert normalize_nir(celeste.nir) == celeste.nir


def test_zoe_has_no_number_and_a_mixed_case_email(db):
    """Zoé N'Diaye: NULL nir, an email that only matches after case folding."""
    zoe = persona("Zoé", "N'Diaye")
    ((nir, email, last_name),) = rows(
        db, "SELECT nir, email, last_name FROM persons WHERE person_id = ?", zoe.person_id
    )
    assert nir is None
    assert email == "Zoe.NDiaye@Example.org" and email != email.lower()
    assert "'" in last_name


def test_camille_has_recent_and_old_records_of_every_kind(db):
    """Camille: last stay within 3 years, reimbursements paid within 12 months and
    older than 3 years, and rows in every care table."""
    cid = persona("Camille", "Lefèvre-Dubois").person_id
    (last_stay,) = rows(db, "SELECT max(admitted_on) FROM hospital_stays WHERE person_id=?", cid)[
        0
    ]
    assert last_stay >= years_before(3)
    paid = [p for (p,) in rows(db, "SELECT paid_on FROM reimbursements WHERE person_id=?", cid)]
    assert any(p >= years_before(1) for p in paid)
    assert any(p < years_before(3) for p in paid)
    for table in (
        "diagnoses",
        "prescriptions",
        "lab_results",
        "referral_letters",
        "shared_care_records",
        "contact_preferences",
    ):
        assert rows(db, f"SELECT count(*) FROM {table} WHERE person_id=?", cid)[0][0] > 0, table
    extracts = rows(
        db,
        "SELECT l.pseudonym, e.cohort FROM research_linkage l "
        "JOIN research_extracts e USING (pseudonym) WHERE l.person_id = ?",
        cid,
    )
    assert extracts and all(re.fullmatch(r"[0-9a-f]{16}", p) for p, _ in extracts)


def test_hostile_strings_are_in_camilles_care_exchanges(db):
    """Markup and spreadsheet formulas stand in Camille's letters and care records."""
    cid = persona("Camille", "Lefèvre-Dubois").person_id
    texts = [b for (b,) in rows(db, "SELECT body FROM referral_letters WHERE person_id=?", cid)]
    texts += [
        s for (s,) in rows(db, "SELECT summary FROM shared_care_records WHERE person_id=?", cid)
    ]
    for hostile in HOSTILE:
        assert any(text.startswith(hostile) or hostile in text for text in texts), hostile
    assert any(text.startswith(("=", "+", "-", "@")) for text in texts)


def test_helene_has_only_old_data(db):
    """Hélène: last stay in 1995, reimbursements paid more than 5 years ago, nothing else."""
    hid = persona("Hélène", "Mercier-Lagarde").person_id
    stays = rows(
        db, "SELECT admitted_on, discharged_on FROM hospital_stays WHERE person_id=?", hid
    )
    assert stays and max(discharged for _, discharged in stays).startswith("1995-")
    paid = [p for (p,) in rows(db, "SELECT paid_on FROM reimbursements WHERE person_id=?", hid)]
    assert paid and max(paid) < years_before(5)
    for table in ("prescriptions", "lab_results", "referral_letters", "shared_care_records"):
        assert rows(db, f"SELECT count(*) FROM {table} WHERE person_id=?", hid)[0][0] == 0
    assert rows(db, "SELECT count(*) FROM research_linkage WHERE person_id=?", hid)[0][0] == 0


def test_thomas_has_an_old_transfusion_and_an_objection(db):
    """Thomas Roux: a transfusion about ten years ago and an entry in objection_registry."""
    tid = persona("Thomas", "Roux").person_id
    ((transfused,),) = rows(db, "SELECT transfused_on FROM transfusions WHERE person_id=?", tid)
    assert years_before(11) < transfused < years_before(9)
    assert rows(db, "SELECT scope FROM objection_registry WHERE person_id=?", tid)


# --- The population ---------------------------------------------------------------


def test_population_has_dependants_homonyms_and_missing_identifiers(db):
    """Roughly 2% dependants, homonym pairs, ~10% without email, ~1% without NIR,
    and some mixed-case emails."""
    total, no_nir, no_email, mixed = rows(
        db,
        "SELECT count(*), sum(nir IS NULL), sum(email IS NULL), "
        "sum(email <> lower(email)) FROM persons",
    )[0]
    assert total == 2000
    assert 0.05 < no_email / total < 0.2
    assert 0 < no_nir / total < 0.04
    assert mixed > 5
    dependants = rows(
        db,
        "SELECT count(*) FROM persons p WHERE nir IS NOT NULL AND EXISTS (SELECT 1 FROM "
        "persons q WHERE q.nir = p.nir AND q.birth_date < p.birth_date)",
    )[0][0]
    assert 0.005 < dependants / total < 0.05
    homonyms = rows(
        db,
        "SELECT count(*) FROM (SELECT 1 FROM persons WHERE person_id > ? "
        "GROUP BY last_name, first_name, birth_date HAVING count(DISTINCT nir) > 1)",
        len(PERSONAS),
    )[0][0]
    assert homonyms >= 3
    names = {n for (n,) in rows(db, "SELECT first_name || ' ' || last_name FROM persons")}
    assert any(re.search(r"[éèëïçœ]", name, re.IGNORECASE) for name in names)
    assert any("'" in name for name in names) and any("-" in name for name in names)


def test_population_records_span_recent_and_old_years(db):
    """Most people have reimbursements, many recent, a few suspected of fraud; stays both
    older than 25 years and within 3; about 10% have a research pseudonym with 1-3 extracts;
    about 1% object."""
    total = 2000
    reimbursed = rows(db, "SELECT count(DISTINCT person_id) FROM reimbursements")[0][0]
    assert reimbursed / total > 0.7
    recent = rows(db, "SELECT count(*) FROM reimbursements WHERE paid_on >= ?", years_before(2))
    assert recent[0][0] > 1000
    assert rows(db, "SELECT count(*) FROM reimbursements WHERE fraud_suspected = 1")[0][0] >= 1
    old = rows(db, "SELECT count(*) FROM hospital_stays WHERE admitted_on < ?", years_before(25))
    new = rows(db, "SELECT count(*) FROM hospital_stays WHERE admitted_on >= ?", years_before(3))
    assert old[0][0] > 20 and new[0][0] > 20
    linked = rows(db, "SELECT count(*) FROM research_linkage")[0][0]
    assert 0.05 < linked / total < 0.15
    per_pseudonym = rows(
        db, "SELECT count(*) FROM research_extracts GROUP BY pseudonym ORDER BY 1"
    )
    assert len(per_pseudonym) == linked
    assert {n for (n,) in per_pseudonym} <= {1, 2, 3}
    objections = rows(db, "SELECT count(DISTINCT person_id) FROM objection_registry")[0][0]
    assert 0 < objections / total < 0.04
    channels = {c for (c,) in rows(db, "SELECT DISTINCT channel FROM contact_preferences")}
    assert channels == {"email", "sms", "courrier"}


def test_citizens_average_8_to_12_data_rows(db):
    """Across the tables other than persons, about ten rows per citizen."""
    data_rows = sum(rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES if t != "persons")
    assert 8 <= data_rows / 2000 <= 12


def test_no_record_predates_its_persons_birth_or_follows_as_of(db):
    """Every dated record falls between its person's birth and as_of."""
    for table, column in (
        ("hospital_stays", "admitted_on"),
        ("reimbursements", "care_date"),
        ("prescriptions", "prescribed_on"),
        ("lab_results", "sampled_on"),
        ("referral_letters", "sent_on"),
    ):
        early = rows(
            db,
            f"SELECT count(*) FROM {table} t JOIN persons p USING (person_id) "
            f"WHERE t.{column} < p.birth_date OR t.{column} > ?",
            AS_OF.isoformat(),
        )
        assert early[0][0] == 0, table
    late = rows(db, "SELECT count(*) FROM reimbursements WHERE paid_on < care_date")
    assert late[0][0] == 0


# --- build() itself -----------------------------------------------------------------


def test_build_reports_progress_and_counts(tmp_path):
    """progress receives every citizen once; the summary counts the rows of each table."""
    seen: list[int] = []
    summary = build(
        tmp_path / "w.sqlite3", citizens=150, seed=1, as_of=AS_OF, progress=seen.append
    )
    assert sum(seen) == 150
    assert summary.citizens == 150 and summary.seconds >= 0
    with sqlite3.connect(summary.path) as connection:
        for table in TABLES:
            count = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert summary.rows[table] == count


def test_build_refuses_fewer_citizens_than_personas(tmp_path):
    """Fewer citizens than personas: ValueError naming the minimum, no file written."""
    with pytest.raises(ValueError, match=f"at least {MIN_CITIZENS}"):
        build(tmp_path / "w.sqlite3", citizens=MIN_CITIZENS - 1, seed=1, as_of=AS_OF)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_build_leaves_the_previous_file_and_no_temporary(tmp_path):
    """A build stopped half-way leaves the old warehouse as it was and no stray file."""
    target = tmp_path / "w.sqlite3"
    target.write_bytes(b"the previous warehouse")
    calls = 0

    def stop_on_second_chunk(_: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(target, citizens=30_000, seed=1, as_of=AS_OF, progress=stop_on_second_chunk)
    assert target.read_bytes() == b"the previous warehouse"
    assert list(tmp_path.iterdir()) == [target]


# --- flask demo-data ------------------------------------------------------------------


def test_cli_builds_the_warehouse_of_warehouse_url_and_lists_the_personas(make_app, tmp_path):
    """With no --output, the file of WAREHOUSE_URL is built; personas are listed, NIRs masked."""
    target = tmp_path / "w.sqlite3"
    app = make_app(WAREHOUSE_URL=f"sqlite:///{target}")
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--citizens", "60", "--seed", "3", "--as-of", "2026-01-15"]
    )
    assert result.exit_code == 0, result.output
    assert "Building the demo warehouse" in result.output
    assert str(target) in result.output and "reimbursements" in result.output
    camille = persona("Camille", "Lefèvre-Dubois")
    assert "Camille Lefèvre-Dubois" in result.output
    assert camille.nir is not None
    # Synthetic numbers are printed whole: the newcomer types them in the form.
    assert camille.nir in result.output
    assert "Zoé N'Diaye" in result.output
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM persons").fetchone()[0] == 60


def test_cli_refuses_to_overwrite_without_force(make_app, tmp_path):
    """An existing warehouse is kept as it is (exit 1) unless --force is given."""
    target = tmp_path / "w.sqlite3"
    target.write_bytes(b"a warehouse someone built")
    app = make_app(WAREHOUSE_URL=f"sqlite:///{target}")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo-data", "--citizens", "20"])
    assert result.exit_code == 1
    assert "already exists" in result.output and "--force" in result.output
    assert target.read_bytes() == b"a warehouse someone built"
    forced = runner.invoke(args=["demo-data", "--citizens", "20", "--force"])
    assert forced.exit_code == 0, forced.output
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM persons").fetchone()[0] == 20


def test_cli_refuses_too_few_citizens(make_app, tmp_path):
    """--citizens below the number of personas is a usage error; nothing is written."""
    target = tmp_path / "w.sqlite3"
    target.write_bytes(b"untouched")
    app = make_app(WAREHOUSE_URL=f"sqlite:///{target}")
    result = app.test_cli_runner().invoke(args=["demo-data", "--citizens", "5", "--force"])
    assert result.exit_code == 2
    assert f"at least {MIN_CITIZENS} citizens" in result.output
    assert target.read_bytes() == b"untouched"


def test_cli_replaces_an_empty_file_without_force(make_app, tmp_path):
    """An empty file (SQLite leaves one when something connects first) is not a warehouse."""
    target = tmp_path / "w.sqlite3"
    target.touch()
    app = make_app(WAREHOUSE_URL=f"sqlite:///{target}")
    result = app.test_cli_runner().invoke(args=["demo-data", "--citizens", "20"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT count(*) FROM persons").fetchone()[0] == 20


def test_requests_for_someone_else_have_their_personas(db):
    """A deceased father, a deceased woman who refused, and a minor with a secret stay."""
    deaths = rows(
        db,
        "SELECT first_name, last_name, died_on, refused_access_after_death FROM persons "
        "WHERE died_on IS NOT NULL AND person_id <= ? ORDER BY person_id",
        len(PERSONAS),
    )
    assert deaths == [
        ("Georges", "Moreau", "2019-11-03", 0),
        ("Simone", "Garnier", "2019-06-14", 1),
    ]
    georges = {
        table: rows(db, f"SELECT count(*) FROM {table} WHERE person_id = 13")[0][0]
        for table in ("hospital_stays", "diagnoses", "transfusions", "reimbursements")
    }
    assert georges == {"hospital_stays": 2, "diagnoses": 3, "transfusions": 1, "reimbursements": 3}
    # Every record of the father is from before his death.
    for table, column in (("hospital_stays", "discharged_on"), ("reimbursements", "paid_on")):
        (latest,) = rows(db, f"SELECT max({column}) FROM {table} WHERE person_id = 13")[0]
        assert latest <= "2019-11-03"
    assert rows(
        db, "SELECT minor_secret FROM hospital_stays WHERE person_id = 15 ORDER BY stay_id"
    ) == [(0,), (1,)]
    (secrets,) = rows(db, "SELECT count(*) FROM hospital_stays WHERE minor_secret = 1")[0]
    assert secrets == 1  # only the persona's: random citizens keep none

"""The catalogue and the policy files: every mistake stops the portal with its own message.

Each broken variant is a copy of the real ``catalogue/sources.toml`` or
``catalogue/rules.toml`` edited as a data protection officer might get it
wrong. The portal must refuse to start, and the message must name the file,
the key and the fix. The live checks (``flask rules check``, the worker,
``check_sources``) compare the catalogue with a copy of the test warehouse
altered the way a database drifts: a table dropped, a column renamed, an
index lost.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.services import check_sources, services_of
from config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "catalogue" / "sources.toml"
RULES = ROOT / "catalogue" / "rules.toml"
SOURCES_TEXT = SOURCES.read_text(encoding="utf-8")
RULES_TEXT = RULES.read_text(encoding="utf-8")
RULE_SEPARATOR = "\n[[rules]]\n"
UNSET = "PORTAL_TEST_NEVER_SET_VARIABLE"

MakeApp = Callable[..., Flask]


# --- helpers ------------------------------------------------------------------


def edited(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced (fails if not exactly one)."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in the file"
    return text.replace(old, new)


def rule_number(category: str, right: str, text: str = RULES_TEXT) -> int:
    """The 1-based index of the [[rules]] entry covering (category, right), as messages say."""
    for number, entry in enumerate(tomllib.loads(text)["rules"], start=1):
        if entry["category"] == category and right in entry["rights"]:
            return number
    raise AssertionError(f"no rule for {category} {right}")


def edit_rule(category: str, right: str, old: str, new: str, text: str = RULES_TEXT) -> str:
    """Replace ``old`` by ``new`` inside the one [[rules]] entry covering (category, right)."""
    blocks = text.split(RULE_SEPARATOR)
    number = rule_number(category, right, text)
    block = blocks[number]  # blocks[0] is the header comment
    assert f'category = "{category}"' in block
    blocks[number] = edited(block, old, new)
    return RULE_SEPARATOR.join(blocks)


def drop_rule(category: str, right: str, text: str = RULES_TEXT) -> str:
    """The policy without the [[rules]] entry covering (category, right)."""
    blocks = text.split(RULE_SEPARATOR)
    number = rule_number(category, right, text)
    del blocks[number]
    return RULE_SEPARATOR.join(blocks)


def rule_count(text: str = RULES_TEXT) -> int:
    return len(tomllib.loads(text)["rules"])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def build(
    make_app: MakeApp,
    tmp_path: Path,
    *,
    sources: str = SOURCES_TEXT,
    rules: str = RULES_TEXT,
    **overrides: Any,
) -> Flask:
    """An app reading the given catalogue and policy texts, written to ``tmp_path``."""
    return make_app(
        SOURCES_FILE=str(write(tmp_path, "sources.toml", sources)),
        RULES_FILE=str(write(tmp_path, "rules.toml", rules)),
        **overrides,
    )


def refused(
    make_app: MakeApp,
    tmp_path: Path,
    *fragments: str,
    sources: str = SOURCES_TEXT,
    rules: str = RULES_TEXT,
) -> str:
    """Assert the app refuses to start with a message holding every fragment; return it."""
    with pytest.raises(ConfigError, match=re.escape(fragments[0])) as error:
        build(make_app, tmp_path, sources=sources, rules=rules)
    message = str(error.value)
    assert message.startswith("The portal cannot start: the catalogue or the policy is wrong.")
    for fragment in fragments[1:]:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    return message


def problems(message: str) -> list[str]:
    """The listed problems of a ConfigError message (its ``  - `` lines)."""
    return [line[4:] for line in message.splitlines() if line.startswith("  - ")]


def warehouse_copy(warehouse: Path, tmp_path: Path, *statements: str) -> Path:
    """A copy of the shared test warehouse with SQL statements applied (never the original)."""
    copy = tmp_path / "warehouse-copy.sqlite3"
    shutil.copy(warehouse, copy)
    connection = sqlite3.connect(copy)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()
    return copy


def index_on(path: Path, table: str, column: str) -> str:
    """The name of the single-column index on ``table(column)`` (from PRAGMA index_list)."""
    connection = sqlite3.connect(path)
    try:
        for row in connection.execute(f"PRAGMA index_list('{table}')"):
            name = row[1]
            columns = [c[2] for c in connection.execute(f"PRAGMA index_info('{name}')")]
            if columns == [column]:
                return str(name)
    finally:
        connection.close()
    raise AssertionError(f"no index on {table}({column})")


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


# --- a sound pair of files ----------------------------------------------------


def test_the_real_files_copied_unchanged_build_an_app(make_app, tmp_path):
    """Unedited copies of both files load, so each broken variant fails for its own edit."""
    app = build(make_app, tmp_path)
    services = services_of(app)
    assert "hospital.medical_record" in services.catalogue.categories
    assert len(services.policy.rules) == 5 * len(services.catalogue.categories)


# --- the catalogue (sources.toml) ---------------------------------------------


def test_catalogue_that_is_not_toml_is_refused_naming_the_file(make_app, tmp_path):
    """A syntax error says the catalogue is not valid TOML, and names the file."""
    message = refused(
        make_app, tmp_path, "sources.toml: not valid TOML", sources=SOURCES_TEXT + "\n[sources\n"
    )
    assert "line" in message  # tomllib's position helps find the mistake


def test_missing_catalogue_names_the_setting_to_fix(make_app, tmp_path):
    """A catalogue that cannot be read names its path and the SOURCES_FILE setting."""
    missing = tmp_path / "nowhere" / "sources.toml"
    with pytest.raises(ConfigError, match=re.escape("Set SOURCES_FILE to the catalogue")) as error:
        make_app(SOURCES_FILE=str(missing), RULES_FILE=str(RULES))
    assert f"{missing}: cannot be read" in str(error.value)


def test_missing_policy_names_the_setting_to_fix(make_app, tmp_path):
    """A policy that cannot be read names its path and the RULES_FILE setting."""
    missing = tmp_path / "nowhere" / "rules.toml"
    with pytest.raises(ConfigError, match=re.escape("Set RULES_FILE to the policy")) as error:
        make_app(SOURCES_FILE=str(SOURCES), RULES_FILE=str(missing))
    assert f"{missing}: cannot be read" in str(error.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'category = "hospital.transfusion"',
            'catgory = "hospital.transfusion"',
            "sources.toml: sources.hospital.tables.transfusions.catgory: unknown key. "
            "Did you mean 'category'?",
        ),
        (
            'date_column = "paid_on"',
            'date_colum = "paid_on"',
            "sources.toml: sources.assurance_maladie.tables.reimbursements.date_colum: "
            "unknown key. Did you mean 'date_column'?",
        ),
        (
            '[sources.pharmacy.identity]\ntable = "persons"',
            '[sources.pharmacy.identity]\ntabel = "persons"',
            "sources.toml: sources.pharmacy.identity.tabel: unknown key. Did you mean 'table'?",
        ),
        (
            "[sources.laboratory]\ntitle = {",
            "[sources.laboratory]\ntitel = {",
            "sources.toml: sources.laboratory.titel: unknown key. Did you mean 'title'?",
        ),
    ],
    ids=["table-key", "table-date-column", "identity-key", "source-key"],
)
def test_catalogue_misspelt_key_suggests_the_right_one(make_app, tmp_path, old, new, expected):
    """A misspelt key is named with its full path and the closest allowed key."""
    refused(make_app, tmp_path, expected, sources=edited(SOURCES_TEXT, old, new))


def test_catalogue_unknown_key_with_no_close_match_lists_allowed_keys(make_app, tmp_path):
    """An unknown key that looks like no allowed key lists the allowed ones instead."""
    sources = edited(SOURCES_TEXT, 'date_column = "paid_on"', 'date_column = "paid_on"\nzzz = "x"')
    refused(
        make_app,
        tmp_path,
        "sources.assurance_maladie.tables.reimbursements.zzz: unknown key. "
        "Allowed: category, label, primary_key, subject, date_column, link, columns, "
        "minor_secret.",
        sources=sources,
    )


def test_catalogue_table_without_primary_key_is_refused(make_app, tmp_path):
    """A data table must list its primary key columns; the message shows the syntax."""
    sources = edited(SOURCES_TEXT, 'primary_key = ["reimbursement_id"]\n', "")
    refused(
        make_app,
        tmp_path,
        "sources.toml: sources.assurance_maladie.tables.reimbursements.primary_key: "
        'must list the primary key columns, e.g. ["id"].',
        sources=sources,
    )


def test_catalogue_category_name_must_be_dotted(make_app, tmp_path):
    """A category is named 'area.kind'; a plain word is refused with an example."""
    sources = edited(
        SOURCES_TEXT,
        'category = "social_security.reimbursement"',
        'category = "reimbursement"',
    )
    refused(
        make_app,
        tmp_path,
        "sources.toml: sources.assurance_maladie.tables.reimbursements.category: "
        "'reimbursement' is not a category name such as 'hospital.stay'.",
        sources=sources,
    )


def test_a_rejected_table_does_not_make_its_category_look_unused(make_app, tmp_path):
    """A table rejected for its own mistake must not also get its Art. 15 section called unused."""
    sources = edited(SOURCES_TEXT, 'primary_key = ["transfusion_id"]\n', "")
    message = refused(
        make_app, tmp_path, "sources.hospital.tables.transfusions.primary_key", sources=sources
    )
    assert "no table of this source holds it" not in message, message


def test_catalogue_category_without_art15_information_is_refused(make_app, tmp_path):
    """A table whose category has no Art. 15 section in its source names the section to add."""
    sources = edited(
        SOURCES_TEXT, 'category = "hospital.transfusion"', 'category = "hospital.blood"'
    )
    message = refused(
        make_app,
        tmp_path,
        "sources.toml: sources.hospital.tables.transfusions.category: 'hospital.blood' has no "
        "Art. 15 information in this source. "
        'Add a [sources.hospital.categories."hospital.blood"] section.',
        sources=sources,
    )
    # The section of the category no table holds any more is flagged too.
    assert (
        'sources.hospital.categories."hospital.transfusion": no table of this source holds it.'
        in message
    )


PHARMACY_PURPOSES = (
    'purposes = { fr = "Suivi des traitements et pharmacovigilance.", '
    'en = "Follow-up of treatments and pharmacovigilance." }'
)
PHARMACY_ORIGIN = (
    'origin = { fr = "Médecins prescripteurs et pharmacies.", '
    'en = "Prescribing doctors and pharmacies." }\n'
)
NO_AUTOMATED_DECISION = (
    'automated_decisions = { fr = "Aucune décision automatisée.", '
    'en = "No automated decision-making." }\n'
)
PHARMACY_KEY = 'sources.toml: sources.pharmacy.categories."pharmacy.prescription"'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            PHARMACY_ORIGIN + NO_AUTOMATED_DECISION + "recipients = []\n",
            PHARMACY_ORIGIN + NO_AUTOMATED_DECISION,
            f"{PHARMACY_KEY}.recipients: missing. List who receives the data: "
            '[{ name = "...", email = "..." }], or [] if nobody does.',
        ),
        (
            PHARMACY_PURPOSES,
            'purposes = { fr = "Suivi des traitements et pharmacovigilance." }',
            f'{PHARMACY_KEY}.purposes: the text in en is missing. Add en = "...".',
        ),
        (
            PHARMACY_PURPOSES,
            'purposes = { en = "Follow-up of treatments and pharmacovigilance." }',
            f'{PHARMACY_KEY}.purposes: the text in fr is missing. Add fr = "...".',
        ),
        (
            PHARMACY_PURPOSES,
            'purposes = "Suivi des traitements et pharmacovigilance."',
            f"{PHARMACY_KEY}.purposes: must be a table with both languages: "
            '{ fr = "...", en = "..." }.',
        ),
        (
            PHARMACY_ORIGIN,
            "",
            f'{PHARMACY_KEY}.origin: missing. Add origin = {{ fr = "...", en = "..." }}.',
        ),
    ],
    ids=["no-recipients", "purposes-no-en", "purposes-no-fr", "purposes-one-string", "no-origin"],
)
def test_catalogue_art15_information_must_be_complete(make_app, tmp_path, old, new, expected):
    """Every Art. 15 text is required in both languages, and recipients must be listed."""
    refused(make_app, tmp_path, expected, sources=edited(SOURCES_TEXT, old, new))


def test_catalogue_recipient_email_needs_an_at_sign(make_app, tmp_path):
    """A recipient's email without @ is named with its position in the list."""
    sources = edited(SOURCES_TEXT, "dpo@efs-demo.example", "dpo.efs-demo.example")
    refused(
        make_app,
        tmp_path,
        'sources.toml: sources.hospital.categories."hospital.transfusion".recipients[0].email: '
        "'dpo.efs-demo.example' is not an email address.",
        sources=sources,
    )


def test_catalogue_url_with_an_unset_variable_names_the_variable(make_app, tmp_path, monkeypatch):
    """${NAME} in a URL whose variable is not set names the variable to set."""
    monkeypatch.delenv(UNSET, raising=False)
    sources = SOURCES_TEXT.replace('url = "${WAREHOUSE_URL}"', f'url = "${{{UNSET}}}"', 1)
    refused(
        make_app,
        tmp_path,
        f"sources.toml: sources.hospital.url: uses ${{{UNSET}}}, which is not set. "
        f"Set the environment variable {UNSET}.",
        sources=sources,
    )


def test_catalogue_url_variable_set_in_the_environment_is_used(make_app, tmp_path, monkeypatch):
    """The same ${NAME} loads once the variable is set: the value is read at start-up."""
    monkeypatch.setenv(UNSET, "sqlite:///elsewhere.sqlite3")
    sources = SOURCES_TEXT.replace('url = "${WAREHOUSE_URL}"', f'url = "${{{UNSET}}}"', 1)
    app = build(make_app, tmp_path, sources=sources)
    catalogue = services_of(app).catalogue
    assert catalogue.source("hospital").url == "sqlite:///elsewhere.sqlite3"


def test_catalogue_url_that_is_not_a_sqlalchemy_url_is_refused(make_app, tmp_path):
    """A bare file name instead of a URL is refused with an example of a URL."""
    sources = SOURCES_TEXT.replace(
        'url = "${WAREHOUSE_URL}"', 'url = "instance/warehouse.sqlite3"', 1
    )
    refused(
        make_app,
        tmp_path,
        "sources.toml: sources.hospital.url: is not a SQLAlchemy URL. Use a URL such as "
        "postgresql+psycopg://user@host/db or sqlite:///path/to/file.",
        sources=sources,
    )


def test_catalogue_url_with_an_unknown_dialect_is_reported_not_crashed_on(make_app, tmp_path):
    """postgres:// (not a SQLAlchemy dialect) is reported with the key, at start or on check."""
    sources = SOURCES_TEXT.replace(
        'url = "${WAREHOUSE_URL}"', 'url = "postgres://portal@127.0.0.1:1/warehouse"', 1
    )
    try:
        app = build(make_app, tmp_path, sources=sources)
    except ConfigError as error:  # refused at start-up: fine too
        assert "sources.hospital.url" in str(error)
        return
    result = run(app, "rules", "check")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "sources.hospital.url" in result.stderr


def test_catalogue_reports_every_problem_at_once(make_app, tmp_path, monkeypatch):
    """Mistakes in several sources are all listed in one message, one line each."""
    monkeypatch.delenv(UNSET, raising=False)
    sources = edited(SOURCES_TEXT, 'category = "hospital.transfusion"', 'catgory = "x"')
    sources = edited(sources, "dpo@labo-demo.example", "labo-demo.example")
    sources = edited(
        sources,
        '[sources.research]\ntitle = { fr = "Extractions pour la recherche (pseudonymisées)", '
        'en = "Research extracts (pseudonymised)" }\nurl = "${WAREHOUSE_URL}"',
        '[sources.research]\ntitle = { fr = "Extractions pour la recherche (pseudonymisées)", '
        f'en = "Research extracts (pseudonymised)" }}\nurl = "${{{UNSET}}}"',
    )
    sources = edited(sources, 'primary_key = ["preference_id"]\n', "")
    message = refused(
        make_app,
        tmp_path,
        "sources.hospital.tables.transfusions.catgory: unknown key. Did you mean 'category'?",
        "sources.hospital.tables.transfusions.category: missing.",
        "recipients[0].email: 'labo-demo.example' is not an email address.",
        f"sources.research.url: uses ${{{UNSET}}}",
        "sources.contact.tables.contact_preferences.primary_key: must list",
        sources=sources,
    )
    listed = problems(message)
    assert len(listed) >= 5
    assert all(line.startswith("sources.toml: ") for line in listed), listed
    assert message.rstrip().endswith("Run `flask rules check` after fixing it.")


# --- the policy (rules.toml) --------------------------------------------------


def test_policy_that_is_not_toml_is_refused_naming_the_file(make_app, tmp_path):
    """A syntax error says the policy is not valid TOML, and names the file."""
    rules = edit_rule("lab.result", "objection", 'action = "exclude_from_reuse"', "action = ")
    refused(make_app, tmp_path, "rules.toml: not valid TOML", rules=rules)


@pytest.mark.parametrize(
    ("category", "right", "missing"),
    [
        ("lab.result", "objection", '["objection"]'),
        ("care.exchange", "erasure", '["erasure"]'),
        ("pharmacy.prescription", "access", '["access"]'),
    ],
)
def test_policy_must_cover_every_category_and_right(make_app, tmp_path, category, right, missing):
    """A (category, right) without a rule names the category, the rights and the rule to add."""
    rights = ", ".join(re.findall(r'"(\w+)"', missing))
    refused(
        make_app,
        tmp_path,
        f"rules.toml: category {category}: no rule for {rights}. Add a [[rules]] with "
        f'category = "{category}" and rights = {missing}.',
        rules=drop_rule(category, right),
    )


APPENDED = rule_count() + 1


@pytest.mark.parametrize(
    ("appended", "expected"),
    [
        (
            '\n[[rules]]\ncategory = "contact.preference"\nrights = ["erasure"]\n'
            'action = "retain"\nbasis = { fr = "b", en = "b" }\n'
            'explanation = { fr = "e", en = "e" }\n',
            f"rules.toml: rules[{APPENDED}] (contact.preference): contradicts "
            f"rules[{rule_number('contact.preference', 'erasure')}] for erasure (erase there, "
            "retain here): keep one rule per category and right.",
        ),
        (
            '\n[[rules]]\ncategory = "care.exchange"\nrights = ["erasure"]\n'
            'action = "erase"\nbasis = { fr = "b", en = "b" }\n'
            'explanation = { fr = "e", en = "e" }\n',
            f"rules.toml: rules[{APPENDED}] (care.exchange): repeats "
            f"rules[{rule_number('care.exchange', 'erasure')}] for erasure: "
            "keep one rule per category and right.",
        ),
    ],
    ids=["contradicts", "repeats"],
)
def test_policy_covering_a_category_and_right_twice_is_refused(
    make_app, tmp_path, appended, expected
):
    """Two rules for one (category, right): 'contradicts' if the actions differ, else 'repeats'."""
    refused(make_app, tmp_path, expected, rules=RULES_TEXT + appended)


def test_policy_action_must_be_allowed_for_the_right(make_app, tmp_path):
    """An objection never erases: the message says which actions an objection allows."""
    rules = edit_rule("contact.preference", "objection", 'action = "retain"', 'action = "erase"')
    number = rule_number("contact.preference", "objection")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (contact.preference).action: 'erase' cannot answer a "
        "request of objection. Use one of: exclude_from_reuse, refer, retain.",
        rules=rules,
    )


def test_policy_unknown_action_lists_the_actions(make_app, tmp_path):
    """An action that is no action at all lists the six actions."""
    rules = edit_rule("lab.result", "objection", '"exclude_from_reuse"', '"exclude"')
    number = rule_number("lab.result", "objection")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (lab.result).action: must be one of disclose, erase, "
        "retain, exclude_from_reuse, rectify, refer.",
        rules=rules,
    )


def test_policy_unknown_category_lists_the_catalogue_categories(make_app, tmp_path):
    """A category the catalogue does not hold is named, with the known ones."""
    rules = edit_rule("lab.result", "objection", '"lab.result"', '"lab.results"')
    number = rule_number("lab.result", "objection")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}].category: 'lab.results' is not in the catalogue. "
        "Known: care.exchange, contact.preference, hospital.medical_record, "
        "hospital.transfusion, lab.result, pharmacy.prescription, research.extract, "
        "research.objection, social_security.reimbursement.",
        rules=rules,
    )


def test_policy_explanation_needs_the_english_text(make_app, tmp_path):
    """The requester's explanation is required in English as in French."""
    rules = edit_rule(
        "lab.result",
        "objection",
        ', en = "Your results will no longer be extracted for research." }',
        " }",
    )
    number = rule_number("lab.result", "objection")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (lab.result).explanation: the text in en is missing. "
        'Add en = "...".',
        rules=rules,
    )


RETENTION = (
    '\n[rules.retention]\nfrom = "record"\nyears = 5\n'
    'basis = { fr = "Loi", en = "Law" }\nexplanation = { fr = "Gardé", en = "Kept" }\n'
)
LAB_ACCESS_EXPLANATION = (
    'explanation = { fr = "Vous recevrez une copie de vos résultats d’analyses.", '
    'en = "You will receive a copy of your test results." }\n'
)


def test_policy_retention_on_a_disclose_rule_is_refused(make_app, tmp_path):
    """Only an erase or retain rule keeps data for a period; a disclose rule cannot."""
    rules = edit_rule(
        "lab.result", "access", LAB_ACCESS_EXPLANATION, LAB_ACCESS_EXPLANATION + RETENTION
    )
    number = rule_number("lab.result", "access")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (lab.result).retention: only an erase or retain rule "
        "has one, not disclose.",
        rules=rules,
    )


def test_policy_extended_years_needs_extended_when(make_app, tmp_path):
    """A longer retention period needs the column that says when it applies."""
    rules = edit_rule(
        "social_security.reimbursement", "erasure", 'extended_when = "fraud_suspected"\n', ""
    )
    number = rule_number("social_security.reimbursement", "erasure")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (social_security.reimbursement).retention: "
        "extended_years and extended_when go together: the longer period and the column "
        "that says when it applies.",
        rules=rules,
    )


def test_policy_retention_years_must_be_a_number_of_years(make_app, tmp_path):
    """years = 0 (or text) is refused, saying what a valid period is."""
    rules = edit_rule("hospital.transfusion", "erasure", "years = 30", "years = 0")
    number = rule_number("hospital.transfusion", "erasure")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (hospital.transfusion).retention.years: must be a whole "
        "number of years between 1 and 200.",
        rules=rules,
    )


def test_policy_portability_disclose_rule_must_say_portable(make_app, tmp_path):
    """A rule disclosing for portability must say whether the data is portable (Art. 20)."""
    rules = edit_rule("lab.result", "portability", "portable = false\n", "")
    number = rule_number("lab.result", "portability")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (lab.result).portable: say whether the data is portable "
        "(Art. 20: provided under consent or contract): portable = true or false.",
        rules=rules,
    )


def test_policy_portable_only_on_a_portability_rule(make_app, tmp_path):
    """portable on a rule that does not answer portability is refused."""
    rules = edit_rule(
        "lab.result",
        "objection",
        'action = "exclude_from_reuse"\n',
        'action = "exclude_from_reuse"\nportable = false\n',
    )
    number = rule_number("lab.result", "objection")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (lab.result).portable: only a portability rule says "
        "portable.",
        rules=rules,
    )


def test_policy_refer_rule_must_name_the_controller(make_app, tmp_path):
    """A refer rule must say who answers instead, and how to reach them."""
    rules = edit_rule(
        "social_security.reimbursement",
        "rectification",
        'controller = { name = "Caisse primaire d\'assurance maladie (CPAM)", '
        'contact = "https://www.ameli.fr" }\n',
        "",
    )
    number = rule_number("social_security.reimbursement", "rectification")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{number}] (social_security.reimbursement).controller: a refer rule "
        'names the controller: { name = "...", contact = "..." }.',
        rules=rules,
    )


CONTACT_OBJECTION_EXPLANATION = (
    'explanation = { fr = "Vos préférences de contact ne servent pas à la '
    'recherche\u00a0: rien ne change.", '
    'en = "Your contact preferences are not used for research: nothing changes." }\n'
)


def test_policy_retention_for_one_right_binds_erasure(make_app, tmp_path):
    """A category kept by law for objection cannot be erased at once on an erasure request."""
    rules = edit_rule(
        "contact.preference",
        "objection",
        CONTACT_OBJECTION_EXPLANATION,
        CONTACT_OBJECTION_EXPLANATION + RETENTION,
    )
    erasure = rule_number("contact.preference", "erasure")
    objection = rule_number("contact.preference", "objection")
    refused(
        make_app,
        tmp_path,
        f"rules.toml: rules[{erasure}] (contact.preference): contradicts rules[{objection}]: "
        "that rule keeps the data for 5 years under Law, but this one erases it at once. "
        "Add the same [rules.retention] here.",
        rules=rules,
    )


def test_policy_reports_every_problem_of_its_rules_at_once(make_app, tmp_path):
    """Mistakes in several rules are all listed in one message, each with its rule number."""
    rules = edit_rule("lab.result", "objection", '"lab.result"', '"lab.results"')
    rules = edit_rule(
        "social_security.reimbursement",
        "rectification",
        'controller = { name = "Caisse primaire d\'assurance maladie (CPAM)", '
        'contact = "https://www.ameli.fr" }\n',
        "",
        rules,
    )
    rules = edit_rule("pharmacy.prescription", "portability", "portable = false\n", "", rules)
    rules = edit_rule("hospital.transfusion", "erasure", "years = 30", 'years = "thirty"', rules)
    message = refused(
        make_app,
        tmp_path,
        "'lab.results' is not in the catalogue.",
        "(social_security.reimbursement).controller: a refer rule names the controller",
        "(pharmacy.prescription).portable: say whether the data is portable",
        "(hospital.transfusion).retention.years: must be a whole number",
        rules=rules,
    )
    listed = problems(message)
    assert len(listed) == 4, listed
    assert all(line.startswith("rules.toml: rules[") for line in listed), listed


# --- live checks: flask rules check, check_sources, the worker ---------------


def test_rules_check_passes_on_the_real_catalogue_and_test_warehouse(make_app):
    """The real files against the test warehouse: exit 0 and one OK line with the counts."""
    app = make_app()
    result = run(app, "rules", "check")
    assert result.exit_code == 0, result.output
    services = services_of(app)
    catalogue, policy = services.catalogue, services.policy
    assert result.stdout.startswith(
        f"OK: {len(catalogue.sources)} source(s), {len(catalogue.categories)} categories, "
        f"{len(policy.rules)} rules (every category has a rule for each of access, "
        "portability, erasure, objection, rectification)"
    )
    assert "live schema matches sources.toml" in result.stdout
    assert result.stderr == ""
    check_sources(services_of(app))  # what gunicorn and the worker run: no exception


def test_rules_check_names_a_missing_warehouse_file(make_app, tmp_path):
    """A sqlite URL naming no file: exit 1, the file named, and how to build the demo one."""
    missing = tmp_path / "warehouse.sqlite3"
    app = make_app(WAREHOUSE_URL=f"sqlite:///{missing}")
    result = run(app, "rules", "check")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert (
        f"sources.toml: sources.hospital.url: the database file {missing} does not exist "
        "(used by hospital, assurance_maladie, care_exchanges, pharmacy, laboratory, research, "
        "contact). For the demo warehouse, run: flask demo-data"
    ) in result.stderr
    assert result.stdout == ""


def test_rules_check_does_not_create_the_missing_warehouse_file(make_app, tmp_path):
    """Checking must not create an empty file where the warehouse should be."""
    missing = tmp_path / "warehouse.sqlite3"
    app = make_app(WAREHOUSE_URL=f"sqlite:///{missing}")
    result = run(app, "rules", "check")
    assert result.exit_code == 1
    assert not missing.exists()


def test_check_sources_and_worker_name_a_missing_warehouse_without_creating_it(make_app, tmp_path):
    """What gunicorn and the worker run at start: refused, and no empty file left behind."""
    missing = tmp_path / "warehouse.sqlite3"
    app = make_app(WAREHOUSE_URL=f"sqlite:///{missing}")
    with pytest.raises(ConfigError, match=re.escape(f"the database file {missing} does not")):
        check_sources(services_of(app))
    result = run(app, "worker", "--once")
    assert result.exit_code == 1
    assert "For the demo warehouse, run: flask demo-data" in result.stderr
    assert not missing.exists()


def _drop_table(warehouse: Path, tmp_path: Path) -> tuple[Path, str]:
    copy = warehouse_copy(warehouse, tmp_path, "DROP TABLE transfusions")
    return copy, (
        "sources.toml: sources.hospital.tables.transfusions: table 'transfusions' does not "
        f"exist in sqlite:///{copy}."
    )


def _rename_column(warehouse: Path, tmp_path: Path) -> tuple[Path, str]:
    copy = warehouse_copy(
        warehouse,
        tmp_path,
        "ALTER TABLE hospital_stays RENAME COLUMN discharged_on TO discharge_date",
    )
    return copy, (
        "sources.toml: sources.hospital.tables.hospital_stays.date_column: column "
        "'discharged_on' is not in table 'hospital_stays'. Did you mean 'discharge_date'?"
    )


def _drop_index(warehouse: Path, tmp_path: Path) -> tuple[Path, str]:
    name = index_on(warehouse, "reimbursements", "person_id")
    copy = warehouse_copy(warehouse, tmp_path, f"DROP INDEX {name}")
    return copy, (
        "sources.toml: sources.assurance_maladie.tables.reimbursements.subject: column "
        "reimbursements.person_id has no index, so lookups would read the whole table. "
        "Fix: CREATE INDEX ix_reimbursements_person_id ON reimbursements (person_id);"
    )


DRIFTS = pytest.mark.parametrize(
    "drift", [_drop_table, _rename_column, _drop_index], ids=["table", "column", "index"]
)


@DRIFTS
def test_rules_check_names_each_drift_of_the_live_schema(make_app, warehouse, tmp_path, drift):
    """A dropped table, a renamed column, a lost index: exit 1 with that one problem."""
    before = warehouse.stat().st_mtime_ns, warehouse.stat().st_size
    copy, expected = drift(warehouse, tmp_path)
    app = make_app(WAREHOUSE_URL=f"sqlite:///{copy}")
    result = run(app, "rules", "check")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("1 problem(s):\n"), result.stderr
    assert f"  - {expected}" in result.stderr
    assert (warehouse.stat().st_mtime_ns, warehouse.stat().st_size) == before


@DRIFTS
def test_check_sources_and_worker_refuse_a_drifted_schema(make_app, warehouse, tmp_path, drift):
    """gunicorn and the worker run check_sources: same problem, ConfigError, worker exit 1."""
    copy, expected = drift(warehouse, tmp_path)
    app = make_app(WAREHOUSE_URL=f"sqlite:///{copy}")
    with pytest.raises(ConfigError, match=re.escape(expected)) as error:
        check_sources(services_of(app))
    assert str(error.value).startswith("The sources do not match the catalogue:\n")
    result = run(app, "worker", "--once")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert expected in result.stderr


def test_rules_check_names_a_missing_extended_when_column(make_app, tmp_path):
    """extended_when must name a column of the category's tables; rules check says which."""
    rules = edit_rule(
        "social_security.reimbursement",
        "erasure",
        'extended_when = "fraud_suspected"',
        'extended_when = "fraud_suspectd"',
    )
    number = rule_number("social_security.reimbursement", "erasure")
    app = build(make_app, tmp_path, rules=rules)
    result = run(app, "rules", "check")
    assert result.exit_code == 1
    assert (
        f"rules.toml: rules[{number}] (social_security.reimbursement).retention.extended_when: "
        "column 'fraud_suspectd' is not in table 'reimbursements' of source assurance_maladie."
    ) in result.stderr


# --- flask rules explain -------------------------------------------------------


def test_explain_erasure_of_the_medical_record(make_app):
    """The medical record: 20 years after the last stay, at least to 28, under R.1112-7."""
    result = run(
        make_app(),
        "rules",
        "explain",
        "--right",
        "erasure",
        "--category",
        "hospital.medical_record",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "20 years after the person's latest record of this category" in out
    assert "at least until the person's 28th birthday" in out
    assert "R.1112-7" in out
    assert "action: erase" in out
    assert "held by: hospital" in out


def test_explain_erasure_of_reimbursements_with_the_fraud_extension(make_app):
    """Reimbursements: 2 years, 5 where fraud_suspected is set."""
    result = run(
        make_app(),
        "rules",
        "explain",
        "--right",
        "erasure",
        "--category",
        "social_security.reimbursement",
    )
    assert result.exit_code == 0, result.output
    assert "2 years after each record's own date" in result.stdout
    assert "(5 years where the column 'fraud_suspected' is set)" in result.stdout
    assert "L.332-1" in result.stdout


def test_explain_in_french_gives_the_french_texts(make_app):
    """--lang fr shows the French label, basis and explanations from the files."""
    result = run(
        make_app(),
        "rules",
        "explain",
        "--right",
        "erasure",
        "--category",
        "hospital.medical_record",
        "--lang",
        "fr",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Dossier médical hospitalier (séjours et diagnostics)" in out
    assert "Code de la santé publique, art. R.1112-7" in out
    assert "au moins jusqu’à vos 28 ans" in out
    assert "Hospital medical record" not in out
    assert "Public Health Code" not in out
    # The framing is French too, not only the texts read from the files.
    assert "20 ans après le dernier enregistrement de la personne" in out
    assert "au moins jusqu'au 28e anniversaire" in out
    assert "years" not in out and "legal basis" not in out


def test_explain_unknown_category_lists_the_known_ones(make_app):
    """A category the catalogue does not hold: exit 1 and the known categories."""
    result = run(
        make_app(), "rules", "explain", "--right", "erasure", "--category", "hospital.stay"
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Unknown category 'hospital.stay'. Known categories: care.exchange," in result.stderr
    assert "social_security.reimbursement." in result.stderr
    assert result.stdout == ""

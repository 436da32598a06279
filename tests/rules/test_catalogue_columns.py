"""The columns of the catalogue: what a person sees of each, and the checks that keep it so.

Every column a person sees in their access package needs a label in French
and in English and a kind; technical keys are hidden. A wrong description
stops the portal with a message naming the file, the key and the fix, and
``flask rules check`` refuses a live column the catalogue does not describe.
"""

from __future__ import annotations

import sqlite3

import pytest

from app.rules.columns import KINDS
from app.services import services_of
from tests.rules.test_rules_files import (
    SOURCES_TEXT,
    build,
    edited,
    refused,
    run,
    warehouse_copy,
)

STAYS = "sources.hospital.tables.hospital_stays"
WARD = 'ward = { fr = "Service", en = "Ward" }'
ACT = 'act_code = { fr = "Acte", en = "Treatment", kind = "code", codes = "acts" }'
REIMBURSEMENTS = "sources.assurance_maladie.tables.reimbursements"


def test_every_shown_column_of_the_demo_catalogue_has_labels_in_both_languages(app):
    """Each shown column: a French and an English label, a known kind; keys never shown."""
    catalogue = services_of(app).catalogue
    shown = 0
    for source in catalogue.sources:
        for table in source.tables:
            assert table.label and table.label.fr and table.label.en, table.name
            keys = {*table.primary_key, table.subject}
            for column in table.columns:
                if column.name in keys:
                    assert not column.shown, f"{table.name}.{column.name} is a key"
                if not column.shown:
                    continue
                shown += 1
                assert column.label is not None, f"{table.name}.{column.name}"
                assert column.label.fr.strip() and column.label.en.strip()
                assert column.kind in KINDS
                assert "_" not in column.label.fr and "_" not in column.label.en
    assert shown >= 30


def test_the_demo_act_codes_all_have_a_meaning(app, warehouse):
    """Every act code of the demo warehouse is in the catalogue's code list, in both languages."""
    acts = services_of(app).catalogue.code_lists["acts"]
    connection = sqlite3.connect(warehouse)
    try:
        codes = {
            row[0] for row in connection.execute("SELECT DISTINCT act_code FROM reimbursements")
        }
    finally:
        connection.close()
    assert codes and codes <= set(acts)
    assert all(acts[c].fr and acts[c].en for c in codes)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            WARD,
            'ward = { fr = "Service" }',
            f"sources.toml: {STAYS}.columns.ward: is shown to people but has no label in en. "
            'Add en = "...", or set shown = false if it is a technical key.',
        ),
        (
            WARD,
            'ward = { kind = "text" }',
            f"{STAYS}.columns.ward: is shown to people but has no label in fr and en.",
        ),
        (
            WARD,
            'ward = { fr = "Service", en = "Ward", kind = "duration" }',
            f"{STAYS}.columns.ward.kind: 'duration' is not a kind. Choose one of: "
            + ", ".join(KINDS)
            + ".",
        ),
        (
            WARD,
            'ward = { fr = "Service", en = "Ward", shown = "no" }',
            f"{STAYS}.columns.ward.shown: must be true or false.",
        ),
        (
            WARD,
            'ward = { fr = "Service", en = "Ward", colour = "red" }',
            f"{STAYS}.columns.ward.colour: unknown key.",
        ),
        (
            "stay_id = { shown = false }\nperson_id = { shown = false }\n"
            'hospital = { fr = "Établissement"',
            'stay_id = { fr = "Numéro", en = "Number" }\nperson_id = { shown = false }\n'
            'hospital = { fr = "Établissement"',
            f"{STAYS}.columns.stay_id: is an internal key (the primary key or the subject "
            "column): people must not see it. Set shown = false.",
        ),
        (
            ACT,
            'act_code = { fr = "Acte", en = "Treatment", kind = "code" }',
            f"{REIMBURSEMENTS}.columns.act_code: is a code: say where its meaning is, either "
            'meaning = "COLUMN"',
        ),
        (
            ACT,
            'act_code = { fr = "Acte", en = "Treatment", kind = "code", codes = "ccam" }',
            f"{REIMBURSEMENTS}.columns.act_code.codes: 'ccam' is not a code list (known: acts, "
            "channels, objection_scopes). Add a [code_lists.ccam] table.",
        ),
        (
            ACT,
            'act_code = { fr = "Acte", en = "Treatment", kind = "code", meaning = "act_label" }',
            f"{REIMBURSEMENTS}.columns.act_code.meaning: 'act_label' is not a column of this "
            "table.",
        ),
        (
            'PHA = { fr = "Médicaments (pharmacie)", en = "Medicines (pharmacy)" }',
            'PHA = { fr = "Médicaments (pharmacie)" }',
            'code_lists.acts."PHA": the text in en is missing. Add en = "...".',
        ),
        (
            'label = { fr = "Séjours à l’hôpital", en = "Hospital stays" }\n',
            "",
            f'{STAYS}.label: missing. Add label = {{ fr = "...", en = "..." }}: the heading '
            "people read above these records",
        ),
    ],
    ids=[
        "no-en",
        "no-label",
        "unknown-kind",
        "shown-not-boolean",
        "unknown-key",
        "key-shown",
        "code-without-meaning",
        "unknown-code-list",
        "meaning-not-a-column",
        "code-without-en",
        "table-without-label",
    ],
)
def test_a_wrong_column_description_is_refused_naming_key_and_fix(
    make_app, tmp_path, old, new, expected
):
    """Each mistake in a column's description stops the portal with its own message."""
    refused(make_app, tmp_path, expected, sources=edited(SOURCES_TEXT, old, new))


def test_a_table_without_columns_is_refused(make_app, tmp_path):
    """A table that describes no column is refused: people would read database names."""
    section = (
        "[sources.pharmacy.tables.prescriptions.columns]\n"
        "prescription_id = { shown = false }\nperson_id = { shown = false }\n"
        'prescribed_on = { fr = "Date", en = "Date", kind = "date" }\n'
        'prescriber = { fr = "Prescripteur", en = "Prescriber" }\n'
        'drug = { fr = "Médicament", en = "Medicine" }\n'
        'dosage = { fr = "Posologie", en = "Dosage" }\n'
    )
    refused(
        make_app,
        tmp_path,
        "sources.toml: sources.pharmacy.tables.prescriptions.columns: missing. Describe every "
        "column of the table",
        sources=edited(SOURCES_TEXT, section, ""),
    )


def test_rules_check_refuses_a_live_column_the_catalogue_does_not_describe(
    make_app, warehouse, tmp_path
):
    """A column added to a source is named, with the line to add: shown, or hidden."""
    copy = warehouse_copy(
        warehouse, tmp_path, "ALTER TABLE prescriptions ADD COLUMN batch_number TEXT"
    )
    app = make_app(WAREHOUSE_URL=f"sqlite:///{copy}")
    result = run(app, "rules", "check")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("1 problem(s):\n"), result.stderr
    assert (
        "  - sources.toml: sources.pharmacy.tables.prescriptions.columns: column 'batch_number' "
        "of table 'prescriptions' is not described, so people would see its database name. "
        'Add batch_number = { fr = "...", en = "...", kind = "text" }, or batch_number = '
        "{ shown = false } if it is a technical key."
    ) in result.stderr


def test_rules_check_refuses_a_described_column_the_source_does_not_have(
    make_app, warehouse, tmp_path
):
    """A described column missing from the live table is named, with the closest one."""
    sources = edited(
        SOURCES_TEXT,
        'dosage = { fr = "Posologie", en = "Dosage" }',
        'dosage = { fr = "Posologie", en = "Dosage" }\ndosages = { fr = "P", en = "P" }',
    )
    app = build(make_app, tmp_path, sources=sources)
    result = run(app, "rules", "check")
    assert result.exit_code == 1, result.output
    assert (
        "sources.pharmacy.tables.prescriptions.columns.dosages: column 'dosages' is not in "
        "table 'prescriptions'. Did you mean 'dosage'?"
    ) in result.stderr


def test_show_code_belongs_to_codes_only(make_app, tmp_path):
    """show_code on a column that is not a code is refused, naming the column."""
    refused(
        make_app,
        tmp_path,
        f'{STAYS}.columns.ward: meaning, codes and show_code are for kind = "code" only.',
        sources=edited(
            SOURCES_TEXT, WARD, 'ward = { fr = "Service", en = "Ward", show_code = false }'
        ),
    )


def test_the_demo_catalogue_marks_its_free_text_that_may_name_other_people(app):
    """Referral letters' body and shared care records' summary: reviewed before release."""
    catalogue = services_of(app).catalogue
    marked = {
        (table.name, column.name)
        for source in catalogue.sources
        for table in source.tables
        for column in table.mentions_others
    }
    assert marked == {("referral_letters", "body"), ("shared_care_records", "summary")}


ADMITTED = 'admitted_on = { fr = "Entrée", en = "Admitted", kind = "date" }'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            ADMITTED,
            'admitted_on = { fr = "Entrée", en = "Admitted", kind = "date", '
            "mentions_others = true }",
            f"{STAYS}.columns.admitted_on.mentions_others: is for free text "
            '(kind = "text"), where a passage about someone else can be masked; this column '
            'is kind = "date". Remove mentions_others.',
        ),
        (
            WARD,
            'ward = { fr = "Service", en = "Ward", mentions_others = "yes" }',
            f"{STAYS}.columns.ward.mentions_others: must be true or false.",
        ),
        (
            "\nlabel = { shown = false }  # shown with its code, above",
            "\nlabel = { shown = false, mentions_others = true }",
            "sources.hospital.tables.diagnoses.columns.label.mentions_others: is for a column "
            "people see",
        ),
    ],
    ids=["not-text", "not-boolean", "hidden"],
)
def test_mentions_others_is_for_shown_free_text_only(make_app, tmp_path, old, new, expected):
    """A column that may name other people must be text people see, and say so as a boolean."""
    refused(make_app, tmp_path, expected, sources=edited(SOURCES_TEXT, old, new))

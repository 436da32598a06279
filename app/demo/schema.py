"""The demo warehouse's tables: their columns, their indexes, and how rows are written.

``SCHEMA`` is the contract of ``catalogue/WAREHOUSE_SCHEMA.md`` (a test
compares them); the generator fills a ``Rows`` per chunk, which ``insert``
writes with one ``executemany`` per table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

Row = tuple[Any, ...]

SCHEMA: dict[str, tuple[str, ...]] = {
    "persons": (
        "person_id INTEGER PRIMARY KEY",
        "nir TEXT NULL",
        "last_name TEXT NOT NULL",
        "first_name TEXT NOT NULL",
        "birth_date DATE NOT NULL",
        "sex TEXT NOT NULL CHECK (sex IN ('F', 'M'))",
        "email TEXT NULL",
        # The date of death (R.1112-7; heirs' requests) and a refusal, while alive, that the
        # relatives see the record after the death (CSP L.1110-4 V).
        "died_on DATE NULL",
        "refused_access_after_death INTEGER NOT NULL DEFAULT 0 "
        "CHECK (refused_access_after_death IN (0, 1))",
    ),
    "hospital_stays": (
        "stay_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "hospital TEXT NOT NULL",
        "ward TEXT NOT NULL",
        "admitted_on DATE NOT NULL",
        "discharged_on DATE NOT NULL",
        # The minor patient asked to keep this stay secret from their parents (L.1111-5).
        "minor_secret INTEGER NOT NULL DEFAULT 0 CHECK (minor_secret IN (0, 1))",
    ),
    "diagnoses": (
        "diagnosis_id INTEGER PRIMARY KEY",
        "stay_id INTEGER NOT NULL",
        "person_id INTEGER NOT NULL",
        "icd10_code TEXT NOT NULL",
        "label TEXT NOT NULL",
        "recorded_on DATE NOT NULL",
        # Kept secret as its stay is (L.1111-5): a diagnosis would tell what the stay was.
        "minor_secret INTEGER NOT NULL DEFAULT 0 CHECK (minor_secret IN (0, 1))",
    ),
    "transfusions": (
        "transfusion_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "product TEXT NOT NULL",
        "units INTEGER NOT NULL",
        "transfused_on DATE NOT NULL",
    ),
    "reimbursements": (
        "reimbursement_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "act_code TEXT NOT NULL",
        "amount_eur REAL NOT NULL",
        "care_date DATE NOT NULL",
        "paid_on DATE NOT NULL",
        "fraud_suspected INTEGER NOT NULL CHECK (fraud_suspected IN (0, 1))",
    ),
    "referral_letters": (
        "letter_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "sender TEXT NOT NULL",
        "recipient TEXT NOT NULL",
        "specialty TEXT NOT NULL",
        "sent_on DATE NOT NULL",
        "body TEXT NOT NULL",
    ),
    "shared_care_records": (
        "record_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "author TEXT NOT NULL",
        "document_type TEXT NOT NULL",
        "created_on DATE NOT NULL",
        "summary TEXT NOT NULL",
    ),
    "prescriptions": (
        "prescription_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "prescriber TEXT NOT NULL",
        "drug TEXT NOT NULL",
        "dosage TEXT NOT NULL",
        "prescribed_on DATE NOT NULL",
    ),
    "lab_results": (
        "result_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "test_code TEXT NOT NULL",
        "test_label TEXT NOT NULL",
        "value TEXT NOT NULL",
        "unit TEXT NOT NULL",
        "sampled_on DATE NOT NULL",
    ),
    "research_linkage": (
        "pseudonym TEXT PRIMARY KEY",
        "person_id INTEGER NOT NULL",
    ),
    "research_extracts": (
        "extract_row_id INTEGER PRIMARY KEY",
        "pseudonym TEXT NOT NULL",
        "cohort TEXT NOT NULL",
        "extracted_on DATE NOT NULL",
        "variables TEXT NOT NULL",
    ),
    "contact_preferences": (
        "preference_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'courrier'))",
        "opted_in INTEGER NOT NULL CHECK (opted_in IN (0, 1))",
        "updated_on DATE NOT NULL",
    ),
    "objection_registry": (
        "entry_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "scope TEXT NOT NULL",
        "registered_on DATE NOT NULL",
    ),
}
TABLES = tuple(SCHEMA)

# (name, table, column): created after the inserts, which is several times
# faster than maintaining them row by row.
INDEXES: tuple[tuple[str, str, str], ...] = (
    ("ix_persons_nir", "persons", "nir"),
    ("ix_persons_birth_date", "persons", "birth_date"),
    ("ix_research_linkage_person_id", "research_linkage", "person_id"),
    ("ix_research_extracts_pseudonym", "research_extracts", "pseudonym"),
    *(
        (f"ix_{table}_person_id", table, "person_id")
        for table in (
            "hospital_stays",
            "diagnoses",
            "transfusions",
            "reimbursements",
            "referral_letters",
            "shared_care_records",
            "prescriptions",
            "lab_results",
            "contact_preferences",
            "objection_registry",
        )
    ),
)

# Rows are written without their surrogate key where SQLite may number them
# itself (one more than the largest, so still deterministic); persons and
# stays carry theirs because other rows point at them.
_KEYED_BY_GENERATOR = frozenset({"persons", "hospital_stays", "research_linkage"})
# Trailing columns most rows leave at their default: a shorter row is padded with these.
TRAILING_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "persons": (None, 0),
    "hospital_stays": (0,),
    "diagnoses": (0,),
}


def _insert_sql(table: str) -> str:
    names = [column.split()[0] for column in SCHEMA[table]]
    if table not in _KEYED_BY_GENERATOR:
        names = names[1:]
    marks = ", ".join("?" * len(names))
    # Only names from SCHEMA above are interpolated, never data.
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608


INSERT_SQL = {table: _insert_sql(table) for table in TABLES}
INSERT_COLUMNS = {
    table: [c.split()[0] for c in SCHEMA[table]][0 if table in _KEYED_BY_GENERATOR else 1 :]
    for table in TABLES
}


@dataclass
class Rows:
    """The rows of one chunk, table by table, until they are inserted."""

    tables: dict[str, list[Row]]

    @classmethod
    def empty(cls) -> Rows:
        return cls({table: [] for table in TABLES})


def create_schema(connection: sqlite3.Connection) -> None:
    for table, columns in SCHEMA.items():
        connection.execute(f"CREATE TABLE {table} ({', '.join(columns)})")


def insert(connection: sqlite3.Connection, rows: Rows, counts: dict[str, int]) -> None:
    for table, table_rows in rows.tables.items():
        if table_rows:
            defaults = TRAILING_DEFAULTS.get(table)
            if defaults:
                width = len(INSERT_COLUMNS[table])
                table_rows = [
                    row
                    if len(row) == width
                    else row + defaults[len(defaults) - width + len(row) :]
                    for row in table_rows
                ]
            connection.executemany(INSERT_SQL[table], table_rows)
            counts[table] += len(table_rows)

"""Finding a request by its requester's name: keyed digests of the folded names, indexed.

The names stay where they are; the queue looks up HMAC digests under
NAME_SEARCH_KEYS (app/name_search.py), written at filing and by migration 0014.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import column as sa_column
from sqlalchemy import insert, inspect, select
from sqlalchemy import table as sa_table

from app.casework import queue
from app.extensions import db
from app.models import Request
from app.name_search import NameIndex, rehash
from app.services import services_of
from tests.casework.test_queue import TODAY, add_request, refs
from tests.conftest import ROOT, VALID_FILING, file_form
from tests.staffkit import staff_client

KEY = "k" * 40
OTHER = "o" * 40


def named(session, names: NameIndex, first: str, last: str, **fields) -> Request:
    request = add_request(session, **fields)
    request.first_name, request.last_name = first, last
    for column, value in names.digests(first, last).items():
        setattr(request, column, value)
    session.flush()
    return request


def found(session, names: NameIndex, term: str) -> list[str]:
    flt, problems = queue.parse_filter({"q": term}, 0, ())
    assert problems == []
    return refs(queue.page(session, queue.with_names(flt, names), TODAY))


def test_a_name_is_found_whatever_its_case_accents_hyphens_and_apostrophes(session):
    """ "n'diaye", "NDIAYE" and "N’Diaye" find the same request; another name does not."""
    names = NameIndex.of([KEY])
    wanted = named(session, names, "Aïssatou", "N’Diaye")
    named(session, names, "Aïssatou", "Diaye")
    for term in ("n'diaye", "NDIAYE", "N’Diaye", " n-diaye "):
        assert found(session, names, term) == [wanted.reference], term


def test_first_and_last_name_are_found_in_either_order(session):
    """ "Élodie Martin-Dupont", "martin dupont elodie" and the last name alone all find it."""
    names = NameIndex.of([KEY])
    wanted = named(session, names, "Élodie", "Martin-Dupont")
    named(session, names, "Marie", "Martin-Dupont", reference="DSR-2026-OTHER1")
    assert found(session, names, "Élodie Martin-Dupont") == [wanted.reference]
    assert found(session, names, "martin dupont elodie") == [wanted.reference]
    assert sorted(found(session, names, "Martin-Dupont")) == sorted(
        [wanted.reference, "DSR-2026-OTHER1"]
    )


def test_a_part_of_a_name_finds_nothing(session):
    """A digest cannot do substring: "Martin" does not find Martin-Dupont."""
    names = NameIndex.of([KEY])
    named(session, names, "Élodie", "Martin-Dupont")
    assert found(session, names, "Martin") == []
    assert found(session, names, "Élodie") == []


def test_a_partial_reference_is_still_found_beside_names(session):
    """The last four characters of a reference find it, as before the name search."""
    names = NameIndex.of([KEY])
    wanted = named(session, names, "Jeanne", "Durand", reference="DSR-2026-7K3QF9")
    named(session, names, "Paul", "Durand", reference="DSR-2026-AAAAAA")
    assert found(session, names, "3qf9") == [wanted.reference]


def test_digests_depend_on_the_key_and_hold_no_name():
    """Another key gives other digests; a digest is hex, not the name or its folding."""
    one, two = NameIndex.of([KEY]), NameIndex.of([OTHER])
    digests = one.digests("Élodie", "Martin-Dupont")
    assert digests != two.digests("Élodie", "Martin-Dupont")
    for value in digests.values():
        assert value is not None and len(value) == 64 and "martin" not in value
    assert one.digests("", "") == {"last_name_digest": None, "full_name_digest": None}


def test_after_a_rotation_both_keys_search_until_rehash_rewrites_the_digests(session):
    """A new key first: old digests are still found; ``rehash`` rewrites them under it."""
    old = NameIndex.of([OTHER])
    wanted = named(session, old, "Jeanne", "Durand")
    rotated = NameIndex.of([KEY, OTHER])
    assert found(session, rotated, "Durand") == [wanted.reference]
    assert rehash(session, rotated) == 1
    assert found(session, NameIndex.of([KEY]), "Jeanne Durand") == [wanted.reference]
    assert rehash(session, rotated) == 0


def test_filing_writes_the_digests_on_either_database(app):
    """The public form's filing stores the digests (the SQLite path or the PostgreSQL CTE)."""
    answer = file_form(app.test_client(), VALID_FILING)
    assert answer.status_code == 303
    names = services_of(app).names
    with app.app_context():
        stored = db.session.execute(
            select(Request.last_name_digest, Request.full_name_digest)
        ).one()
    expected = names.digests(VALID_FILING["first_name"], VALID_FILING["last_name"])
    assert tuple(stored) == (expected["last_name_digest"], expected["full_name_digest"])


def test_the_migration_fills_the_digests_and_goes_down_again(make_app, tmp_path):
    """From 0013 up: existing requests get their digests, purged ones none; and down again."""
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrating.sqlite3'}")
    names = services_of(app).names
    directory = str(ROOT / "migrations")
    table = Request.__table__
    # The table as 0013 knew it: without the digest columns.
    old_table = sa_table(
        "requests", *[sa_column(c.name) for c in table.c if not c.name.endswith("_name_digest")]
    )
    with app.app_context():
        upgrade(directory=directory, revision="0013")
        with db.engine.begin() as connection:
            for first, last in (("Jeanne", "N'Diaye"), ("", "")):
                values = {
                    "kind": "access",
                    "status": "triage",
                    "locale": "fr",
                    "first_name": first,
                    "last_name": last,
                    "birth_date": date(1975, 3, 2),
                    "email": "j@example.fr",
                    "email_normalized": "j@example.fr",
                    "version": 1,
                    "has_retained": False,
                    "medical_deadline": False,
                    "paused_days": 0,
                    "assurance": "email",
                    "created_at": datetime(2026, 12, 1, tzinfo=UTC),
                }
                connection.execute(insert(old_table).values(values))
        upgrade(directory=directory)
        with db.engine.connect() as connection:
            rows = connection.execute(
                select(Request.last_name_digest, Request.full_name_digest).order_by(Request.id)
            ).all()
        downgrade(directory=directory, revision="0013")
        with db.engine.connect() as connection:
            left = {c["name"] for c in inspect(connection).get_columns("requests")}
        upgrade(directory=directory)  # back to head: the fixture empties every table after
        db.engine.dispose()
    expected = names.digests("Jeanne", "N'Diaye")
    assert tuple(rows[0]) == (expected["last_name_digest"], expected["full_name_digest"])
    assert tuple(rows[1]) == (None, None)
    assert "last_name_digest" not in left and "full_name_digest" not in left


def test_the_queue_page_finds_a_request_by_name(app):
    """Typed in the queue's search box, a requester's name finds the case, the name not shown."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    names = services_of(app).names
    with app.app_context():
        named(db.session(), names, "Élodie", "Martin-Dupont", reference="DSR-2026-NAMED1")
        add_request(db.session(), reference="DSR-2026-OTHER2")
        db.session.commit()
        db.session.remove()
    html = client.get("/staff/queue?q=martin+dupont&lang=en").get_data(as_text=True)
    assert "DSR-2026-NAMED1" in html and "DSR-2026-OTHER2" not in html
    assert "Martin-Dupont" not in html.replace('value="martin dupont"', "")

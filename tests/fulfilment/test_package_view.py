"""The access package as people read it: Camille's, built from her demo records.

No database column name, no internal id; dates, euros, yes/no and codes
written for a person; who holds the data first, then a summary and the
contents. The JSON keeps the source column names and carries the labels.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask

from app.demo.personas import PERSONAS
from app.fulfilment import package_document
from app.fulfilment.package_view import cell
from app.rules import routing
from app.services import services_of

SNAKE = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
GENERATED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def camille_package(
    app: Flask, locale: str, kind: str = "access", for_other: bool = False
) -> package_document.Built:
    """Camille's package, built from her access plan over the test's demo warehouse."""
    services = services_of(app)
    camille = next(p for p in PERSONAS if p.first_name == "Camille")
    applicant = routing.Applicant(
        camille.last_name, camille.first_name, camille.birth_date, camille.email, camille.nir
    )
    draft = routing.compute(
        applicant,
        kind,
        catalogue=services.catalogue,
        policy=services.policy,
        warehouse=services.warehouse,
        today=GENERATED.date(),
        confirmed=True,
    )
    snap = package_document.Snapshot(
        request_id=1,
        reference="DSR-2026-7K3QF9",
        kind=kind,
        locale=locale,
        subjects=dict(draft.subjects),
        lines=draft.lines,
        generated_at=GENERATED,
        for_other=for_other,
    )
    return package_document.build(snap, services)


def visible_text(html: str) -> str:
    """What a reader sees, without the free-text values the sources hold as written."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["style", "head"]):
        tag.decompose()
    return soup.get_text(" ")


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_camilles_package_shows_no_column_name_and_no_internal_id(app, warehouse, locale):
    """Headings and labels are words; the keys, pseudonyms and hidden columns never appear."""
    built = camille_package(app, locale)
    document = json.loads(built.json_text)
    assert built.records > 20
    soup = BeautifulSoup(built.html_text, "html.parser")
    labels = [t.get_text(" ", strip=True) for t in soup.find_all(["th", "dt", "h2", "h3"])]
    labels += [td.get("data-label", "") for td in soup.find_all("td")]
    assert labels and not [x for x in labels if SNAKE.search(x)], labels
    catalogue = services_of(app).catalogue
    names = {c.name for s in catalogue.sources for t in s.tables for c in t.columns}
    text = visible_text(built.html_text)
    # Free text (a research extract's variables) may hold what looks like a name: not a column.
    assert not [n for n in names if "_" in n and re.search(rf"\b{n}\b", text)]
    connection = sqlite3.connect(warehouse)
    try:
        pseudonyms = [r[0] for r in connection.execute("SELECT pseudonym FROM research_linkage")]
    finally:
        connection.close()
    assert not [p for p in pseudonyms if p in built.html_text]
    # The JSON keeps them: it is the machine-readable copy.
    assert any("pseudonym" in e["fields"] for e in document["records"])


def test_the_french_package_opens_with_the_holder_a_summary_and_the_contents(app):
    """Controller, DPO, counts per category with their period, a table of contents, in order."""
    html = camille_package(app, "fr").html_text
    config = app.config
    soup = BeautifulSoup(html, "html.parser")
    headings = [h.get_text(strip=True) for h in soup.find_all("h2")]
    assert headings[:3] == ["Qui détient vos données", "En résumé", "Sommaire"]
    holder = soup.find("section", attrs={"aria-labelledby": "holder"}).get_text(" ")
    assert config["CONTROLLER_NAME"] in holder and config["CONTROLLER_ADDRESS"] in holder
    assert config["CONTACT_EMAIL"] in holder and config["DPO_ADDRESS"] in holder
    summary = soup.find("section", attrs={"aria-labelledby": "summary"}).get_text(" ")
    assert re.search(r"\d+ enregistrements", summary)
    assert re.search(r"du \d\d/\d\d/\d{4} au \d\d/\d\d/\d{4}", summary)
    assert "Au total\u00a0:" in summary
    links = [a["href"] for a in soup.find("nav").find_all("a")]
    assert links[-1] == "#rights" and all(soup.find(id=x[1:]) for x in links)
    assert "1 enregistrements" not in html and not re.search(r"\b1 records\b", html)


@pytest.mark.parametrize(
    ("locale", "own", "persons"),
    [
        ("fr", ["Vos données de santé", "Qui détient vos données", "Vos droits"], [
            "Données de santé de la personne que vous représentez",
            "Qui détient les données de la personne",
            "Les droits de la personne",
        ]),
        ("en", ["Your health data", "Who holds your data", "Your rights"], [
            "Health data of the person you act for",
            "Who holds the person's data",
            "The person's rights",
        ]),
    ],
)  # fmt: skip
def test_a_package_for_someone_else_speaks_of_the_persons_data(app, locale, own, persons):
    """An heir's, a parent's or a guardian's copy is the person's data, not the reader's:
    its title, headings, introduction and rights say so; one's own copy says "your"."""
    for for_other, wanted, unwanted in ((False, own, persons), (True, persons, own)):
        built = camille_package(app, locale, for_other=for_other)
        soup = BeautifulSoup(built.html_text, "html.parser")
        headings = [h.get_text(strip=True) for h in soup.find_all(["h1", "h2"])]
        assert all(w in headings for w in wanted), headings
        assert not any(u in headings for u in unwanted), headings
        assert json.loads(built.json_text)["for_someone_else"] is for_other
        text = visible_text(built.html_text)
        if for_other:
            assert ("vous concernant" if locale == "fr" else "about you") not in text
            assert ("qui vous ont pris en charge" if locale == "fr" else "treated you") not in text


def test_values_are_written_for_people(app):
    """ISO dates, 46.2 and 0/1 become 29/10/2025, 46,20 €, Non; codes carry their meaning."""
    french = camille_package(app, "fr").html_text
    english = camille_package(app, "en").html_text
    assert not re.search(r">\d{4}-\d\d-\d\d<", french)
    assert re.search(r"\d+,\d\d\u00a0€", french) and re.search(r"€\d+\.\d\d", english)
    assert ">Non<" in french and ">No<" in english
    assert '<span class="code">I48' in french  # ICD-10, its label from the data beside it
    assert "Fibrillation" in french
    assert '<span class="code">PHA</span>Médicaments (pharmacie)' in french
    assert '<span class="code">PHA</span>Medicines (pharmacy)' in english


def test_each_kind_is_formatted_and_unknown_codes_stay_as_they_are():
    """A code missing from its list is shown alone; an empty value is a dash."""
    doc: dict[str, Any] = {"language": "en", "code_lists": {"acts": {"G": "GP consultation"}}}
    code = {"kind": "code", "codes": "acts"}
    assert (
        cell("G", code, {}, doc).code == "G" and cell("G", code, {}, doc).text == "GP consultation"
    )
    assert cell("ZZZ", code, {}, doc).text == "ZZZ" and cell("ZZZ", code, {}, doc).code == ""
    assert cell(None, {"kind": "date"}, {}, doc).text == "—"
    assert cell("2025-10-29", {"kind": "date"}, {}, doc).text == "29/10/2025"
    assert cell(1, {"kind": "yes_no"}, {}, doc).text == "Yes"
    assert cell("1234.5", {"kind": "number"}, {}, doc).text == "1,234.5"
    assert cell(46.2, {"kind": "euros"}, {}, {**doc, "language": "fr"}).text == "46,20\u00a0€"


def test_the_json_keeps_the_column_names_and_adds_labels_and_kinds(app):
    """Each category lists its tables' columns: name, shown, and for shown ones label and kind."""
    document = json.loads(camille_package(app, "en").json_text)
    assert document["format_version"] == 1
    assert document["controller"]["name"] == app.config["CONTROLLER_NAME"]
    reimbursements = next(
        t for c in document["categories"] for t in c["tables"] if t["table"] == "reimbursements"
    )
    columns = {c["name"]: c for c in reimbursements["columns"]}
    assert columns["reimbursement_id"] == {"name": "reimbursement_id", "shown": False}
    assert columns["amount_eur"] == {
        "name": "amount_eur",
        "shown": True,
        "label": "Amount reimbursed",
        "kind": "euros",
    }
    assert columns["act_code"]["codes"] == "acts"
    assert document["code_lists"]["acts"]["PHA"] == "Medicines (pharmacy)"
    record = next(e for e in document["records"] if e["table"] == "reimbursements")
    assert set(record["fields"]) == set(columns)  # the source's own names, every column
    for category in document["categories"]:
        if category["records"]:
            assert category["period"]["from"] <= category["period"]["to"]


def test_the_page_prints_on_a4_with_the_reference_on_every_page(app):
    """An @page rule for A4 with the reference in the margin; a page break per category."""
    html = camille_package(app, "fr").html_text
    style = BeautifulSoup(html, "html.parser").find("style").get_text()
    assert "size: A4" in style
    assert '@bottom-left { content: "Référence DSR-2026-7K3QF9"' in style
    assert "section.category { break-before: page; }" in style
    assert "default-src 'none'" in html


def test_a_code_that_is_a_word_shows_its_meaning_alone(app):
    """Contact channels (show_code = false): "E-mail", not "email E-mail"; numbers in French."""
    html = camille_package(app, "fr").html_text
    assert '<td data-label="Moyen de contact">E-mail</td>' in html
    assert re.search(r'data-label="Résultat">\d+,\d+<', html)

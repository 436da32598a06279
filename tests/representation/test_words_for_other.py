"""For someone else, the public pages and the emails word the right and the data as the person's.

A parent, a guardian, a mandatary or an heir reads "Access to the data of the
person you act for", never "Access to my data"; a request for oneself keeps
the requester's own words (``app.labels.kind_label``).
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from tests.conftest import VALID_FILING, post_form, run_jobs, text_of
from tests.identity.kit import prove
from tests.outbox.samples import Sample, job_for, sent
from tests.representation.kit import FILINGS, decide_all, file_and_verify, send_proof
from tests.staffkit import staff_client

RIGHT = {
    ("self", "fr"): "Droit d’accès à mes données",
    ("self", "en"): "Access to my data",
    ("other", "fr"): "Droit d’accès aux données de la personne que vous représentez",
    ("other", "en"): "Access to the data of the person you act for",
}
ERASURE = {
    ("self", "fr"): "Droit à l’effacement de mes données",
    ("self", "en"): "Erasure of my data",
    ("other", "fr"): "Droit à l’effacement des données de la personne que vous représentez",
    ("other", "en"): "Erasure of the data of the person you act for",
}


def _summary(page: bytes, terms: tuple[str, ...]) -> str:
    soup = BeautifulSoup(page, "html.parser")
    for entry in soup.select("dl div"):
        term = entry.find("dt")
        if term is not None and term.get_text(strip=True) in terms:
            return " ".join(entry.find("dd").get_text(" ", strip=True).split())
    raise AssertionError(f"no {terms} in the page")


@pytest.mark.parametrize("who", ["self", "other"])
def test_the_status_page_names_the_right_as_the_requester_reads_it(app, who):
    data = FILINGS["parent"] if who == "other" else {**VALID_FILING, "kind": "access"}
    client, _, _ = file_and_verify(app, data)
    fr = client.get("/status?lang=fr").data
    assert _summary(fr, ("Droit exercé",)) == RIGHT[(who, "fr")]
    en = client.get("/status?lang=en").data
    assert _summary(en, ("Right exercised",)) == RIGHT[(who, "en")]
    page = en.decode() + fr.decode()
    if who == "other":
        assert RIGHT[("self", "fr")] not in page and RIGHT[("self", "en")] not in page


@pytest.mark.parametrize("who", ["self", "other"])
def test_the_check_page_reads_the_answers_back_as_the_persons(app, client, who):
    data = FILINGS["parent"] if who == "other" else {**VALID_FILING, "kind": "access"}
    page = post_form(client, "/", data, action="/")
    assert page.status_code == 200
    soup = BeautifulSoup(page.data, "html.parser")
    values = [" ".join(dd.get_text(" ", strip=True).split()) for dd in soup.select("dd")]
    if who == "other":
        assert "Consulter les données de la personne que vous représentez" in values
        assert "Consulter mes données" not in values
    else:
        assert "Consulter mes données" in values


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("who", ["self", "other"])
def test_the_acknowledgement_names_the_right_as_the_requester_reads_it(app, session, who, lang):
    acts_as = "guardian" if who == "other" else "self"
    sample = Sample("acknowledgement", kind="erasure", acts_as=acts_as)
    body = text_of(sent(app, session, job_for(app, session, sample, lang)))
    label = "Droit exercé\u00a0:" if lang == "fr" else "Right exercised:"
    assert f"{label} {ERASURE[(who, lang)]}" in body
    if who == "other":
        assert ERASURE[("self", lang)] not in body


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_completion_email_for_someone_else_never_says_your_data(app, session, lang):
    sample = Sample("package_ready", status="fulfilling", acts_as="heir", extra={"hours": 72})
    message = sent(app, session, job_for(app, session, sample, lang))
    text = str(message["Subject"]) + text_of(message)
    mine = ("vos données", "mes données") if lang == "fr" else ("your data", "my data")
    for words in mine:
        assert words not in text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_once_proven_the_plan_speaks_of_the_persons_data(app, lang):
    """Nothing found: the page says so of the person, not of the requester."""
    data = FILINGS["parent"]
    client, request_id, reference = file_and_verify(app, data)
    prove(app, request_id)
    assert send_proof(client, "family_record_book").status_code == 303
    agent, _ = staff_client(app, "agent@example.org", "agent")
    assert decide_all(agent, reference, accept=True) == 1
    run_jobs(app)
    page = client.get(f"/status?lang={lang}").get_data(as_text=True)
    if lang == "fr":
        assert "aucune donnée concernant la personne que vous représentez" in page
        assert "vous concernant" not in page
    else:
        assert "We found no data about the person you act for" in page
        assert "about you" not in page

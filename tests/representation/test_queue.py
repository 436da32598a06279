"""The queue marks requests made for someone else and filters those awaiting their proof."""

from __future__ import annotations

from bs4 import BeautifulSoup

from app.casework import queue
from tests.representation.kit import FILINGS, decide_all, file_and_verify, send_proof
from tests.staffkit import staff_client


def _references(page: bytes) -> set[str]:
    soup = BeautifulSoup(page, "html.parser")
    return {a.get_text(strip=True) for a in soup.select("table a[href^='/staff/cases/']")}


def test_the_filter_shows_requests_awaiting_their_proof_and_the_marker_says_so(app):
    _, _, waiting = file_and_verify(app, FILINGS["guardian"])
    parent, _, proven = file_and_verify(app, FILINGS["parent"])
    assert send_proof(parent, "family_record_book").status_code == 303
    agent, _ = staff_client(app, "agent@example.org", "agent")
    assert decide_all(agent, proven, accept=True) == 1
    everything = agent.get("/staff/queue")
    assert {waiting, proven} <= _references(everything.data)
    text = everything.get_data(as_text=True)
    assert "Pour quelqu’un d’autre, preuve du lien attendue" in text
    assert "Preuve du lien attendue" in text  # the quick filter
    filtered = agent.get("/staff/queue?proof=1")
    assert filtered.status_code == 200
    assert waiting in _references(filtered.data)
    assert proven not in _references(filtered.data)


def test_the_filter_is_parsed_and_kept_in_links():
    flt, problems = queue.parse_filter({"proof": "1"}, me_id=1)
    assert flt.proof and problems == []
    assert flt.args()["proof"] == "1"
    _, problems = queue.parse_filter({"proof": "maybe"}, me_id=1)
    assert problems == ["proof"]

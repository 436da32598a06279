"""The queue sorted by a column, filtered by the day received, searched by part of a reference,
and a DPO's "waiting for my approval" view (issue 15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from app.casework import export, queue
from app.extensions import db
from tests.casework.test_queue import TODAY, add_agent, add_request, filtered, refs
from tests.staffkit import staff_client


def _all_pages(session, flt: queue.QueueFilter, size: int = 2) -> list[str]:
    """Every row, page after page, following the "next" keys as the links do."""
    seen: list[str] = []
    after = None
    while True:
        shown = queue.page(session, flt, TODAY, after=after, size=size)
        seen += refs(shown)
        if shown.next_key is None:
            return seen
        after = queue.parse_key(shown.next_key, flt.sort)
        assert after is not None


@pytest.mark.parametrize("sort", sorted(queue.SORTS))
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_order_pages_through_every_row_once(session, sort: str, direction: str) -> None:
    """Each sortable column, either way, gives each open row once, in order, across pages."""
    alice = add_agent(session, "alice@example.org")
    bob = add_agent(session, "bob@example.org")
    for n, (kind, status) in enumerate(
        [
            ("access", "triage"),
            ("erasure", "in_review"),
            ("objection", "triage"),
            ("access", "in_review"),
            ("portability", "awaiting_requester"),
        ]
    ):
        add_request(
            session,
            kind=kind,
            status=status,
            due_in=n * 3 % 7,
            period=10 + n * 5,
            assignee_id=[None, alice.id, bob.id][n % 3],
        )
    flt, problems = queue.parse_filter({"sort": sort, "dir": direction}, 0)
    assert problems == []
    whole = queue.page(session, flt, TODAY, size=50).rows
    values = [queue.key_of(row, sort) for row in whole]
    assert values == sorted(values, reverse=direction == "desc")
    assert _all_pages(session, flt) == [row.reference for row in whole]
    assert len(whole) == 5
    exported = list(export.export_rows(session, flt, TODAY))[1:]
    assert [line[0] for line in exported] == [row.reference for row in whole]


def test_a_part_of_a_reference_finds_its_case(session) -> None:
    """The last four characters of a reference are enough; '%' is no wildcard."""
    wanted = add_request(session, reference="DSR-2026-7K3QF9")
    add_request(session, reference="DSR-2026-AAAAAA")
    assert refs(filtered(session, q="3qf9")) == [wanted.reference]
    assert refs(filtered(session, q="DSR-2026-7K3QF9")) == [wanted.reference]
    assert refs(filtered(session, q="%")) == []


def test_the_received_dates_bound_the_rows(session) -> None:
    """received_from and received_to keep the requests received between them, both included."""
    early = add_request(session, due_in=0, period=40)
    late = add_request(session, due_in=0, period=5)
    day = TODAY - timedelta(days=5)
    assert refs(filtered(session, received_from=day.isoformat())) == [late.reference]
    assert refs(filtered(session, received_to=(day - timedelta(days=1)).isoformat())) == [
        early.reference
    ]
    _flt, problems = queue.parse_filter({"received_from": "yesterday", "sort": "name"}, 0)
    assert problems == ["received_from", "sort"]


def test_waiting_for_my_approval_leaves_out_what_i_prepared(session) -> None:
    """A DPO's view lists decisions prepared by others, never their own (four eyes)."""
    me = add_agent(session, "dpo@example.org", "dpo")
    other = add_agent(session, "agent@example.org")
    mine = add_request(
        session, status="in_review", pending_decision="approve", prepared_by_id=me.id
    )
    theirs = add_request(
        session, status="in_review", pending_decision="refuse", prepared_by_id=other.id
    )
    add_request(session, status="in_review")
    assert refs(filtered(session, me_id=me.id, approval="me")) == [theirs.reference]
    assert queue.waiting_for(session, me.id) == 1
    assert mine.reference


def test_the_column_headers_are_sort_links_with_aria_sort(app) -> None:
    """Each sortable header is a link; the sorted one says which way through aria-sort."""
    client, _account = staff_client(app, "dpo@example.org", "dpo")
    with app.app_context():
        add_request(db.session())
        add_request(db.session(), due_in=3)
        db.session.commit()
    html = client.get("/staff/queue?sort=received&dir=desc").get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    headers = {th.get("aria-sort") for th in soup.select("table.queue-table th[aria-sort]")}
    assert headers == {"descending", "none"}
    assert len(soup.select("table.queue-table th[aria-sort] a")) == 5
    assert soup.find("a", string=lambda s: s and "attente de mon approbation" in s)

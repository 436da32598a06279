"""Saved queue filters: a name and a query string per member of staff, at most ten each."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.casework import saved_filters
from app.extensions import db
from app.models import SavedFilter, StaffUser, utcnow
from tests.casework.test_queue import add_agent
from tests.conftest import csrf_from
from tests.staffkit import staff_client


def _save(client, name: str, query: str = "due=overdue&kind=erasure"):
    page = client.get(f"/staff/queue?{query}")
    assert page.status_code == 200
    soup = BeautifulSoup(page.data, "html.parser")
    kept = soup.select_one("form.save-filter input[name=query]")["value"]
    return client.post(
        "/staff/queue/filters?lang=en",
        data={"csrf_token": csrf_from(page.data), "name": name, "query": kept},
    )


def _kept(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(SavedFilter.name, SavedFilter.query).order_by(SavedFilter.name)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_a_filter_is_saved_without_its_search_term_and_listed_on_the_queue(app):
    """Saved from the queue: kept in the canonical form, "q" dropped, a link on the page."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    answer = _save(client, "  Erasures   late ", "q=Dupont&kind=erasure&due=overdue&sort=received")
    assert answer.status_code == 303
    assert (
        answer.headers["Location"] == "/staff/queue?kind=erasure&due=overdue&sort=received&dir=asc"
    )
    assert _kept(app) == [("Erasures late", "kind=erasure&due=overdue&sort=received&dir=asc")]
    page = BeautifulSoup(client.get("/staff/queue?lang=en").data, "html.parser")
    link = page.select_one(".saved-filters li a")
    assert link.get_text() == "Erasures late"
    assert link["href"] == "/staff/queue?kind=erasure&due=overdue&sort=received&dir=asc"


def test_saving_a_name_again_replaces_its_query(app):
    """One name per person: the second save under "Mine" changes the query, not the count."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    assert _save(client, "Mine", "assignee=me").status_code == 303
    assert _save(client, "Mine", "assignee=me&due=overdue").status_code == 303
    assert _kept(app) == [("Mine", "due=overdue&assignee=me")]


def test_the_eleventh_filter_is_refused_with_a_message(app):
    """Ten kept: the eleventh is a 422 page that says to delete one; still ten."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    for i in range(10):
        assert _save(client, f"Filter {i}").status_code == 303
    answer = _save(client, "One too many")
    assert answer.status_code == 422
    assert "You already keep 10 filters" in answer.get_data(as_text=True)
    assert len(_kept(app)) == 10


@pytest.mark.parametrize(("name", "message"), [("   ", "This field is required"), ("x" * 61, "")])
def test_a_bad_name_is_refused_and_nothing_is_kept(app, name, message):
    """An empty name or one over 60 characters: 422, the page explains, nothing saved."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    answer = _save(client, name)
    assert answer.status_code == 422
    soup = BeautifulSoup(answer.data, "html.parser")
    assert soup.select_one("#filter-name-error") is not None
    assert message in soup.select_one("#filter-name-error").get_text()
    assert _kept(app) == []


def test_a_filter_is_deleted_by_its_owner_only(app):
    """Its owner deletes it; another person's delete of it is a 404 and it stays."""
    owner, _ = staff_client(app, "owner@example.org", "agent")
    assert _save(owner, "Late").status_code == 303
    with app.app_context():
        filter_id = db.session.scalar(select(SavedFilter.id))
        db.session.remove()
    other, _ = staff_client(app, "other@example.org", "agent")
    token = csrf_from(other.get("/staff/queue").data)
    assert (
        other.post(
            f"/staff/queue/filters/{filter_id}/delete", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert len(_kept(app)) == 1
    page = owner.get("/staff/queue")
    answer = owner.post(
        f"/staff/queue/filters/{filter_id}/delete", data={"csrf_token": csrf_from(page.data)}
    )
    assert answer.status_code == 303
    assert _kept(app) == []


def test_the_domain_caps_each_person_not_everyone(session):
    """Ten for one person do not stop another's first."""
    one = add_agent(session, "one@example.org")
    two = add_agent(session, "two@example.org")
    for i in range(10):
        saved_filters.save(session, one, f"f{i}", "due=overdue", now=utcnow())
    with pytest.raises(saved_filters.FilterError):
        saved_filters.save(session, one, "f10", "", now=utcnow())
    saved_filters.save(session, two, "f0", "", now=utcnow())


@pytest.mark.postgres
@pytest.mark.slow
def test_sixteen_saves_at_once_keep_ten_at_most(app):
    """Five kept, sixteen different names saved at the same instant: five more win, ten in all."""
    from tests.concurrency.conftest import at_once

    with app.app_context():
        session = db.session()
        person = add_agent(session, "agent@example.org")
        for i in range(5):
            saved_filters.save(session, person, f"kept {i}", "", now=utcnow())
        session.commit()
        person_id = person.id
        db.session.remove()
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=16)

    def prepare(i: int):
        own = Session(engine)
        return own, own.get_one(StaffUser, person_id)

    def run(i: int, ready) -> str:
        own, staff = ready
        with own:
            try:
                saved_filters.save(own, staff, f"new {i}", "due=overdue", now=utcnow())
                own.commit()
                return "saved"
            except saved_filters.FilterError as error:
                own.rollback()
                return error.reason

    try:
        results = at_once(16, prepare, run)
    finally:
        engine.dispose()
    assert results.count("saved") == 5 and results.count("too_many") == 11
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(SavedFilter))
        db.session.remove()
    assert total == 10

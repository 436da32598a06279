"""The status page loads what its template needs up front: a fixed number of SQL
statements however many plans, lines and events the request has (issue 19).

A template that starts lazy-loading a relationship again adds statements per
view, and fails here; so does a plan whose lines are read again once its cards
are cached (app.public.fragments)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event, select

from app.extensions import db
from app.models import AccessPackage, Request, utcnow
from app.public import fragments
from tests.fulfilment.test_packages import fulfilled
from tests.rules.test_routing import file_and_route, filing_for, persona

# The request's columns with its report, its package and the head of the plan in
# force (app.public.status_view); the timeline.
STATUS_PAGE_STATEMENTS = 2
# The first view of a plan in a language also reads its lines, once.
FIRST_VIEW_STATEMENTS = STATUS_PAGE_STATEMENTS + 1


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _plan_of(page: str) -> str:
    start = page.index('<div class="plan-summary">')
    return page[start : page.index("</ul>", page.index('<ul class="plan">')) + 5]


def test_the_status_page_runs_a_fixed_number_of_statements(smtp_app, smtp):
    """Camille's erasure, plan shown: the view's statements do not grow with her plan."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    with smtp_app.app_context():
        request = db.session.get_one(Request, request_id)
        lines = len(request.plan.lines) if request.plan else 0
        db.session.remove()
    assert lines >= 3, "the demo persona should have a plan of several lines"
    fragments.cache_of(smtp_app).clear()
    with statements(smtp_app) as first:
        page = client.get("/status")
    assert page.status_code == 200
    assert 'class="plan' in page.get_data(as_text=True)
    assert len(first) == FIRST_VIEW_STATEMENTS, "\n".join(s[:120] for s in first)
    assert sum("plan_lines" in s for s in first) == 1
    with statements(smtp_app) as seen:
        again = client.get("/status")
    # The cached cards are the ones the first view rendered.
    assert _plan_of(again.get_data(as_text=True)) == _plan_of(page.get_data(as_text=True))
    assert len(seen) == STATUS_PAGE_STATEMENTS, "\n".join(s[:120] for s in seen)
    assert not any("plan_lines" in s for s in seen)
    # The other language is rendered (and its lines read) once too, in that language.
    with statements(smtp_app) as french:
        other = client.get("/status?lang=fr")
    assert len(french) == FIRST_VIEW_STATEMENTS, "\n".join(s[:120] for s in french)
    assert "Ce que nous avons trouvé" in other.get_data(as_text=True)
    assert _plan_of(other.get_data(as_text=True)) != _plan_of(page.get_data(as_text=True))


def test_a_cached_plan_is_hidden_again_when_the_request_falls_below_the_level(smtp_app, smtp):
    """The cards are cached per plan, not the decision to show them: a request whose
    assurance drops below its right's level (or that is disputed) shows no plan,
    whatever the cache holds."""
    client = smtp_app.test_client()
    client.get("/?lang=en")
    request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    shown = client.get("/status").get_data(as_text=True)
    assert 'class="plan"' in shown and len(fragments.cache_of(smtp_app)) >= 1
    cached = _plan_of(shown)
    for change in ({"assurance": "email"}, {"assurance": "none"}, {"disputed_at": utcnow()}):
        with smtp_app.app_context():
            db.session.execute(
                Request.__table__.update().where(Request.id == request_id).values(**change)
            )
            db.session.commit()
        page = client.get("/status")
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'class="plan"' not in text and "plan-summary" not in text, change
        assert cached not in text


def test_an_access_status_page_reads_its_package_in_the_same_statement(smtp_app, smtp):
    """A completed access with its package: the package is read with the request (no lazy
    load of ``request.package``), without its content, and the page still says it is ready."""
    request_id, client = fulfilled(smtp_app, smtp)
    with smtp_app.app_context():
        assert db.session.scalar(
            select(AccessPackage.id).where(AccessPackage.request_id == request_id)
        )
        db.session.remove()
    client.get("/status")  # the report's cards rendered once
    with statements(smtp_app) as seen:
        page = client.get("/status")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "package-title" in text and "72" in text
    assert len(seen) == STATUS_PAGE_STATEMENTS, "\n".join(s[:160] for s in seen)
    package_reads = [s for s in seen if "access_packages" in s]
    assert len(package_reads) == 1 and "FROM requests" in package_reads[0]
    # Megabytes of ciphertext: only whether it is there.
    assert "access_packages.json_encrypted IS NOT NULL" in package_reads[0]
    assert "access_packages.html_encrypted" not in package_reads[0]

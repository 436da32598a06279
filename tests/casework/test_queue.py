"""The staff triage queue: order, filters, search, signals, pages, counts, CSV, access."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.casework import export, queue
from app.deadlines import receipt_date
from app.extensions import db
from app.models import AuditEvent, Request, StaffUser, utcnow
from tests.staffkit import staff_client

TODAY = date(2026, 12, 1)
_serial = itertools.count(1)


def add_request(
    session,
    *,
    due_in: int = 20,
    period: int = 30,
    status: str = "triage",
    kind: str = "access",
    email: str | None = None,
    reference: str | None = None,
    today: date = TODAY,
    **fields,
) -> Request:
    """A verified request due ``due_in`` days after ``today``, received ``period`` days before."""
    number = next(_serial)
    due_on = today + timedelta(days=due_in)
    request = Request(
        reference=reference or f"DSR-2026-{number:06d}",
        kind=kind,
        status=status,
        first_name="Élodie",
        last_name="Secret-Name",
        birth_date=date(1980, 7, 14),
        email=email or f"person{number}@example.fr",
        email_normalized=(email or f"person{number}@example.fr").strip().lower(),
        received_on=due_on - timedelta(days=period),
        due_on=due_on,
        **fields,
    )
    session.add(request)
    session.flush()
    return request


def add_agent(session, email: str, role: str = "agent", active: bool = True) -> StaffUser:
    user = StaffUser(email=email, role=role, is_active=active)
    session.add(user)
    session.flush()
    return user


def refs(shown: queue.QueuePage) -> list[str]:
    return [row.reference for row in shown.rows]


def filtered(session, me_id: int = 0, staff_ids=(), **args: str) -> queue.QueuePage:
    flt, problems = queue.parse_filter(args, me_id, staff_ids)
    assert problems == []
    return queue.page(session, flt, TODAY)


# -- the domain ---------------------------------------------------------------------------


def test_open_requests_are_listed_soonest_due_first(session):
    """Rows come by due date, then id; unverified and closed requests are left out."""
    late = add_request(session, due_in=30)
    soon = add_request(session, due_in=2)
    overdue = add_request(session, due_in=-3, status="awaiting_requester")
    add_request(session, due_in=1, status="unverified", reference=None)
    for status in ("completed", "denied", "expired", "withdrawn"):
        add_request(session, due_in=-1, status=status)
    shown = queue.page(session, queue.QueueFilter(), TODAY)
    assert refs(shown) == [overdue.reference, soon.reference, late.reference]
    assert shown.total == 3
    assert shown.next_key is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"status": "in_review"}, {"in-review"}),
        ({"kind": "erasure"}, {"erasure"}),
        ({"due": "overdue"}, {"overdue"}),
        ({"due": "5"}, {"in-5-days", "today"}),
        ({"due": "0"}, {"today"}),
        ({"assignee": "me"}, {"mine"}),
        ({"assignee": "unassigned"}, {"unassigned"}),
        ({"identity": "1"}, {"identity"}),
        ({"retained": "1"}, {"retained"}),
        ({"kind": "erasure", "retained": "1"}, set()),
    ],
)
def test_each_filter_keeps_only_the_matching_cases(session, args, expected):
    """Every filter narrows the queue to the cases it names, and they combine."""
    me = add_agent(session, "me@example.org")
    other = add_agent(session, "other@example.org")
    names = {
        "in-review": add_request(session, status="in_review", assignee_id=other.id),
        "erasure": add_request(session, kind="erasure", assignee_id=other.id),
        "overdue": add_request(session, due_in=-1, assignee_id=other.id),
        "in-5-days": add_request(session, due_in=5, assignee_id=other.id),
        "today": add_request(session, due_in=0, assignee_id=other.id),
        "mine": add_request(session, assignee_id=me.id),
        "identity": add_request(session, status="identity_review", assignee_id=other.id),
        "retained": add_request(session, has_retained=True, assignee_id=other.id),
        "later": add_request(session, due_in=6, assignee_id=other.id),
        "unassigned": add_request(session),
    }
    shown = filtered(session, me.id, {me.id, other.id}, **args)
    wanted = {names[name].reference for name in expected}
    assert set(refs(shown)) == wanted
    assert shown.total == len(wanted)


def test_the_assignee_filter_takes_a_staff_id(session):
    """A staff id among people who work cases filters on them; others are refused."""
    agent = add_agent(session, "agent@example.org")
    admin = add_agent(session, "admin@example.org", role="admin")
    gone = add_agent(session, "gone@example.org", active=False)
    theirs = add_request(session, assignee_id=agent.id)
    add_request(session)
    ids = {s.id for s in queue.assignable_staff(session)}
    assert ids == {agent.id}
    assert refs(filtered(session, 0, ids, assignee=str(agent.id))) == [theirs.reference]
    for refused in (admin.id, gone.id, 999_999):
        flt, problems = queue.parse_filter({"assignee": str(refused)}, 0, ids)
        assert problems == ["assignee"] and flt == queue.QueueFilter()


def test_search_finds_a_reference_or_an_address_exactly(session):
    """A reference matches whatever its case and spaces; an address after normalising.

    A part of a reference finds every reference holding it (issue 15); an address
    is still matched whole only.
    """
    wanted = add_request(session, reference="DSR-2026-ABC123", email="Jeanne.Durand@Example.FR")
    add_request(session, reference="DSR-2026-ABC124", email="jeanne.durand@example.fr.evil")
    assert refs(filtered(session, q="  dsr-2026-abc123 ")) == [wanted.reference]
    assert refs(filtered(session, q=" JEANNE.durand@EXAMPLE.fr ")) == [wanted.reference]
    assert refs(filtered(session, q="DSR-2026-ABC12")) == ["DSR-2026-ABC123", "DSR-2026-ABC124"]
    assert refs(filtered(session, q="durand@example.fr")) == []


def test_a_paused_clock_is_neither_overdue_nor_due_soon(session):
    """Waiting for the requester or for a proof, a case past its due date is not late."""
    late = add_request(session, due_in=-3)
    add_request(session, due_in=-3, status="awaiting_identity", paused_at=utcnow())
    add_request(session, due_in=2, status="awaiting_requester", paused_at=utcnow())
    assert refs(filtered(session, due="overdue")) == [late.reference]
    assert filtered(session, due=str(queue.SOON_DAYS)).total == 0
    found = queue.counts(session, TODAY)
    assert (found.total, found.overdue, found.soon) == (3, 1, 0)


def test_days_left_carry_a_signal_for_due_soon_and_overdue():
    """Less than a quarter of the period left is "due soon"; past the due date, "overdue"."""
    received = date(2026, 11, 1)
    due = date(2026, 12, 1)  # a 30-day period: a quarter is 7.5 days
    assert queue.signal(received, due, date(2026, 11, 23)) == ""  # 8 days left
    assert queue.signal(received, due, date(2026, 11, 24)) == "due_soon"  # 7 days left
    assert queue.signal(received, due, date(2026, 12, 1)) == "due_soon"  # due today
    assert queue.signal(received, due, date(2026, 12, 2)) == "overdue"
    assert queue.days_left(due, date(2026, 12, 4)) == -3


def test_rows_carry_days_left_signal_and_flags(session):
    """A row says how many days are left, its signal and its flags."""
    agent = add_agent(session, "agent@example.org")
    add_request(
        session,
        due_in=-2,
        assignee_id=agent.id,
        has_retained=True,
        extended_on=TODAY - timedelta(days=40),
        pending_decision="erasure",
    )
    add_request(session, due_in=3, period=30, status="identity_review")
    add_request(session, due_in=20, period=30)
    overdue, soon, calm = queue.page(session, queue.QueueFilter(), TODAY).rows
    assert (overdue.days_left, overdue.signal) == (-2, "overdue")
    assert overdue.assignee_email == "agent@example.org"
    assert overdue.retained and overdue.extended and overdue.pending_decision == "erasure"
    assert (soon.days_left, soon.signal, soon.identity_review) == (3, "due_soon", True)
    assert (calm.signal, calm.assignee_email, calm.extended) == ("", None, False)


def test_keyset_pages_walk_every_row_once(session):
    """Following next_key visits every open case once, in order, even with equal due dates."""
    made = [add_request(session, due_in=i % 7 - 2) for i in range(123)]
    expected = sorted(made, key=lambda r: (r.due_on, r.id))
    seen: list[str] = []
    after = None
    while True:
        shown = queue.page(session, queue.QueueFilter(), TODAY, after=after, size=10)
        assert shown.total == 123
        seen += refs(shown)
        if shown.next_key is None:
            break
        after = queue.parse_key(shown.next_key)
    assert seen == [r.reference for r in expected]


def test_counts_match_what_each_filter_shows(session):
    """Each count equals the total the queue shows for that filter option."""
    me = add_agent(session, "me@example.org")
    statuses = queue.OPEN_STATUSES
    kinds = ("access", "erasure", "objection")
    for i in range(60):
        add_request(
            session,
            due_in=i % 15 - 4,
            status=statuses[i % len(statuses)],
            kind=kinds[i % 3],
            assignee_id=me.id if i % 4 == 0 else None,
            has_retained=i % 5 == 0,
            paused_at=utcnow() if i % 7 == 0 else None,
        )
    add_request(session, status="completed", due_in=-1)
    add_request(session, status="unverified", due_in=1)
    found = queue.counts(session, TODAY)

    def total(**args: str) -> int:
        return filtered(session, me.id, {me.id}, **args).total

    assert found.total == 60 == total()
    assert found.overdue == total(due="overdue")
    assert found.soon == total(due=str(queue.SOON_DAYS))
    assert found.identity == total(identity="1")
    assert found.retained == total(retained="1")
    assert found.assignee[None] == total(assignee="unassigned")
    assert found.assignee[me.id] == total(assignee="me") == 15
    for status in statuses:
        assert found.status.get(status, 0) == total(status=status)
    for kind in kinds:
        assert found.kind[kind] == total(kind=kind) == 20


def test_a_total_taken_from_the_counts_is_the_one_its_rows_give(session):
    """A view narrowed by status, right or assignee (alone or together, in any order)
    takes its total from the counts' groups: the same number as counting its rows; a
    view narrowed by anything else is not answered from the counts."""
    me = add_agent(session, "me@example.org")
    other = add_agent(session, "other@example.org")
    statuses = queue.OPEN_STATUSES
    kinds = ("access", "erasure", "objection")
    for i in range(48):
        add_request(
            session,
            due_in=i % 9 - 3,
            status=statuses[i % len(statuses)],
            kind=kinds[i % 3],
            assignee_id=(me.id, other.id, None)[i % 3 if i % 2 else 2],
        )
    found = queue.counts(session, TODAY)
    staff = {me.id, other.id}
    views = [
        {},
        {"sort": "status"},
        {"sort": "assignee", "dir": "desc"},
        {"identity": "1"},
        {"identity": "1", "status": "triage"},
        {"identity": "1", "status": "identity_review", "kind": "access"},
        *({"status": status} for status in statuses),
        *({"kind": kind, "assignee": "unassigned"} for kind in kinds),
        *({"status": status, "assignee": "me"} for status in statuses),
        *({"status": status, "kind": "erasure", "assignee": str(other.id)} for status in statuses),
    ]
    for args in views:
        flt, problems = queue.parse_filter(args, me.id, staff)
        assert problems == []
        counted = queue.page(session, flt, TODAY, counted=found).total
        assert queue.total_of(flt, found) == counted == queue.page(session, flt, TODAY).total
    for narrower in (
        {"due": "overdue"},
        {"retained": "1"},
        {"q": "DSR"},
        {"status": "triage", "due": "5"},
    ):
        flt, _ = queue.parse_filter(narrower, me.id, staff)
        assert queue.total_of(flt, found) is None


@pytest.mark.parametrize(
    ("args", "problems"),
    [
        ({"status": "completed"}, ["status"]),
        ({"status": "unverified"}, ["status"]),
        ({"kind": "telepathy"}, ["kind"]),
        ({"due": "-5"}, ["due"]),
        ({"due": "٣"}, ["due"]),
        ({"due": "9" * 40}, ["due"]),
        ({"assignee": "someone"}, ["assignee"]),
        ({"identity": "yes"}, ["identity"]),
        ({"retained": "2", "kind": "access"}, ["retained"]),
    ],
)
def test_invalid_filter_values_are_named_and_ignored(args, problems):
    """A bad value is reported by its argument's name and leaves that filter unset."""
    flt, found = queue.parse_filter(args, 1)
    assert found == problems
    assert flt.status is None and flt.within is None and flt.assignee is None
    assert not (flt.identity or flt.retained)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("DSR-2026-ABC123", "DSR-2026-ABC123"),
        (None, ""),
        (-3, "-3"),
        (date(2026, 12, 1), "2026-12-01"),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    """Text starting with = + - @ tab or CR gets a leading quote; our numbers stay numbers."""
    assert export.csv_safe(value) == cell


# -- the pages ----------------------------------------------------------------------------


def _fill(app, build) -> None:
    with app.app_context():
        build(db.session())
        db.session.commit()
        db.session.remove()


def test_the_queue_page_lists_cases_without_personal_details(app):
    """Reference links to the case, right, status, days left with words; no name, no address."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    today = receipt_date(utcnow())
    _fill(
        app,
        lambda s: [
            add_request(s, reference="DSR-2026-OVRDUE", due_in=-2, today=today),
            add_request(s, reference="DSR-2026-SOON00", due_in=2, today=today),
            add_request(s, reference="DSR-2026-CALM00", due_in=25, today=today),
            add_request(s, reference="DSR-2026-UNVERI", status="unverified", today=today),
        ],
    )
    answer = client.get("/staff/queue?lang=en")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    rows = soup.select("table.queue-table tbody tr")
    assert [r.find("a").get_text() for r in rows] == [
        "DSR-2026-OVRDUE",
        "DSR-2026-SOON00",
        "DSR-2026-CALM00",
    ]
    assert rows[0].find("a")["href"] == "/staff/cases/DSR-2026-OVRDUE"
    overdue, soon, calm = (r.select_one("td.days-left") for r in rows)
    assert "overdue" in overdue["class"] and "Overdue" in overdue.get_text()
    assert "due-soon" in soon["class"] and "Due soon" in soon.get_text()
    assert calm["class"] == ["days-left"] and "25 days left" in calm.get_text()
    assert "Secret-Name" not in html and "@example.fr" not in html
    assert "Requests 1 to 3 of 3" in " ".join(html.split())
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_next_page_link_carries_the_last_key(app):
    """Page 1 shows 50 rows and links to page 2, which shows the rest, counted on."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    today = receipt_date(utcnow())
    _fill(app, lambda s: [add_request(s, due_in=i, today=today) for i in range(55)])
    first = BeautifulSoup(client.get("/staff/queue?lang=en&kind=access").data, "html.parser")
    assert len(first.select("table.queue-table tbody tr")) == 50
    link = first.select_one("a[rel=next]")["href"]
    assert "kind=access" in link and "after=" in link
    second = client.get(link).get_data(as_text=True)
    soup = BeautifulSoup(second, "html.parser")
    assert len(soup.select("table.queue-table tbody tr")) == 5
    assert soup.select_one("a[rel=next]") is None
    assert "Requests 51 to 55 of 55" in " ".join(second.split())


def test_bad_filter_values_give_the_page_and_a_message(app):
    """Unknown or malformed values answer 200 with a message, and are ignored."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    _fill(app, lambda s: add_request(s, today=receipt_date(utcnow())))
    query = "status=nope&kind=none&due=soon&assignee=12abc&identity=x&retained=2&after=x.y"
    answer = client.get(f"/staff/queue?lang=en&{query}")
    assert answer.status_code == 200
    text = " ".join(answer.get_data(as_text=True).split())
    assert "Some filters were ignored" in text
    for words in ("status filter", "right filter", "due date filter", "assignee filter"):
        assert words in text
    assert "page link was not understood" in text
    assert "Requests 1 to 1 of 1" in text
    assert client.get("/staff/queue.csv?due=-1&after=zzz").status_code == 200


def test_the_csv_export_is_an_attachment_safe_against_formulas(app):
    """Headers as documented, formula cells neutralised, no requester data, not cached."""
    client, _ = staff_client(app, "agent@example.org", "agent")
    today = receipt_date(utcnow())

    def build(s):
        evil = add_agent(s, "=cmd@example.org")
        add_request(s, reference="DSR-2026-EVIL01", due_in=-1, assignee_id=evil.id, today=today)
        add_request(s, reference="DSR-2026-CALM01", due_in=9, kind="erasure", today=today)
        add_request(s, reference="DSR-2026-DONE01", status="completed", today=today)

    _fill(app, build)
    answer = client.get("/staff/queue.csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="queue-{today.isoformat()}.csv"'
    )
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0] == list(export.CSV_HEADER)
    assert lines[1][0] == "DSR-2026-EVIL01"
    assert lines[1][5] == "-1"
    assert lines[1][6] == "'=cmd@example.org"
    assert lines[1][7:] == ["no", "no", "no", ""]
    assert [line[0] for line in lines[1:]] == ["DSR-2026-EVIL01", "DSR-2026-CALM01"]
    assert "Secret-Name" not in body and "example.fr" not in body and "1980" not in body
    erasures = list(csv.reader(io.StringIO(client.get("/staff/queue.csv?kind=erasure").text)))
    assert [line[0] for line in erasures[1:]] == ["DSR-2026-CALM01"]


def test_an_export_is_recorded_in_the_audit_trail_without_the_search_term(app):
    client, account = staff_client(app, "agent@example.org", "agent")
    assert client.get("/staff/queue.csv?kind=erasure&q=someone@example.fr").status_code == 200
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "queue.exported"))
        assert event is not None and event.actor == account.actor
        assert event.details == {"kind": "erasure", "search": True}
        db.session.remove()


def test_an_administrator_may_not_see_the_queue(app):
    """Accounts administrators never see cases: 403 on the page and the export."""
    client, _ = staff_client(app, "admin@example.org", "admin")
    assert client.get("/staff/queue").status_code == 403
    assert client.get("/staff/queue.csv").status_code == 403


def test_the_queue_needs_a_signed_in_member_of_staff(client):
    """Without a session both the page and the export send to the sign-in page."""
    for path in ("/staff/queue", "/staff/queue.csv"):
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/staff/login")


def test_the_partial_indexes_cover_exactly_the_open_statuses():
    """The models' partial indexes and the queue agree on what "open" means."""
    indexes = {i.name: i for i in Request.__table__.indexes}
    names = [name for name in indexes if name.startswith("ix_requests_open_")]
    assert len(names) == 7
    for name in names:
        for dialect in ("postgresql", "sqlite"):
            where = str(indexes[name].dialect_options[dialect]["where"])
            assert where.startswith(f"status IN {queue.OPEN_STATUSES!r}")
            # The one that narrows further: the prepared decisions (a DPO's approval view).
            assert where.removeprefix(f"status IN {queue.OPEN_STATUSES!r}") in (
                "",
                " AND pending_decision IS NOT NULL",
            )

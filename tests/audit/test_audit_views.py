"""The audit trail page: who may read it, its filters and pages, and the chain check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select, update

from app import audit
from app.extensions import db
from app.models import AuditEvent, Request, utcnow
from app.services import services_of
from tests.conftest import csrf_from
from tests.staffkit import staff_client

COLUMNS = ("seq", "time", "actor", "action", "request", "details")


def _rows(html: bytes) -> list[dict[str, str]]:
    soup = BeautifulSoup(html, "html.parser")
    table = soup.find("table")
    if table is None:
        return []
    return [
        dict(
            zip(
                COLUMNS,
                (" ".join(td.get_text(" ").split()) for td in tr.find_all("td")),
                strict=True,
            )
        )
        for tr in table.find("tbody").find_all("tr")
    ]


def _older_link(html: bytes) -> str | None:
    tag = BeautifulSoup(html, "html.parser").find("a", attrs={"rel": "next"})
    return None if tag is None else str(tag["href"])


def _record(app, *events: dict, seal: bool = True) -> None:
    with app.app_context():
        for event in events:
            audit.record(db.session(), **{"actor": "system", "now": utcnow(), **event})
        db.session.commit()
        if seal:
            while audit.seal(db.session(), services_of(app).audit.keyring):
                db.session.commit()
            db.session.commit()
        db.session.remove()


def _request(app, reference: str) -> int:
    with app.app_context():
        row = Request(
            reference=reference,
            kind="access",
            status="triage",
            first_name="Zéphyrine",
            last_name="Quaglio",
            birth_date=date(1961, 2, 3),
            email="z.quaglio@example.fr",
            email_normalized="z.quaglio@example.fr",
        )
        db.session.add(row)
        db.session.commit()
        request_id = row.id
        db.session.remove()
    return request_id


def _english(client) -> None:
    """Read the page in English, so the assertions hold once the French is written."""
    client.get("/staff/?lang=en")


@pytest.mark.parametrize(
    ("role", "shown", "checked"), [("dpo", 200, 303), ("admin", 200, 303), ("agent", 403, 403)]
)
def test_only_dpo_and_admin_read_the_audit_trail(app, role, shown, checked):
    """The page and the chain check are open to the roles holding view_audit, and no one else."""
    client, _ = staff_client(app, f"{role}@portal.example.org", role)
    assert client.get("/staff/audit").status_code == shown
    token = csrf_from(client.get("/staff/").data)
    assert client.post("/staff/audit/verify", data={"csrf_token": token}).status_code == checked


def test_anonymous_visitors_are_sent_to_sign_in(client):
    """Without a session the page and the verify button redirect to the sign-in page."""
    token = csrf_from(client.get("/staff/login").data)
    for answer in (
        client.get("/staff/audit"),
        client.post("/staff/audit/verify", data={"csrf_token": token}),
    ):
        assert answer.status_code == 302 and "/staff/login" in answer.headers["Location"]


def test_the_list_shows_seq_actor_email_reference_and_details_newest_first(app):
    """Each row shows its number, who (with the staff email), what, which request, key=value."""
    client, dpo = staff_client(app, "dpo@portal.example.org", "dpo")
    _english(client)
    request_id = _request(app, "DSR-2026-AAAAAA")
    _record(
        app,
        {"actor": dpo.actor, "action": "case.viewed", "request_id": request_id},
        {"action": "plan.computed", "request_id": request_id, "details": {"plan": 2, "x": "<b>"}},
    )
    _record(app, {"actor": "requester", "action": "request.filed"}, seal=False)
    page = client.get("/staff/audit")
    assert page.status_code == 200
    rows = _rows(page.data)
    assert [r["action"] for r in rows[:3]] == ["request.filed", "plan.computed", "case.viewed"]
    assert rows[0]["seq"] == "not yet sealed" and rows[1]["seq"].isdigit()
    assert rows[2]["actor"] == f"{dpo.actor} dpo@portal.example.org"
    assert rows[1]["request"] == rows[2]["request"] == "DSR-2026-AAAAAA"
    assert rows[1]["details"] == "plan=2 x=<b>"
    assert b"<b>" not in page.data and b"x=&lt;b&gt;" in page.data
    assert b"Quaglio" not in page.data


def test_filters_by_reference_actor_action_and_paris_dates(app):
    """Each filter narrows the list; dates are Paris days, both ends included."""
    client, dpo = staff_client(app, "dpo@portal.example.org", "dpo")
    _english(client)
    first, second = _request(app, "DSR-2026-BBBBBB"), _request(app, "DSR-2026-CCCCCC")
    late_evening = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 2 March, 00:30 in Paris
    _record(
        app,
        {"actor": dpo.actor, "action": "case.claimed", "request_id": first},
        {"actor": dpo.actor, "action": "status.changed", "request_id": second},
        {"actor": "system:routing", "action": "plan.computed", "request_id": first},
        {"action": "case.dated", "now": late_evening},
    )

    def actions(query: str) -> set[str]:
        answer = client.get(f"/staff/audit?{query}")
        assert answer.status_code == 200, answer.data
        return {row["action"] for row in _rows(answer.data)}

    assert actions("reference=DSR-2026-BBBBBB") == {"case.claimed", "plan.computed"}
    assert actions("reference=dsr-2026-cccccc") == {"status.changed"}
    assert actions("actor=system:routing") == {"plan.computed"}
    assert actions(f"actor={dpo.actor}&action=case.") == {"case.claimed"}
    assert actions("actor=dpo%40portal.example.org&action=status.") == {"status.changed"}
    assert actions("action=case.") == {"case.claimed", "case.dated"}
    assert actions("action=case.&date_from=2026-03-02&date_to=2026-03-02") == {"case.dated"}
    assert actions("action=case.&date_from=2026-03-01&date_to=2026-03-01") == set()
    assert "case.dated" not in actions("action=case.&date_from=2026-03-03")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2026-13-01", b"Not a valid date value"),
        ("date_from=2026-03-05&date_to=2026-03-01", b"end date must not be before"),
        ("before=abc", b"Not a valid integer value"),
        ("before=0", b"Number must be at least 1"),
        ("actor=staff%203%3B", b"Write an actor as"),
        ("actor=nobody%40example.org", b"No member of staff has this email"),
        ("reference=DSR-0000-ZZZZZZ", b"No request has this reference"),
        ("action=" + "x" * 61, b"Field cannot be longer than 60 characters"),
    ],
)
def test_a_bad_filter_gets_a_clear_message(app, query, message):
    """Malformed or unknown filter values answer 400 with a message, never a 500."""
    client, _ = staff_client(app, "dpo@portal.example.org", "dpo")
    _english(client)
    answer = client.get(f"/staff/audit?{query}")
    assert answer.status_code == 400 and message in answer.data


def test_pages_walk_every_event_once_without_offset(app):
    """Following "Older events" visits every event exactly once, 100 per page, newest first."""
    client, _ = staff_client(app, "admin@portal.example.org", "admin")
    _english(client)
    _record(app, *({"action": "test.event", "details": {"n": i}} for i in range(230)))
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    seen: list[int] = []
    link: str | None = "/staff/audit"
    pages = 0
    while link:
        answer = client.get(link)
        assert answer.status_code == 200
        rows = _rows(answer.data)
        assert len(rows) <= 100
        seen += [int(r["seq"]) for r in rows]
        link, pages = _older_link(answer.data), pages + 1
    assert pages == 3 and len(seen) == total == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_filters_follow_the_pages(app):
    """The link to older events keeps the filters."""
    client, _ = staff_client(app, "admin@portal.example.org", "admin")
    _english(client)
    _record(app, *({"action": f"test.{i % 2}"} for i in range(250)))
    first = client.get("/staff/audit?action=test.1")
    link = _older_link(first.data)
    assert link and "action=test.1" in link
    second = _rows(client.get(link).data)
    assert len(second) == 25 and {r["action"] for r in second} == {"test.1"}


def test_verify_says_intact_and_is_itself_recorded(app):
    """The button reports an intact chain with its count and records audit.verified."""
    client, dpo = staff_client(app, "dpo@portal.example.org", "dpo")
    _english(client)
    _record(app, *({"action": "test.event"} for _ in range(4)))
    with app.app_context():
        sealed = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    page = client.get("/staff/audit")
    answer = client.post(
        "/staff/audit/verify", data={"csrf_token": csrf_from(page.data)}, follow_redirects=True
    )
    assert answer.status_code == 200
    assert f"The audit chain is intact: {sealed} event(s) checked".encode() in answer.data
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.verified")
        ).one()
        db.session.remove()
    assert event.actor == dpo.actor
    assert event.details == {"checked": sealed, "broken_at": None, "anchors": None}
    assert b"There is no anchor file on this server" in answer.data


def test_verify_names_the_first_broken_link(app):
    """Altering an event's details in the database: the page names that event's number."""
    client, _ = staff_client(app, "admin@portal.example.org", "admin")
    _english(client)
    _record(app, *({"action": "test.event", "details": {"n": i}} for i in range(6)))
    with app.app_context():
        target = db.session.scalar(
            select(AuditEvent.seq).where(AuditEvent.action == "test.event").limit(1).offset(2)
        )
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == target).values(details={"n": 99})
        )
        db.session.commit()
        db.session.remove()
    page = client.get("/staff/audit")
    answer = client.post(
        "/staff/audit/verify", data={"csrf_token": csrf_from(page.data)}, follow_redirects=True
    )
    assert (
        f"The audit chain is broken at event {target}: the event was altered".encode()
        in answer.data
    )
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.verified")
        ).one()
        db.session.remove()
    assert event.details["broken_at"] == target


def test_verify_needs_the_csrf_token(app):
    """A POST without the form's token is refused and checks nothing."""
    client, _ = staff_client(app, "dpo@portal.example.org", "dpo")
    assert client.post("/staff/audit/verify").status_code == 400
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "audit.verified")
            )
            == 0
        )
        db.session.remove()

"""The audit page's pick-lists and its CSV export (streamed, formula-safe, itself audited)."""

from __future__ import annotations

import csv
import io

from bs4 import BeautifulSoup
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.audit.test_audit_views import _english, _record, _request, _rows
from tests.staffkit import staff_client


def test_the_filters_are_pick_lists_of_people_and_kinds_of_event(app):
    """ "Who" lists each account by its address and the fixed actors; "Kind of event" lists
    kinds in words; choosing them filters the list."""
    client, dpo = staff_client(app, "dpo@portal.example.org", "dpo")
    _english(client)
    _record(
        app,
        {"actor": dpo.actor, "action": "case.claimed"},
        {"actor": "system:routing", "action": "plan.computed"},
    )
    soup = BeautifulSoup(client.get("/staff/audit").data, "html.parser")
    who = {o["value"]: o.get_text(strip=True) for o in soup.select("select#actor option")}
    assert who[dpo.actor] == "dpo@portal.example.org"
    assert who["system:routing"] == "the portal (automatic routing)"
    kinds = {o["value"]: o.get_text(strip=True) for o in soup.select("select#action option")}
    assert kinds["case."] == "Case work (views, claims, notes, decisions)"
    answer = client.get(f"/staff/audit?actor={dpo.actor}&action=case.")
    assert {row["action"] for row in _rows(answer.data)} == {"case.claimed"}
    chosen = BeautifulSoup(answer.data, "html.parser")
    assert chosen.select_one("select#actor option[selected]")["value"] == dpo.actor


def test_the_csv_export_is_streamed_safe_against_formulas_and_audited(app):
    """Every matching event in one attachment; a cell that starts a formula is quoted;
    the download writes an audit.exported event naming the filters."""
    client, dpo = staff_client(app, "dpo@portal.example.org", "dpo")
    request_id = _request(app, "DSR-2026-EXPORT")
    _record(
        app,
        *(
            {"action": "test.event", "request_id": request_id, "details": {"n": i}}
            for i in range(1500)
        ),
        {"action": "=HYPERLINK.evil", "request_id": request_id},
        {"action": "other.event"},
    )
    answer = client.get("/staff/audit.csv?reference=DSR-2026-EXPORT")
    assert answer.status_code == 200 and answer.is_streamed
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    assert answer.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == [
        "seq",
        "occurred_at",
        "actor",
        "actor_email",
        "action",
        "request",
        "details",
    ]
    assert len(rows) == 1 + 1501
    assert rows[1][4] == "'=HYPERLINK.evil" and rows[1][5] == "DSR-2026-EXPORT"
    assert {row[4] for row in rows[2:]} == {"test.event"}
    with app.app_context():
        exported = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "audit.exported")
        ).all()
        db.session.remove()
    assert [(e.actor, e.details) for e in exported] == [(dpo.actor, {"request_id": request_id})]


def test_a_bad_filter_refuses_the_export_and_records_nothing(app):
    """An unknown reference: a 400 page, no file, no audit.exported event."""
    client, _ = staff_client(app, "admin@portal.example.org", "admin")
    _english(client)
    answer = client.get("/staff/audit.csv?reference=DSR-0000-ZZZZZZ")
    assert answer.status_code == 400 and b"No request has this reference" in answer.data
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported"))
            is None
        )


def test_an_agent_may_not_export_the_trail(app):
    client, _ = staff_client(app, "agent@portal.example.org", "agent")
    assert client.get("/staff/audit.csv").status_code == 403

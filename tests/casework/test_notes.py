"""Internal notes: any case worker may add one to any case, and each is an audit event.

The decision (docs/security.md, "Roles and decisions"): notes are how a
colleague helps on a case they do not hold, so the role table allows them to
every case worker; the audit names the author and whether they held the case.
"""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import csrf_from
from tests.staffkit import add_staff, case_held_by, staff_client

TEXT = "Le service des archives de Lyon a ces dossiers."


def note_events(app: Flask) -> list[tuple[str, dict[str, object]]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "case.note_added")
            .order_by(AuditEvent.id)
        ).all()
        found = [(row.actor, dict(row.details)) for row in rows]
        db.session.remove()
    return found


def test_a_colleague_who_does_not_hold_the_case_may_add_a_note(app: Flask) -> None:
    holder = add_staff(app, "holder@example.org", "agent")
    reference = case_held_by(app, holder)
    colleague, other = staff_client(app, "colleague@example.org", "agent")
    page = colleague.get(f"/staff/cases/{reference}")
    answer = colleague.post(
        f"/staff/cases/{reference}/notes",
        data={"csrf_token": csrf_from(page.data), "text": TEXT},
    )
    assert answer.status_code == 303
    assert TEXT in colleague.get(f"/staff/cases/{reference}").get_data(as_text=True)
    [(who, details)] = note_events(app)
    assert who == other.actor and details == {"by_holder": False}


def test_the_holders_note_is_audited_as_theirs(app: Flask) -> None:
    client, holder = staff_client(app, "holder@example.org", "agent")
    reference = case_held_by(app, holder)
    page = client.get(f"/staff/cases/{reference}")
    data = {"csrf_token": csrf_from(page.data), "text": TEXT}
    assert client.post(f"/staff/cases/{reference}/notes", data=data).status_code == 303
    [(who, details)] = note_events(app)
    assert who == holder.actor and details == {"by_holder": True}
    assert "Lyon" not in json.dumps(details)

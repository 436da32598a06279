"""The 48-hour reflection period before a medical record is communicated (CSP L.1111-7).

Under a frozen clock (issue 18): Camille asks for access to her data, which
holds her recent hospital record. The package is prepared as soon as the
request is approved, but no link is sent before 48 hours from receipt; at
48 hours it is, within the 8 days of the Public Health Code's track.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from app import deadlines
from app.extensions import db
from app.fulfilment import package_download
from app.models import AccessPackage, AuditEvent, Request
from tests.casework.test_cases import act, case_of
from tests.conftest import link_in, run_jobs, text_of
from tests.fulfilment.test_download import check, download_link
from tests.fulfilment.test_packages import CAMILLE, mails
from tests.rules.test_routing import file_and_route, filing_for, persona
from tests.staffkit import staff_client

FILED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Paris


def status_text(client, smtp) -> str:
    """The status page, opened from the latest email with a status link."""
    with_link = [m for m in smtp.received.to(CAMILLE) if "/s/" in text_of(m)]
    assert client.get(link_in(with_link[-1])).status_code == 303
    return " ".join(client.get("/status").get_data(as_text=True).split())


def ready_mails(smtp):
    return mails(smtp, CAMILLE, "prêtes à être téléchargées")


def package_of(app, request_id):
    with app.app_context():
        package = db.session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == request_id)
        )
        db.session.expunge_all()
        db.session.remove()
        return package


def routed_and_approved(app, smtp):
    """Filed and confirmed at FILED, approved one hour later, the worker run: (id, client)."""
    client = app.test_client()
    with time_machine.travel(FILED, tick=False):
        request_id = file_and_route(app, smtp, client, filing_for(persona("Camille"), "access"))
    with time_machine.travel(FILED + timedelta(hours=1), tick=False):
        agent, _ = staff_client(app, "agent@example.org", "agent")
        reference = case_of(app, request_id).reference
        assert act(agent, reference, "claim").status_code == 303
        case_page = agent.get(f"/staff/cases/{reference}").get_data(as_text=True)
        assert "délai de réflexion de 48 heures" in case_page
        assert act(agent, reference, "approve").status_code == 303
        run_jobs(app)
    return request_id, client


def test_the_request_carries_a_not_before_48_hours_after_receipt(smtp_app, smtp):
    """Routing a medical record's access sets the release 48 hours after the confirmation."""
    client = smtp_app.test_client()
    with time_machine.travel(FILED, tick=False):
        request_id = file_and_route(
            smtp_app, smtp, client, filing_for(persona("Camille"), "access")
        )
        page = status_text(client, smtp)
    case = case_of(smtp_app, request_id)
    assert case.verified_at is not None and case.medical_deadline
    assert case.release_not_before == case.verified_at + timedelta(hours=48)
    assert "L.1111-7" in page and "48 heures" in page


def test_no_link_before_48_hours_then_a_link_at_48_hours_within_eight_days(smtp_app, smtp):
    """Prepared at once, held back: no email nor download before 48 h; at 48 h the link."""
    request_id, client = routed_and_approved(smtp_app, smtp)
    case = case_of(smtp_app, request_id)
    assert case.status == "fulfilling" and ready_mails(smtp) == []
    package = package_of(smtp_app, request_id)
    assert package.json_encrypted is not None and package.ready_at is None  # prepared, held
    assert package_download.availability(package, FILED + timedelta(hours=2), 5) == "missing"
    with time_machine.travel(FILED + timedelta(hours=2), tick=False):
        page = status_text(client, smtp)
    assert "délai de réflexion" in page

    with time_machine.travel(FILED + timedelta(hours=47, minutes=59), tick=False):
        run_jobs(smtp_app)
    assert ready_mails(smtp) == [] and case_of(smtp_app, request_id).status == "fulfilling"

    released_at = case.release_not_before
    assert released_at is not None
    with time_machine.travel(released_at, tick=False):
        run_jobs(smtp_app)
        done = case_of(smtp_app, request_id)
        assert done.status == "completed"
        assert len(ready_mails(smtp)) == 1
        link = download_link(smtp)
        reader = smtp_app.test_client()
        assert check(reader, link, "1978-05-14").headers["Location"] == "/download"
        assert "/download/file/html" in reader.get("/download").get_data(as_text=True)
    assert done.due_on is not None and done.received_on is not None
    assert deadlines.receipt_date(released_at) <= done.due_on
    assert done.due_on == done.received_on + timedelta(days=8)
    package = package_of(smtp_app, request_id)
    assert package.ready_at == released_at
    assert package.expires_at == released_at + timedelta(hours=72)
    with smtp_app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.request_id == request_id)
        ).all()
        assert "package.held" in actions and "package.released" in actions
        db.session.remove()


def test_approved_after_48_hours_the_link_goes_at_once(smtp_app, smtp):
    """Once the period has run, a package is released as soon as it is built."""
    client = smtp_app.test_client()
    with time_machine.travel(FILED, tick=False):
        request_id = file_and_route(
            smtp_app, smtp, client, filing_for(persona("Camille"), "access")
        )
    with time_machine.travel(FILED + timedelta(hours=50), tick=False):
        agent, _ = staff_client(smtp_app, "agent@example.org", "agent")
        reference = case_of(smtp_app, request_id).reference
        assert act(agent, reference, "claim").status_code == 303
        assert act(agent, reference, "approve").status_code == 303
        run_jobs(smtp_app)
    assert case_of(smtp_app, request_id).status == "completed"
    assert len(ready_mails(smtp)) == 1


def test_an_erasure_has_no_reflection_period(smtp_app, smtp):
    """Nothing is communicated by an erasure: no not-before."""
    client = smtp_app.test_client()
    with time_machine.travel(FILED, tick=False):
        request_id = file_and_route(smtp_app, smtp, client, filing_for(persona("Camille")))
    with smtp_app.app_context():
        assert db.session.get(Request, request_id).release_not_before is None
        db.session.remove()

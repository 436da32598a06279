"""The resumed clock: the paused days belong to the period (issue 18, correction 1).

The resume computes the due date again from the receipt, with the total of
the pauses, on the request's track; never from the stored date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine

from app.casework import clock
from app.models import Request
from app.services import services_of


def waiting(session, *, received: date, due: date, paused_at: datetime, **values) -> Request:
    request = Request(
        reference="DSR-2027-PAUSE1",
        kind="access",
        status="awaiting_requester",
        locale="fr",
        first_name="Jeanne",
        last_name="Essai",
        birth_date=date(1970, 1, 2),
        email="jeanne.essai@example.org",
        email_normalized="jeanne.essai@example.org",
        created_at=paused_at,
        verified_at=paused_at,
        received_on=received,
        due_on=due,
        paused_at=paused_at,
        version=1,
        **values,
    )
    session.add(request)
    session.flush()
    return request


def resume(app, session, request: Request, now: datetime) -> Request:
    services = services_of(app)
    with time_machine.travel(now, tick=False):
        clock.answer(session, request, "Voici.", vault=services.vault, now=now, mail=services.mail)
    session.refresh(request)
    return request


def test_a_pause_lengthens_the_month_before_its_end_moves_to_a_working_day(app, session):
    """A month ending Sunday 28 February 2027, paused 3 days: due Wednesday 3 March, not 4."""
    request = waiting(
        session,
        received=date(2027, 1, 28),
        due=date(2027, 3, 1),
        paused_at=datetime(2027, 2, 10, 9, tzinfo=UTC),
    )
    resumed = resume(app, session, request, datetime(2027, 2, 13, 9, tzinfo=UTC))
    assert resumed.paused_days == 3
    assert resumed.due_on == date(2027, 3, 3)


def test_a_second_pause_counts_from_the_receipt_with_the_total(app, session):
    """Two pauses of one day on a month ending Friday 27 March 2026: Sunday 29 -> Monday 30."""
    request = waiting(
        session,
        received=date(2026, 2, 27),
        due=date(2026, 3, 30),
        paused_at=datetime(2026, 3, 10, 9, tzinfo=UTC),
        paused_days=1,
    )
    resumed = resume(app, session, request, datetime(2026, 3, 11, 9, tzinfo=UTC))
    assert resumed.paused_days == 2
    assert resumed.due_on == date(2026, 3, 30)


def test_an_extended_request_resumes_on_its_three_months(app, session):
    """Extended, received 2 March 2026: Tuesday 2 June + 3 days paused = Friday 5 June."""
    request = waiting(
        session,
        received=date(2026, 3, 2),
        due=date(2026, 6, 2),
        paused_at=datetime(2026, 4, 10, 9, tzinfo=UTC),
        extended_on=date(2026, 3, 20),
        extension_ground="complexity",
    )
    resumed = resume(app, session, request, datetime(2026, 4, 13, 9, tzinfo=UTC))
    assert resumed.due_on == date(2026, 6, 5)


def test_the_medical_track_resumes_from_the_newest_record_kept_on_the_request(app, session):
    """Eight days from Friday 6 March 2026 (Saturday 14), paused 1 day: Sunday 15, not moved."""
    request = waiting(
        session,
        received=date(2026, 3, 6),
        due=date(2026, 3, 14),
        paused_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
        medical_deadline=True,
        medical_newest_on=date(2025, 12, 1),
    )
    resumed = resume(app, session, request, datetime(2026, 3, 10, 9, tzinfo=UTC))
    assert resumed.due_on == date(2026, 3, 15)

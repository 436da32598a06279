"""Housekeeping runs on its own timer, not before every batch of jobs."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.outbox import housekeeping, jobs, worker
from app.outbox.handlers import HANDLERS
from app.services import services_of


def _passes(app, monkeypatch, every: float, passes: int) -> int:
    """Run the worker loop for ``passes`` idle passes; how many times housekeeping ran."""
    ran: list[int] = []
    monkeypatch.setattr(housekeeping, "run", lambda *args: ran.append(1))
    asked = 0

    def stopping() -> bool:
        nonlocal asked
        asked += 1
        return asked > passes

    settings = worker.Settings(
        name="timer-test",
        lease_seconds=60,
        poll_seconds=0,
        retry=jobs.RetryPolicy(),
        housekeeping_seconds=every,
    )
    with app.app_context():
        worker.run(db.session(), HANDLERS, services_of(app), settings, stopping=stopping)
        db.session.remove()
    return len(ran)


@pytest.mark.parametrize(("every", "expected"), [(3600, 1), (0, 5)])
def test_housekeeping_runs_first_then_on_its_timer(app, monkeypatch, every, expected):
    """The first pass does the chores; later passes only when the period has gone by."""
    # Each idle pass asks ``stopping`` twice (the loop, then the pause).
    assert _passes(app, monkeypatch, every, passes=10) == expected

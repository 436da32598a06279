"""``flask purge``: personal data of old requests removed, statistics and audit trail kept."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app import audit, purge
from app.extensions import db
from app.models import (
    AccessPackage,
    AuditEvent,
    CaseNote,
    Job,
    LinkToken,
    Plan,
    PlanLine,
    Request,
    StatusEvent,
    utcnow,
)

YEAR = timedelta(days=365)


def add_request(session: Any, name: str, status: str, created: datetime, closed: datetime | None):
    """A request with a note, a link, a plan, a package, a job, an event and an audit event."""
    request = Request(
        reference=f"DSR-2020-{name.upper()}",
        kind="access",
        status=status,
        first_name="Camille",
        last_name=name,
        birth_date=date(1978, 5, 14),
        email=f"{name}@example.org",
        email_normalized=f"{name}@example.org",
        nir_encrypted="secret-number",
        details_encrypted="secret-text",
        # Made for someone else: the requester's own identity, purged with the rest.
        acts_as="guardian",
        relationship_proof="accepted",
        requester_encrypted="secret-requester",
        created_at=created,
        received_on=created.date() if status != "unverified" else None,
        due_on=(created + timedelta(days=30)).date() if status != "unverified" else None,
        closed_at=closed,
    )
    session.add(request)
    session.flush()
    session.add(
        CaseNote(
            request_id=request.id,
            kind="note",
            author="staff:1",
            body_encrypted="n",
            created_at=created,
        )
    )
    session.add(
        LinkToken(
            request_id=request.id,
            purpose="status-page",
            token_hash=name.ljust(64, "0"),
            created_at=created,
            expires_at=created + YEAR,
        )
    )
    plan = Plan(
        request_id=request.id,
        number=1,
        outcome="matched",
        subjects={"hospital": 1},
        catalogue_digest="c",
        policy_digest="p",
        computed_on=created.date(),
        created_at=created,
        created_by="system:routing",
    )
    plan.lines = [
        PlanLine(
            position=0,
            source="hospital",
            category="hospital.medical_record",
            action="disclose",
            record_count=2,
            label_fr="l",
            label_en="l",
            basis_fr="b",
            basis_en="b",
            explanation_fr="e",
            explanation_en="e",
            record_keys={"hospital_stays": [[1], [2]]},
        )
    ]
    session.add(plan)
    session.flush()
    session.add(
        AccessPackage(
            request_id=request.id,
            plan_id=plan.id,
            format="access",
            json_encrypted=b"json",
            html_encrypted=b"html",
            created_at=created,
            expires_at=created + timedelta(days=3),
        )
    )
    session.add(
        Job(
            kind="send_email",
            request_id=request.id,
            payload={"template": "acknowledgement", "secret_link": "s", "link_purpose": "x"},
            state="parked",
            created_at=created,
            run_after=created,
        )
    )
    session.add(
        StatusEvent(
            request_id=request.id, to_status=status, actor="requester", occurred_at=created
        )
    )
    audit.record(
        session, actor="requester", action="request.filed", now=created, request_id=request.id
    )
    return request


def seed(app: Flask) -> dict[str, int]:
    now = utcnow()
    with app.app_context():
        session = db.session()
        made = {
            "old": add_request(
                session,
                "old",
                "completed",
                now - 6 * YEAR,
                now - 6 * YEAR + 20 * timedelta(days=1),
            ),
            "recent": add_request(
                session, "recent", "completed", now - YEAR, now - YEAR + timedelta(days=10)
            ),
            "open": add_request(session, "open", "in_review", now - 6 * YEAR, None),
            "stale": add_request(session, "stale", "unverified", now - timedelta(days=8), None),
            "fresh": add_request(session, "fresh", "unverified", now - timedelta(days=2), None),
            "expired": add_request(
                session, "expired", "expired", now - timedelta(days=10), now - timedelta(days=9)
            ),
        }
        session.commit()
        ids = {name: request.id for name, request in made.items()}
        db.session.remove()
    return ids


def snapshot(app: Flask) -> dict[str, Any]:
    """Everything a purge may change, to compare before and after."""
    with app.app_context():
        session = db.session()
        state = {
            "requests": session.execute(
                select(
                    Request.id,
                    Request.first_name,
                    Request.last_name,
                    Request.email,
                    Request.birth_date,
                    Request.nir_encrypted,
                    Request.details_encrypted,
                    Request.purged_at,
                ).order_by(Request.id)
            ).all(),
            "packages": session.execute(
                select(AccessPackage.id, AccessPackage.json_encrypted, AccessPackage.deleted_at)
            ).all(),
        }
        for model in (CaseNote, LinkToken, Job, StatusEvent, Plan, PlanLine):
            state[model.__name__] = session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return state


def test_a_dry_run_changes_nothing_and_reports_counts(app):
    """--dry-run: counts per kind, not one row changed, no audit event."""
    seed(app)
    before = snapshot(app)
    result = app.test_cli_runner().invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1\tclosed requests whose personal data is removed" in result.output
    assert "2\tnever-confirmed requests deleted" in result.output
    assert "Nothing was changed." in result.output
    assert snapshot(app) == before
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.action == "data.purged")) is None
        )
        db.session.remove()


def test_a_purge_blanks_old_closed_requests_and_keeps_statistics(app):
    """Only the old closed request loses its personal data; kind, dates and audit stay."""
    ids = seed(app)
    with app.app_context():
        old = db.session.get(Request, ids["old"])
        kept = (old.kind, old.status, old.received_on, old.due_on, old.closed_at, old.reference)
        audit_before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = db.session()
        old = session.get(Request, ids["old"])
        assert (
            old.kind,
            old.status,
            old.received_on,
            old.due_on,
            old.closed_at,
            old.reference,
        ) == kept
        assert (old.first_name, old.last_name, old.email, old.email_normalized) == ("", "", "", "")
        assert old.birth_date == purge.PURGED_BIRTH_DATE
        assert old.nir_encrypted is None and old.details_encrypted is None
        assert old.requester_encrypted is None
        assert session.get(Request, ids["recent"]).requester_encrypted == "secret-requester"
        assert old.purged_at is not None
        assert old.closed_at.date() <= old.due_on  # "answered in time" still computable
        for model in (CaseNote, LinkToken):
            assert (
                session.scalar(
                    select(func.count()).select_from(model).where(model.request_id == ids["old"])
                )
                == 0
            )
        package = session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == ids["old"])
        )
        assert package.json_encrypted is None and package.deleted_at is not None
        assert old.plan.subjects == {} and old.plan.lines[0].record_keys == {}
        assert old.plan.lines[0].record_count == 2
        job = session.scalar(select(Job).where(Job.request_id == ids["old"]))
        assert "secret_link" not in job.payload
        assert (
            session.scalar(
                select(func.count())
                .select_from(StatusEvent)
                .where(StatusEvent.request_id == ids["old"])
            )
            == 1
        )

        for name in ("recent", "open", "fresh"):
            untouched = session.get(Request, ids[name])
            assert untouched.last_name == name and untouched.purged_at is None
        # The recent request's package had expired: its content goes, the row stays.
        recent_package = session.scalar(
            select(AccessPackage).where(AccessPackage.request_id == ids["recent"])
        )
        assert recent_package.json_encrypted is None and recent_package.deleted_at is not None

        for name in ("stale", "expired"):
            assert session.get(Request, ids[name]) is None
            for model in (LinkToken, Job, StatusEvent, CaseNote, Plan):
                assert (
                    session.scalar(
                        select(func.count())
                        .select_from(model)
                        .where(model.request_id == ids[name])
                    )
                    == 0
                )
        # The audit trail keeps every event, the deleted requests' ones too, plus the purge's.
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert len(events) > audit_before
        assert {e.request_id for e in events} >= {ids["stale"], ids["expired"]}
        purged = [e for e in events if e.action == "data.purged"]
        assert len(purged) == 1
        assert purged[0].details["requests"] == 1
        assert purged[0].details["unverified"] == 2
        assert purged[0].details["case_notes"] == 1
        db.session.remove()


def test_a_purge_is_idempotent(app):
    """Run again, a purge changes nothing more and records zero counts."""
    seed(app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["purge"]).exit_code == 0
    after_first = snapshot(app)
    second = runner.invoke(args=["purge"])
    assert second.exit_code == 0, second.output
    assert snapshot(app) == after_first
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "data.purged").order_by(AuditEvent.id)
        ).all()
        assert len(events) == 2
        assert all(
            value == 0
            for key, value in events[1].details.items()
            if key.isidentifier() and isinstance(value, int)
        )
        db.session.remove()


def test_older_than_days_overrides_the_setting(app):
    """--older-than-days 30 reaches the request closed a year ago too."""
    ids = seed(app)
    result = app.test_cli_runner().invoke(args=["purge", "--older-than-days", "30"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Request, ids["recent"]).purged_at is not None
        assert db.session.get(Request, ids["open"]).purged_at is None
        db.session.remove()

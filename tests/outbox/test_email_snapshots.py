"""Snapshots of every email as the worker sends it: a wording change shows as a diff.

Each case below queues one email the way the code does and runs the worker's
handler, which writes the message as an ``.eml`` file (no ``MAIL_SERVER``).
The sender, the addressee, the subject and both bodies are compared exactly
with ``tests/outbox/snapshots/<case>.<lang>.txt``. After an intended change,
rewrite them with ``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/outbox`` and
read the diff before committing it.

The clock, the reference, the dates, the link's secret and the Message-ID are
fixed, so a snapshot changes only when an email does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask

from app.models import FulfilmentReport, Job, Request, StaffUser
from app.outbox import emails, jobs, mailer

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REFERENCE = "DSR-2026-000042"
SECRET = "fixed-link-secret-for-the-snapshots"
MESSAGE_ID = "<snapshot@portal.example.org>"
# The requester's identity: it must never reach an email (only the reference does).
FIRST_NAME, LAST_NAME, BIRTH_DATE = "Élodie", "Martin-Dupont", date(1980, 7, 14)

ERASURE_LINES = [
    {
        "source": "pmsi",
        "category": "hospital_stays",
        "action": "erase",
        "count": 3,
        "label_fr": "Séjours hospitaliers",
        "label_en": "Hospital stays",
        "basis_fr": "Consentement",
        "basis_en": "Consent",
        "kept_until": None,
    },
    {
        "source": "sniiram",
        "category": "reimbursements",
        "action": "retain",
        "count": 12,
        "label_fr": "Remboursements de soins",
        "label_en": "Reimbursements of care",
        "basis_fr": "Obligation légale (Code de la sécurité sociale)",
        "basis_en": "Legal obligation (Social Security Code)",
        "kept_until": "2031-12-31",
    },
    {
        "source": "registry",
        "category": "cancer_registry",
        "action": "refer",
        "count": 1,
        "label_fr": "Registre des cancers",
        "label_en": "Cancer registry",
        "basis_fr": "Géré par le registre régional",
        "basis_en": "Run by the regional registry",
        "kept_until": None,
    },
]
OBJECTION_LINES = [
    {
        "source": "pmsi",
        "category": "hospital_stays",
        "action": "exclude_from_reuse",
        "count": 3,
        "label_fr": "Séjours hospitaliers",
        "label_en": "Hospital stays",
    },
    {
        "source": "sniiram",
        "category": "reimbursements",
        "action": "retain",
        "count": 12,
        "label_fr": "Remboursements de soins",
        "label_en": "Reimbursements of care",
        "explanation_fr": "Nécessaires au remboursement de vos soins.",
        "explanation_en": "Needed to reimburse your care.",
        "basis_fr": "Obligation légale",
        "basis_en": "Legal obligation",
        "kept_until": "2031-12-31",
    },
]
RECTIFICATION_LINES = [
    {
        "source": "pmsi",
        "category": "hospital_stays",
        "action": "rectify",
        "count": 3,
        "corrected": 2,
        "fields": ["admission_date"],
        "label_fr": "Séjours hospitaliers",
        "label_en": "Hospital stays",
    },
    ERASURE_LINES[2],
]


@dataclass(frozen=True)
class Case:
    """One email to snapshot: its template, and the request and codes it is sent with."""

    template: str
    kind: str = "access"
    status: str = "received"
    extra: dict[str, Any] = field(default_factory=dict)
    report: list[dict[str, Any]] | None = None
    reference: str | None = REFERENCE


REQUESTER_CASES = {
    "verify": Case("verify", kind="erasure", status="unverified", reference=None),
    "acknowledgement": Case("acknowledgement", kind="erasure"),
    "status_changed": Case("status_changed", status="triage"),
    "plan_ready": Case("plan_ready", status="triage"),
    "identity_check": Case("identity_check", status="identity_review"),
    "withdrawn": Case("withdrawn", status="withdrawn"),
    "status_link": Case("status_link"),
    "in_review": Case("in_review", status="in_review"),
    "approved": Case("approved", kind="erasure", status="approved"),
    "refused": Case("refused", status="denied", extra={"ground": "manifestly_unfounded"}),
    "information_needed": Case("information_needed", status="awaiting_requester"),
    "answer_received": Case("answer_received", status="in_review"),
    "extended": Case(
        "extended", status="in_review", extra={"ground": "complexity", "due_on": "2026-06-02"}
    ),
    "package_ready": Case("package_ready", status="fulfilling", extra={"hours": 72}),
    "package_ready--portability-refused": Case(
        "package_ready",
        kind="portability",
        status="fulfilling",
        extra={"hours": 72, "portability_refused": True},
    ),
    "completed_access": Case("completed_access", status="completed", extra={"records": 14}),
    "completed_access--nothing-found": Case(
        "completed_access", status="completed", extra={"records": 0}
    ),
    "completed_portability": Case(
        "completed_portability",
        kind="portability",
        status="completed",
        extra={"records": 1, "portability_refused": True},
    ),
    "completed_erasure": Case(
        "completed_erasure",
        kind="erasure",
        status="completed",
        extra={"notified": 2},
        report=ERASURE_LINES,
    ),
    "completed_erasure--nothing-found": Case(
        "completed_erasure", kind="erasure", status="completed", extra={"notified": 0}, report=[]
    ),
    "completed_objection": Case(
        "completed_objection", kind="objection", status="completed", report=OBJECTION_LINES
    ),
    "completed_rectification": Case(
        "completed_rectification",
        kind="rectification",
        status="completed",
        extra={"outcome": "corrected", "corrected": 2, "notified": 1},
        report=RECTIFICATION_LINES,
    ),
    "completed_rectification--accurate": Case(
        "completed_rectification",
        kind="rectification",
        status="completed",
        extra={"outcome": "accurate", "corrected": 0, "notified": 0},
        report=[],
    ),
}
# Emails to organisations and to staff, in French whatever the request's language.
NOTICE_CASES = {
    "recipient_notice": "erased",
    "recipient_notice--rectified": "rectified",
    "recipient_notice--restricted": "restricted",
}
STAFF_CASES = {"staff_reminder"}


def _request(session: Any, case: Case, locale: str) -> Request:
    request = Request(
        reference=case.reference,
        kind=case.kind,
        status=case.status,
        locale=locale,
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
        birth_date=BIRTH_DATE,
        email="elodie.martin@example.fr",
        email_normalized="elodie.martin@example.fr",
        created_at=NOW,
        received_on=None if case.status == "unverified" else date(2026, 2, 27),
        due_on=None if case.status == "unverified" else date(2026, 3, 27),
    )
    session.add(request)
    session.flush()
    if case.report is not None:
        session.add(FulfilmentReport(request_id=request.id, kind=case.kind, lines=case.report))
        session.flush()
    return request


def _job(request_id: int | None, payload: dict[str, Any]) -> Job:
    """The job as the worker reads it, kept out of the database (nothing else needs it)."""
    return Job(
        id=1,
        kind=jobs.SEND_EMAIL,
        request_id=request_id,
        payload=payload,
        message_id=MESSAGE_ID,
        created_at=NOW,
        attempts=0,
    )


def _requester_job(app: Flask, session: Any, case: Case, locale: str) -> Job:
    request = _request(session, case, locale)
    _, values = emails.email_values(
        request.id, case.template, NOW, app.extensions["portal"]["mail"], case.extra or None
    )
    return _job(request.id, values["payload"] | {"secret_link": SECRET})


def _notice_job(session: Any, action: str) -> Job:
    """An Art. 19 notice, with the payload ``app.fulfilment.notify_recipients`` writes."""
    request = _request(session, Case("recipient_notice", kind="erasure", status="completed"), "en")
    payload = {
        "template": "recipient_notice",
        "recipient_email": "dpo@hopital-demo.example",
        "recipient_name": "Hôpital de démonstration",
        "categories": ["cancer_registry", "hospital_stays"],
        "labels": ["Registre des cancers", "Séjours hospitaliers"],
        "action": action,
        "reference": REFERENCE,
        "done_on": "2026-03-02",
    }
    return _job(request.id, payload)


def _staff_job(session: Any) -> Job:
    """A daily reminder, with the payload ``app.casework.reminders`` writes."""
    staff = StaffUser(email="agent@portal.example.org", role="agent")
    session.add(staff)
    session.flush()
    cases = [
        {"reference": "DSR-2026-000007", "kind": "erasure", "due_on": "2026-02-27"},
        {"reference": REFERENCE, "kind": "access", "due_on": "2026-03-04"},
    ]
    return _job(None, {"template": "staff_reminder", "staff_id": staff.id, "cases": cases})


def _sent(app: Flask, session: Any, job: Job) -> EmailMessage:
    """Run the worker's handler on ``job`` and read back the one message it wrote."""
    with time_machine.travel(NOW, tick=False):
        mailer.send_email_job(app, session, job, NOW)
    [path] = Path(app.config["MAIL_DIR"]).glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _shown(message: EmailMessage) -> str:
    """What the snapshot holds: the headers a reader sees, then both bodies."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "an email lacks its text or its html part"
    headers = [f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Message-ID")]
    shown = "\n".join(
        [
            *headers,
            "",
            "----- text/plain -----",
            str(text.get_content()),
            "----- text/html -----",
            str(html.get_content()),
        ]
    )
    # The message's CRLF line ends, as the files keep them on every platform.
    return shown.replace("\r\n", "\n")


def _compare(stem: str, shown: str) -> None:
    path = SNAPSHOTS / f"{stem}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(shown, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1, read the diff"
    expected = path.read_text(encoding="utf-8")
    assert shown == expected, (
        f"{path.name} differs from the email sent now; if the change is intended, "
        "rewrite it with UPDATE_SNAPSHOTS=1 and read the diff"
    )


def _no_identity(shown: str) -> None:
    """The requester's name and birth date never travel in an email (only the reference)."""
    for value in (FIRST_NAME, LAST_NAME, BIRTH_DATE.isoformat(), "14/07/1980", "1980"):
        assert value not in shown


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("stem", sorted(REQUESTER_CASES))
def test_requester_email_matches_its_snapshot(app, session, stem, locale):
    """Each email to a requester, in each language, is exactly its snapshot."""
    job = _requester_job(app, session, REQUESTER_CASES[stem], locale)
    shown = _shown(_sent(app, session, job))
    _no_identity(shown)
    _compare(f"{stem}.{locale}", shown)


@pytest.mark.parametrize("stem", sorted(NOTICE_CASES))
def test_recipient_notice_matches_its_snapshot(app, session, stem):
    """Each Art. 19 notice (erased, rectified, restricted) is exactly its snapshot, in French."""
    shown = _shown(_sent(app, session, _notice_job(session, NOTICE_CASES[stem])))
    _no_identity(shown)
    _compare(f"{stem}.fr", shown)


def test_staff_reminder_matches_its_snapshot(app, session):
    """The daily reminder to a member of staff is exactly its snapshot, in French."""
    shown = _shown(_sent(app, session, _staff_job(session)))
    _no_identity(shown)
    _compare("staff_reminder.fr", shown)

"""Sample emails for the outbox tests: one job per email, with everything fixed.

Each sample queues its email the way the code does (``emails.email_values``
for the requester's, the payloads of ``app.fulfilment.notify_recipients``,
``app.casework.reminders`` and ``app.audit.daily`` for the others). The clock,
the reference, the dates, the link's secret and the Message-ID are fixed, so
what the worker renders from a sample changes only when an email does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import time_machine
from flask import Flask

from app import tokens
from app.models import FulfilmentReport, Job, Request, StaffUser
from app.outbox import emails, jobs, mailer, registry
from app.outbox.registry import Audience
from app.services import services_of

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
class Sample:
    """One email to render: its name, and the request and codes it is sent with."""

    template: str
    kind: str = "access"
    status: str = "received"
    extra: dict[str, Any] = field(default_factory=dict)
    report: list[dict[str, Any]] | None = None
    reference: str | None = REFERENCE
    # What an Art. 19 notice reports: erased, rectified or restricted.
    action: str = "erased"
    # A request made for someone else: the relationship (``models.RELATIONSHIPS``).
    acts_as: str = "self"


# Keyed by snapshot name: the email's name, then ``--variant`` for another branch of it.
SAMPLES = {
    "verify": Sample("verify", kind="erasure", status="unverified", reference=None),
    "acknowledgement": Sample("acknowledgement", kind="erasure"),
    "status_changed": Sample("status_changed", status="triage"),
    "plan_ready": Sample("plan_ready", status="triage"),
    "identity_check": Sample("identity_check", status="identity_review"),
    "identity_needed": Sample("identity_needed", kind="erasure", status="awaiting_identity"),
    "identity_needed--for_someone_else": Sample(
        "identity_needed", kind="access", status="awaiting_identity", acts_as="guardian"
    ),
    "identity_confirmed": Sample("identity_confirmed", kind="erasure", status="received"),
    # To the person on file: the payload app.identity.contact.queue_notice writes.
    "filed_in_your_name": Sample("filed_in_your_name", kind="erasure", status="awaiting_identity"),
    "withdrawn": Sample("withdrawn", status="withdrawn"),
    "relationship_proof_refused": Sample(
        "relationship_proof_refused", status="awaiting_identity", extra={"reason": "expired"}
    ),
    # A request made for someone else: one proof accepted, the other awaited; then both.
    "proof_accepted": Sample(
        "proof_accepted",
        status="awaiting_identity",
        acts_as="guardian",
        extra={"accepted": "identity", "awaited": "relationship"},
    ),
    "proof_accepted--relationship": Sample(
        "proof_accepted",
        status="awaiting_identity",
        acts_as="parent",
        extra={"accepted": "relationship", "awaited": "identity"},
    ),
    "proof_accepted--both": Sample(
        "proof_accepted", status="received", acts_as="heir", extra={"accepted": "relationship"}
    ),
    # The right and the data worded as the person's (app.labels.KIND_LABELS_FOR_OTHER).
    "acknowledgement--for_someone_else": Sample(
        "acknowledgement", kind="erasure", acts_as="parent"
    ),
    "package_ready--for_someone_else": Sample(
        "package_ready",
        status="fulfilling",
        acts_as="heir",
        extra={"hours": 72, "portability_refused": False},
    ),
    "completed_access--for_someone_else": Sample(
        "completed_access", status="completed", acts_as="mandatary"
    ),
    "completed_erasure--for_someone_else": Sample(
        "completed_erasure",
        kind="erasure",
        status="completed",
        acts_as="guardian",
        extra={"notified": False},
        report=[],
    ),
    "completed_objection--for_someone_else": Sample(
        "completed_objection",
        kind="objection",
        status="completed",
        acts_as="parent",
        report=OBJECTION_LINES,
    ),
    "completed_rectification--for_someone_else": Sample(
        "completed_rectification",
        kind="rectification",
        status="completed",
        acts_as="guardian",
        extra={"outcome": "corrected", "notified": False},
        report=[],
    ),
    "identity_check--for_someone_else": Sample(
        "identity_check", status="identity_review", acts_as="parent"
    ),
    "identity_document_refused": Sample(
        "identity_document_refused", status="awaiting_identity", extra={"reason": "expired"}
    ),
    "status_link": Sample("status_link"),
    "in_review": Sample("in_review", status="in_review"),
    "approved": Sample("approved", kind="erasure", status="approved"),
    "refused": Sample("refused", status="denied", extra={"ground": "manifestly_unfounded"}),
    "information_needed": Sample("information_needed", status="awaiting_requester"),
    "answer_received": Sample("answer_received", status="in_review"),
    "extended": Sample(
        "extended", status="in_review", extra={"ground": "complexity", "due_on": "2026-06-02"}
    ),
    "package_ready": Sample(
        "package_ready", status="fulfilling", extra={"hours": 72, "portability_refused": False}
    ),
    "package_ready--portability-refused": Sample(
        "package_ready",
        kind="portability",
        status="fulfilling",
        extra={"hours": 72, "portability_refused": True},
    ),
    "completed_access": Sample("completed_access", status="completed"),
    "completed_portability": Sample(
        "completed_portability",
        kind="portability",
        status="completed",
        extra={"portability_refused": True},
    ),
    "completed_erasure": Sample(
        "completed_erasure",
        kind="erasure",
        status="completed",
        extra={"notified": True},
        report=ERASURE_LINES,
    ),
    "completed_erasure--no-recipient": Sample(
        "completed_erasure",
        kind="erasure",
        status="completed",
        extra={"notified": False},
        report=[],
    ),
    "completed_objection": Sample(
        "completed_objection", kind="objection", status="completed", report=OBJECTION_LINES
    ),
    "completed_rectification": Sample(
        "completed_rectification",
        kind="rectification",
        status="completed",
        extra={"outcome": "corrected", "notified": True},
        report=RECTIFICATION_LINES,
    ),
    "completed_rectification--accurate": Sample(
        "completed_rectification",
        kind="rectification",
        status="completed",
        extra={"outcome": "accurate", "notified": False},
        report=[],
    ),
    "recipient_notice": Sample("recipient_notice", kind="erasure", status="completed"),
    "recipient_notice--rectified": Sample(
        "recipient_notice", kind="rectification", status="completed", action="rectified"
    ),
    "recipient_notice--restricted": Sample(
        "recipient_notice", kind="rectification", status="fulfilling", action="restricted"
    ),
    "staff_reminder": Sample("staff_reminder"),
    # Staff accounts (app.staffing.notices): ``extra`` is the payload beyond the addressee.
    "staff_enrolment": Sample("staff_enrolment", extra={"hours": 72}),
    "staff_account_changed": Sample(
        "staff_account_changed", extra={"change": "created", "role": "admin", "channel": "server"}
    ),
    "staff_account_changed--dpo-requested": Sample(
        "staff_account_changed",
        extra={"change": "dpo_requested", "role": "dpo", "previous_role": None, "channel": "page"},
    ),
    "staff_account_changed--dpo-requested-for-an-agent": Sample(
        "staff_account_changed",
        extra={"change": "dpo_requested", "role": "dpo", "previous_role": "agent"},
    ),
    "staff_account_changed--dpo-confirmed": Sample(
        "staff_account_changed",
        extra={"change": "dpo_confirmed", "role": "dpo", "previous_role": "agent"},
    ),
    "staff_account_changed--role-changed": Sample(
        "staff_account_changed",
        extra={"change": "role_changed", "role": "agent", "previous_role": "admin"},
    ),
    "staff_account_changed--enabled": Sample(
        "staff_account_changed",
        extra={"change": "enabled", "role": "dpo", "channel": "server"},
    ),
    "audit_anchor": Sample("audit_anchor"),
}
# The day's anchor as app.audit.daily emails it to each DPO: positions and a hash only.
ANCHOR = {"day": "2026-03-02", "seq": 1234, "hash": "3f" * 32}


def languages(sample: Sample) -> tuple[str, ...]:
    """The languages its email is sent in: the request's for the requester, else French."""
    if registry.get(sample.template).audience is Audience.REQUESTER:
        return ("fr", "en")
    return (mailer.STAFF_LOCALE,)


def _request(session: Any, sample: Sample, locale: str) -> Request:
    request = Request(
        reference=sample.reference,
        kind=sample.kind,
        status=sample.status,
        acts_as=sample.acts_as,
        relationship_proof=None if sample.acts_as == "self" else "awaited",
        locale=locale,
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
        birth_date=BIRTH_DATE,
        email="elodie.martin@example.fr",
        email_normalized="elodie.martin@example.fr",
        created_at=NOW,
        received_on=None if sample.status == "unverified" else date(2026, 2, 27),
        due_on=None if sample.status == "unverified" else date(2026, 3, 27),
    )
    session.add(request)
    session.flush()
    if sample.report is not None:
        session.add(FulfilmentReport(request_id=request.id, kind=sample.kind, lines=sample.report))
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


def job_for(app: Flask, session: Any, sample: Sample, locale: str) -> Job:
    """The job that sends ``sample``'s email, for a request in ``locale``."""
    audience = registry.get(sample.template).audience
    if sample.template == "audit_anchor":
        dpo = StaffUser(email="dpo@portal.example.org", role="dpo")
        session.add(dpo)
        session.flush()
        return _job(None, {"template": sample.template, "staff_id": dpo.id, **ANCHOR})
    if audience is Audience.STAFF and sample.template != "staff_reminder":
        return _account_job(session, sample)
    if audience is Audience.STAFF:
        # A daily reminder, with the payload app.casework.reminders writes.
        staff = StaffUser(email="agent@portal.example.org", role="agent")
        session.add(staff)
        session.flush()
        cases = [
            {"reference": "DSR-2026-000007", "kind": "erasure", "due_on": "2026-02-27"},
            {"reference": REFERENCE, "kind": "access", "due_on": "2026-03-04"},
        ]
        return _job(None, {"template": sample.template, "staff_id": staff.id, "cases": cases})
    request = _request(session, sample, locale)
    if audience is Audience.RECIPIENT:
        # An Art. 19 notice, with the payload app.fulfilment.notify_recipients writes.
        payload = {
            "template": sample.template,
            "recipient_email": "dpo@hopital-demo.example",
            "recipient_name": "Hôpital de démonstration",
            "action": sample.action,
            "reference": REFERENCE,
            "done_on": "2026-03-02",
        }
        return _job(request.id, payload)
    if audience is Audience.ON_FILE:
        payload = {
            "template": sample.template,
            "secret_address": "camille.on.file@example.org",
            "link_purpose": tokens.NOT_ME,
            "secret_link": SECRET,
        }
        return _job(request.id, payload)
    _, values = emails.email_values(
        request.id, sample.template, NOW, services_of(app).mail, sample.extra or None
    )
    return _job(request.id, values["payload"] | {"secret_link": SECRET})


def _account_job(session: Any, sample: Sample) -> Job:
    """An email about a staff account, with the payload app.staffing.notices writes."""
    if sample.template == "staff_enrolment":
        invitee = StaffUser(email="nouvel.agent@portal.example.org", role="agent")
        session.add(invitee)
        session.flush()
        payload = {"staff_id": invitee.id, "secret_enrolment": SECRET, **sample.extra}
        return _job(None, {"template": sample.template, **payload})
    dpo = StaffUser(email="dpo@portal.example.org", role="dpo")
    account = StaffUser(email="compte.concerne@portal.example.org", role=sample.extra["role"])
    session.add_all([dpo, account])
    session.flush()
    payload = {"channel": "page", "previous_role": None, **sample.extra}
    return _job(
        None,
        {"template": sample.template, "staff_id": dpo.id, "account_id": account.id, **payload},
    )


def sent(app: Flask, session: Any, job: Job) -> EmailMessage:
    """Run the worker's handler on ``job`` and read back the one message it wrote."""
    with time_machine.travel(NOW, tick=False):
        mailer.send_email_job(app, session, job, NOW)
    [path] = Path(app.config["MAIL_DIR"]).glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def shown(message: EmailMessage) -> str:
    """What a snapshot holds: the headers a reader sees, then both bodies."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "an email lacks its text or its html part"
    headers = [f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Message-ID")]
    lines = [
        *headers,
        "",
        "----- text/plain -----",
        str(text.get_content()),
        "----- text/html -----",
        str(html.get_content()),
    ]
    # The message's CRLF line ends, as the files keep them on every platform.
    return "\n".join(lines).replace("\r\n", "\n")


def no_identity(text: str) -> None:
    """The requester's name and birth date never travel in an email (only the reference)."""
    for value in (FIRST_NAME, LAST_NAME, BIRTH_DATE.isoformat(), "14/07/1980", "1980"):
        assert value not in text

"""Turning an email job into a message and handing it to SMTP or to a file.

Rendering happens in the worker, in the request's language, from template
files only (never from input). Links are built from ``PORTAL_BASE_URL``, never
from a Host header. Without ``MAIL_SERVER`` messages are written as ``.eml``
files, which is how the demo works with no mail server at all. A job with a
``staff_id`` (the daily reminder, ``app.casework.reminders``) goes to that member of
staff instead, in French.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from flask import Flask, render_template, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Message
from sqlalchemy.orm import Session

from app import tokens
from app.deadlines import receipt_date
from app.extensions import mail
from app.models import Job, Request, StaffUser
from app.outbox import jobs
from app.services import services_of

SUBJECTS = {
    "verify": _l("Confirm your email address to send your request"),
    "acknowledgement": _l("Your request %(reference)s has been received"),
    "status_changed": _l("Your request %(reference)s has changed"),
    "plan_ready": _l("Your request %(reference)s: what we found"),
    "identity_check": _l("Your request %(reference)s: we are checking your identity"),
    "withdrawn": _l("Your request %(reference)s has been withdrawn"),
    "status_link": _l("Your link to follow request %(reference)s"),
    "in_review": _l("Your request %(reference)s is being examined"),
    "approved": _l("Your request %(reference)s has been approved"),
    "refused": _l("Your request %(reference)s: our decision"),
    "information_needed": _l("Your request %(reference)s: we need information from you"),
    "answer_received": _l("Your request %(reference)s: we have received your answer"),
    "extended": _l("Your request %(reference)s: we need more time"),
    "package_ready": _l("Your request %(reference)s: your data is ready to download"),
    "completed_access": _l("Your request %(reference)s is completed"),
    "completed_portability": _l("Your request %(reference)s is completed"),
    "completed_erasure": _l("Your request %(reference)s: your data has been erased"),
    "completed_objection": _l("Your request %(reference)s: your objection is recorded"),
    "completed_rectification": _l("Your request %(reference)s: your data has been corrected"),
}
# Emails to the recipients of the data listed in the catalogue (GDPR Art. 19).
RECIPIENT_SUBJECTS = {
    "recipient_notice": _l("GDPR Art. 19 notice about request %(reference)s"),
}
# Emails to staff: the subject takes the number of cases listed.
STAFF_SUBJECTS = {
    "staff_reminder": _l("Cases due soon or overdue: %(count)s"),
}
# Staff accounts have no language of their own; the portal's staff work in French.
STAFF_LOCALE = "fr"
LINK_ENDPOINTS = {
    tokens.VERIFY_EMAIL: "public.verify",
    tokens.STATUS_PAGE: "public.status_link",
    tokens.DOWNLOAD: "public.download",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(app: Flask, job: Job, request: Request) -> Rendered:
    """Render a job's email in the request's language, with its signed link."""
    template = job.payload["template"]
    signer = services_of(app).signer
    with (
        app.test_request_context("/", base_url=app.config["PORTAL_BASE_URL"]),
        force_locale(request.locale),
    ):
        link = None
        if "secret_link" in job.payload:
            purpose = job.payload["link_purpose"]
            signed = signer.sign(job.payload["secret_link"], purpose)
            link = url_for(LINK_ENDPOINTS[purpose], token=signed, _external=True)
        # Codes and dates only (ground, due date): see emails.queue_email.
        extra = {k: v for k, v in job.payload.items() if not k.startswith(("secret_", "link_"))}
        context = {"request": request, "link": link, "locale": request.locale, "extra": extra}
        subject = str(SUBJECTS[template]) % {"reference": request.reference or ""}
        return Rendered(
            subject=subject,
            text=render_template(f"email/{template}.txt", **context),
            html=render_template(f"email/{template}.html", subject=subject, **context),
        )


@dataclass(frozen=True)
class ListedCase:
    """A case as a staff email lists it: reference, right and due date, nothing more."""

    reference: str
    kind: str
    due_on: date


def render_for_staff(app: Flask, job: Job) -> Rendered:
    """Render a staff email: references, rights and dates from the payload, a queue link."""
    template = job.payload["template"]
    # The day the list was drawn up, which decides what counts as overdue.
    today = receipt_date(job.created_at)
    cases = [
        ListedCase(str(case["reference"]), str(case["kind"]), date.fromisoformat(case["due_on"]))
        for case in job.payload.get("cases", [])
    ]
    with (
        app.test_request_context("/", base_url=app.config["PORTAL_BASE_URL"]),
        force_locale(STAFF_LOCALE),
    ):
        context = {
            "link": url_for("staff.queue", _external=True),
            "locale": STAFF_LOCALE,
            "today": today,
            "overdue": [c for c in cases if c.due_on < today],
            "due_soon": [c for c in cases if c.due_on >= today],
        }
        subject = str(STAFF_SUBJECTS[template]) % {"count": len(cases)}
        return Rendered(
            subject=subject,
            text=render_template(f"email/{template}.txt", **context),
            html=render_template(f"email/{template}.html", subject=subject, **context),
        )


def deliver(app: Flask, job: Job, recipient: str, rendered: Rendered) -> None:
    """Send over SMTP, or write to ``MAIL_DIR``; the Message-ID is the job's own."""
    message = Message(
        subject=rendered.subject,
        recipients=[recipient],
        body=rendered.text,
        html=rendered.html,
        sender=app.config["MAIL_DEFAULT_SENDER"],
    )
    message.msgId = job.message_id or jobs.new_message_id("localhost")
    if app.config["MAIL_SERVER"]:
        mail.send(message)
        return
    folder = Path(app.config["MAIL_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    # One file per job, replaced atomically: a retry rewrites, never doubles.
    final = folder / f"{job.created_at:%Y%m%d-%H%M%S}-{job.id:08d}.eml"
    temporary = final.with_suffix(".tmp")
    temporary.write_bytes(message.as_bytes())
    os.replace(temporary, final)


def send_email_job(app: Flask, session: Session, job: Job, now: datetime) -> None:
    """The worker's handler for ``send_email`` jobs."""
    if "staff_id" in job.payload:
        send_staff_email(app, session, job)
        return
    if "recipient_email" in job.payload:
        send_recipient_email(app, session, job)
        return
    if job.request_id is None:
        raise LookupError("this email job names no request and no member of staff")
    request = session.get(Request, job.request_id)
    if request is None:
        raise LookupError("the request of this email no longer exists")
    rendered = render(app, job, request)
    deliver(app, job, request.email, rendered)
    job.subject = rendered.subject[:200]


def send_staff_email(app: Flask, session: Session, job: Job) -> None:
    """Send an email job addressed to a member of staff (``payload["staff_id"]``)."""
    staff = session.get(StaffUser, job.payload["staff_id"])
    if staff is None:
        raise LookupError("the member of staff of this email no longer exists")
    if not staff.is_active:
        # A disabled account gets no more mail; retrying would not change that.
        job.last_error = "not sent: the staff account is disabled"
        return
    rendered = render_for_staff(app, job)
    deliver(app, job, staff.email, rendered)
    job.subject = rendered.subject[:200]


def send_recipient_email(app: Flask, session: Session, job: Job) -> None:
    """Send an Art. 19 notice to a recipient named in the catalogue (not the requester).

    It names the request's reference, the categories and what was done: never
    the person's data, which the recipient finds through its own secure channel.
    """
    request = session.get(Request, job.request_id) if job.request_id else None
    template = job.payload["template"]
    with (
        app.test_request_context("/", base_url=app.config["PORTAL_BASE_URL"]),
        force_locale(STAFF_LOCALE),
    ):
        reference = request.reference if request else job.payload.get("reference", "")
        context = {"extra": job.payload, "reference": reference, "locale": STAFF_LOCALE}
        subject = str(RECIPIENT_SUBJECTS[template]) % {"reference": reference or ""}
        rendered = Rendered(
            subject=subject,
            text=render_template(f"email/{template}.txt", **context),
            html=render_template(f"email/{template}.html", subject=subject, **context),
        )
    deliver(app, job, str(job.payload["recipient_email"]), rendered)
    job.subject = rendered.subject[:200]


class Mailer:
    """The portal's ``Postman``: renders with the app's templates, sends with Flask-Mail."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def send(self, session: Session, job: Job, now: datetime) -> None:
        send_email_job(self.app, session, job, now)

"""Turning an email job into a message and handing it to SMTP or to a file.

Rendering happens in the worker, from template files only (never from input):
``templates/email/<name>/`` holds each email's subject and bodies, and
``registry`` says whom it goes to. An email to the requester is written in the
request's language; one to a member of staff (the daily reminder,
``app.casework.reminders``; the audit anchor to the DPOs, ``app.audit.daily``;
an enrolment link or a notice to DPOs about an account, ``app.staffing.notices``)
or to an organisation that received the data (the Art. 19 notice,
``app.fulfilment.notify_recipients``) in French. Links are
built from ``PORTAL_BASE_URL``, never from a Host header. Without
``MAIL_SERVER`` messages are written as ``.eml`` files, which is how the demo
works with no mail server at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import Flask, render_template, url_for
from flask_babel import force_locale
from flask_mail import Message
from sqlalchemy.orm import Session

from app import tokens
from app.audit import daily
from app.audit.anchors import Anchor
from app.deadlines import receipt_date
from app.extensions import mail
from app.labels import ROLE_LABELS
from app.models import Job, Request, StaffUser
from app.outbox import jobs, registry
from app.outbox.registry import Audience, Email
from app.services import services_of

# Staff accounts have no language of their own; the portal's staff work in French.
STAFF_LOCALE = "fr"
LINK_ENDPOINTS = {
    tokens.VERIFY_EMAIL: "public.verify",
    tokens.STATUS_PAGE: "public.status_link",
    tokens.DOWNLOAD: "public.download",
    tokens.NOT_ME: "public.not_me",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Outgoing:
    """A rendered email and the one address it goes to."""

    address: str
    rendered: Rendered


def render(
    app: Flask, email: Email, locale: str, values: Callable[[], dict[str, Any]]
) -> Rendered:
    """Render an email's subject and both bodies in ``locale``, for any audience.

    ``values`` is called inside a request context on ``PORTAL_BASE_URL``, where
    ``url_for`` builds the absolute links the email carries.
    """
    with (
        app.test_request_context("/", base_url=app.config["PORTAL_BASE_URL"]),
        force_locale(locale),
    ):
        context = {"locale": locale, **values()}
        subject = render_template(email.template("subject.txt"), **context).strip()
        # A header on one line, never empty: a template that breaks this is a bug.
        if not subject or "\n" in subject:
            raise ValueError(f"the subject of {email.name!r} must be one non-empty line")
        return Rendered(
            subject=subject,
            text=render_template(email.template("body.txt"), **context),
            html=render_template(email.template("body.html"), subject=subject, **context),
        )


@dataclass(frozen=True)
class AboutRequest:
    """What an email may say of its request: never its person, its plan or its report.

    Templates get this, not the ``Request``: a category name, a count or a
    retention date of someone's records is health data, which an email (read
    in a shared mailbox, forwarded) must not carry; the status page shows it.
    """

    reference: str
    kind: str
    status: str
    received_on: date | None
    due_on: date | None

    @classmethod
    def of(cls, request: Request) -> AboutRequest:
        return cls(
            request.reference or "",
            request.kind,
            request.status,
            request.received_on,
            request.due_on,
        )


def requester_values(app: Flask, job: Job, request: Request) -> dict[str, Any]:
    """What an email to the requester shows: the request's codes and dates, its signed link."""
    signer = services_of(app).signer
    link = None
    if "secret_link" in job.payload:
        purpose = job.payload["link_purpose"]
        signed = signer.sign(job.payload["secret_link"], purpose)
        link = url_for(LINK_ENDPOINTS[purpose], token=signed, _external=True)
    # Codes and dates only (ground, due date): see emails.queue_email.
    extra = {k: v for k, v in job.payload.items() if not k.startswith(("secret_", "link_"))}
    return {
        "request": AboutRequest.of(request),
        "reference": request.reference or "",
        "link": link,
        "extra": extra,
    }


@dataclass(frozen=True)
class ListedCase:
    """A case as a staff email lists it: reference, right and due date, nothing more."""

    reference: str
    kind: str
    due_on: date


def staff_values(job: Job) -> dict[str, Any]:
    """What a staff email shows: references, rights and dates from the payload, a queue link."""
    # The day the list was drawn up, which decides what counts as overdue.
    today = receipt_date(job.created_at)
    cases = [
        ListedCase(str(case["reference"]), str(case["kind"]), date.fromisoformat(case["due_on"]))
        for case in job.payload.get("cases", [])
    ]
    values: dict[str, Any] = {
        "link": url_for("staff.queue", _external=True),
        "today": today,
        "count": len(cases),
        "overdue": [c for c in cases if c.due_on < today],
        "due_soon": [c for c in cases if c.due_on >= today],
    }
    if job.payload["template"] == daily.TEMPLATE:
        # The three values the anchor file got that day (app.audit.daily).
        payload = job.payload
        values["anchor"] = Anchor(
            date.fromisoformat(payload["day"]), int(payload["seq"]), str(payload["hash"])
        )
    return values


def enrolment_values(job: Job, staff: StaffUser) -> dict[str, Any]:
    """The invitee's own enrolment link, which only this email ever carries."""
    token = job.payload.get("secret_enrolment")
    if not token:
        raise LookupError("this enrolment email no longer holds its link")
    return {
        "link": url_for("staff.enrol", token=token, _external=True),
        "hours": int(job.payload["hours"]),
        "role": ROLE_LABELS.get(staff.role or "", ""),
    }


def account_values(session: Session, job: Job) -> dict[str, Any]:
    """A notice to a DPO: which account, what changed, from where; a link to the accounts."""
    account = session.get(StaffUser, job.payload["account_id"])
    if account is None:
        raise LookupError("the account of this notice no longer exists")
    role, previous = job.payload.get("role"), job.payload.get("previous_role")
    return {
        "account_email": account.email,
        "change": job.payload["change"],
        "channel": job.payload["channel"],
        "role": ROLE_LABELS.get(role, "") if role else "",
        "previous_role": ROLE_LABELS.get(previous, "") if previous else "",
        "link": url_for("staff.accounts", _external=True),
    }


def staff_email_values(
    session: Session, job: Job, email: Email, staff: StaffUser
) -> dict[str, Any]:
    """What an email to a member of staff shows, by email."""
    if email.name == "staff_enrolment":
        return enrolment_values(job, staff)
    if email.name == "staff_account_changed":
        return account_values(session, job)
    return staff_values(job)


def recipient_values(job: Job, request: Request | None) -> dict[str, Any]:
    """What an Art. 19 notice shows: the reference, what was done and when.

    Never the person's data nor the categories, which the recipient asks our
    DPO for through its own secure channel (``fulfilment.notify_recipients``).
    """
    reference = request.reference if request else job.payload.get("reference", "")
    return {"extra": job.payload, "reference": reference or ""}


def on_file_values(app: Flask, job: Job, request: Request) -> dict[str, Any]:
    """The notice to the person on file: the right, the day, the link; nothing about the filer."""
    signed = services_of(app).signer.sign(job.payload["secret_link"], tokens.NOT_ME)
    return {
        "request": AboutRequest.of(request),
        "reference": request.reference or "",
        "link": url_for(LINK_ENDPOINTS[tokens.NOT_ME], token=signed, _external=True),
    }


def compose(app: Flask, session: Session, job: Job) -> Outgoing | None:
    """The job's message and address, as its email's audience says; None: not to be sent."""
    email = registry.get(str(job.payload["template"]))
    if email.audience is Audience.STAFF:
        staff = session.get(StaffUser, job.payload["staff_id"])
        if staff is None:
            raise LookupError("the member of staff of this email no longer exists")
        if not staff.is_active:
            # A disabled account gets no more mail; retrying would not change that.
            job.last_error = "not sent: the staff account is disabled"
            return None
        return Outgoing(
            staff.email,
            render(
                app, email, STAFF_LOCALE, lambda: staff_email_values(session, job, email, staff)
            ),
        )
    if email.audience is Audience.RECIPIENT:
        notified = session.get(Request, job.request_id) if job.request_id else None
        return Outgoing(
            str(job.payload["recipient_email"]),
            render(app, email, STAFF_LOCALE, lambda: recipient_values(job, notified)),
        )
    if job.request_id is None:
        raise LookupError("this email job names no request")
    request = session.get(Request, job.request_id)
    if request is None:
        raise LookupError("the request of this email no longer exists")
    if email.audience is Audience.ON_FILE:
        return Outgoing(
            str(job.payload["secret_address"]),
            render(app, email, STAFF_LOCALE, lambda: on_file_values(app, job, request)),
        )
    return Outgoing(
        request.email,
        render(app, email, request.locale, lambda: requester_values(app, job, request)),
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
    outgoing = compose(app, session, job)
    if outgoing is None:
        return
    deliver(app, job, outgoing.address, outgoing.rendered)
    job.subject = outgoing.rendered.subject[:200]


class Mailer:
    """The portal's ``Postman``: renders with the app's templates, sends with Flask-Mail."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def send(self, session: Session, job: Job, now: datetime) -> None:
        send_email_job(self.app, session, job, now)

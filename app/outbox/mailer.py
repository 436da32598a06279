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

import base64
import os
import re
import secrets
import smtplib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from email import message_from_bytes, policy, quoprimime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import MapAdapter

from app import labels, tokens
from app.audit import daily
from app.audit.anchors import Anchor
from app.deadlines import receipt_date
from app.labels import ROLE_LABELS
from app.models import Job, Request, StaffUser
from app.outbox import registry
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
# CRLF line ends and headers folded at 78 characters, non-ASCII words RFC 2047 encoded.
WIRE = policy.SMTP
# What the page layout's context processor gives templates (app.i18n), minus the
# page-only names: email templates read the labels of the portal's codes.
LABELS = {
    "kind_labels": labels.KIND_LABELS,
    "status_labels": labels.STATUS_LABELS,
    "action_labels": labels.ACTION_LABELS,
    "refusal_labels": labels.REFUSAL_LABELS,
    "extension_labels": labels.EXTENSION_LABELS,
    "assurance_labels": labels.ASSURANCE_LABELS,
    "document_reason_labels": labels.DOCUMENT_REASON_LABELS,
    "proof_reason_labels": labels.PROOF_REASON_LABELS,
}


class Links:
    """Absolute links on ``PORTAL_BASE_URL``, built without a request context."""

    def __init__(self, app: Flask) -> None:
        base = urlsplit(app.config["PORTAL_BASE_URL"])
        self.adapter: MapAdapter = app.url_map.bind(
            base.netloc, script_name=base.path or "/", url_scheme=base.scheme
        )

    def __call__(self, endpoint: str, **values: Any) -> str:
        return self.adapter.build(endpoint, values, force_external=True)


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

    No request context: the templates get the labels of the portal's codes
    (``LABELS``) and the values, whose links ``Links`` builds on
    ``PORTAL_BASE_URL``. An app context is pushed only when none is active.
    """
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        return _render(app, email, locale, values)
    with app.app_context():
        return _render(app, email, locale, values)


def _render(
    app: Flask, email: Email, locale: str, values: Callable[[], dict[str, Any]]
) -> Rendered:
    environment = app.jinja_env
    with force_locale(locale):
        context = {**LABELS, "locale": locale, **values()}
        subject = environment.get_template(email.template("subject.txt")).render(context).strip()
        # A header on one line, never empty: a template that breaks this is a bug.
        if not subject or "\n" in subject:
            raise ValueError(f"the subject of {email.name!r} must be one non-empty line")
        return Rendered(
            subject=subject,
            text=environment.get_template(email.template("body.txt")).render(context),
            html=environment.get_template(email.template("body.html")).render(
                {**context, "subject": subject}
            ),
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
    # Made for someone else (a relationship's code, never who asks nor for whom).
    acts_as: str = "self"

    @classmethod
    def of(cls, request: Request | RequestFacts) -> AboutRequest:
        return cls(
            request.reference or "",
            request.kind,
            request.status,
            request.received_on,
            request.due_on,
            request.acts_as or "self",
        )


@dataclass(frozen=True)
class RequestFacts:
    """What composing an email reads of its request: a plain row, not the entity."""

    id: int
    reference: str | None
    kind: str
    status: str
    received_on: date | None
    due_on: date | None
    email: str
    locale: str
    acts_as: str


FACT_COLUMNS = (
    Request.id,
    Request.reference,
    Request.kind,
    Request.status,
    Request.received_on,
    Request.due_on,
    Request.email,
    Request.locale,
    Request.acts_as,
)


def facts_of(session: Session, request_ids: Collection[int]) -> dict[int, RequestFacts]:
    """The facts of these requests, in one statement (a purged request is simply absent)."""
    if not request_ids:
        return {}
    rows = session.execute(select(*FACT_COLUMNS).where(Request.id.in_(set(request_ids))))
    return {row.id: RequestFacts(*row) for row in rows}


def requester_values(
    app: Flask, job: Job, request: Request | RequestFacts, links: Links
) -> dict[str, Any]:
    """What an email to the requester shows: the request's codes and dates, its signed link."""
    signer = services_of(app).signer
    link = None
    if "secret_link" in job.payload:
        purpose = job.payload["link_purpose"]
        signed = signer.sign(job.payload["secret_link"], purpose)
        link = links(LINK_ENDPOINTS[purpose], token=signed)
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


def staff_values(job: Job, links: Links) -> dict[str, Any]:
    """What a staff email shows: references, rights and dates from the payload, a queue link."""
    # The day the list was drawn up, which decides what counts as overdue.
    today = receipt_date(job.created_at)
    cases = [
        ListedCase(str(case["reference"]), str(case["kind"]), date.fromisoformat(case["due_on"]))
        for case in job.payload.get("cases", [])
    ]
    values: dict[str, Any] = {
        "link": links("staff.queue"),
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


def enrolment_values(job: Job, staff: StaffUser, links: Links) -> dict[str, Any]:
    """The invitee's own enrolment link, which only this email ever carries."""
    token = job.payload.get("secret_enrolment")
    if not token:
        raise LookupError("this enrolment email no longer holds its link")
    return {
        "link": links("staff.enrol", token=token),
        "hours": int(job.payload["hours"]),
        "role": ROLE_LABELS.get(staff.role or "", ""),
    }


def account_values(session: Session, job: Job, links: Links) -> dict[str, Any]:
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
        "link": links("staff.accounts"),
    }


def staff_email_values(
    session: Session, job: Job, email: Email, staff: StaffUser, links: Links
) -> dict[str, Any]:
    """What an email to a member of staff shows, by email."""
    if email.name == "staff_enrolment":
        return enrolment_values(job, staff, links)
    if email.name == "staff_account_changed":
        return account_values(session, job, links)
    return staff_values(job, links)


def recipient_values(job: Job, request: Request | RequestFacts | None) -> dict[str, Any]:
    """What an Art. 19 notice shows: the reference, what was done and when.

    Never the person's data nor the categories, which the recipient asks our
    DPO for through its own secure channel (``fulfilment.notify_recipients``).
    """
    reference = request.reference if request else job.payload.get("reference", "")
    return {"extra": job.payload, "reference": reference or ""}


def on_file_values(
    app: Flask, job: Job, request: Request | RequestFacts, links: Links
) -> dict[str, Any]:
    """The notice to the person on file: the right, the day, the link; nothing about the filer."""
    signed = services_of(app).signer.sign(job.payload["secret_link"], tokens.NOT_ME)
    return {
        "request": AboutRequest.of(request),
        "reference": request.reference or "",
        "link": links(LINK_ENDPOINTS[tokens.NOT_ME], token=signed),
    }


def compose(
    app: Flask,
    session: Session,
    job: Job,
    links: Links | None = None,
    request: RequestFacts | None = None,
) -> Outgoing | None:
    """The job's message and address, as its email's audience says; None: not to be sent.

    ``request``: the facts of the job's request when the caller has them already
    (the worker reads those of a batch's emails at once, ``Mailer.prefetch``);
    otherwise they are read here, as one plain row.
    """
    if request is not None and request.id != job.request_id:
        raise ValueError("these facts are not of this job's request")
    links = links or Links(app)
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
                app,
                email,
                STAFF_LOCALE,
                lambda: staff_email_values(session, job, email, staff, links),
            ),
        )
    if email.audience is Audience.RECIPIENT:
        notified = request or (
            facts_of(session, [job.request_id]).get(job.request_id) if job.request_id else None
        )
        return Outgoing(
            str(job.payload["recipient_email"]),
            render(app, email, STAFF_LOCALE, lambda: recipient_values(job, notified)),
        )
    if job.request_id is None:
        raise LookupError("this email job names no request")
    if request is None:
        request = facts_of(session, [job.request_id]).get(job.request_id)
    if request is None:
        raise LookupError("the request of this email no longer exists")
    if email.audience is Audience.ON_FILE:
        return Outgoing(
            str(job.payload["secret_address"]),
            render(app, email, STAFF_LOCALE, lambda: on_file_values(app, job, request, links)),
        )
    return Outgoing(
        request.email,
        render(app, email, request.locale, lambda: requester_values(app, job, request, links)),
    )


def message_id_of(job: Job, domain: str) -> str:
    """The job's Message-ID: stored when it was queued, else derived from the job itself.

    Either way every attempt of a job carries the same one, so a copy resent
    after a crash is recognised by the receiving system.
    """
    if job.message_id:
        return job.message_id
    return f"<job-{job.id}.{job.created_at:%Y%m%d%H%M%S}@{domain}>"


def build_message(
    sender: str, recipient: str, rendered: Rendered, message_id: str
) -> EmailMessage:
    """The MIME message as the stdlib's ``EmailMessage`` (what ``message_bytes`` writes,
    parsed back): for code that wants the object, not the worker's path."""
    return message_from_bytes(
        message_bytes(sender, recipient, rendered, message_id), policy=policy.default
    )


# The longest header line written (RFC 5322 advises 78 characters before CRLF).
MAX_LINE = 78
# Bytes of UTF-8 per encoded word: "=?utf-8?b?" + base64 of 39 bytes (52) + "?=" is
# 64 characters, which fits a line after "Subject: " or the space of a folded line.
_WORD_BYTES = 39


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), never splitting a character."""
    chunks: list[bytes] = []
    chunk = b""
    for character in text:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk:
        chunks.append(chunk)
    return ["=?utf-8?b?" + base64.b64encode(c).decode("ascii") + "?=" for c in chunks]


def _folded(name: str, value: str, linesep: str) -> str:
    """One header, folded at spaces to MAX_LINE; a non-ASCII value RFC 2047-encoded."""
    if any(ord(c) > 126 or ord(c) < 32 for c in value):
        # Encoded words are separated by folding white space, which decoders drop.
        return f"{name}: " + f"{linesep} ".join(_encoded_words(value)) + linesep
    lines: list[str] = []
    line = f"{name}:"
    empty = True  # nothing after the name yet: a word goes there whatever its length
    for word in value.split(" "):
        if not empty and len(line) + 1 + len(word) > MAX_LINE:
            lines.append(line)
            line = ""
        line += " " + word
        empty = False
    lines.append(line)
    return linesep.join(lines) + linesep


def _one_line(value: str) -> str:
    """A header value on one line: line breaks and other control characters become one
    space (a no-break space, as French puts before a colon, stays)."""
    return _CONTROLS.sub(" ", value).strip(" ")


_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")


def _address(value: str) -> str:
    """An address header's value: the display name quoted or encoded as it must be."""
    if any(ord(c) < 32 for c in value):
        raise ValueError("an address with a control character")
    name, address = parseaddr(value)
    if not name:
        return address or value
    return formataddr((name, address), charset="utf-8")


def _body(text: str, linesep: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, encoded body) the way the stdlib chooses for UTF-8 text:
    7bit or 8bit when every line is short, quoted-printable otherwise."""
    lines = text.splitlines()
    if max((len(line.encode("utf-8")) for line in lines), default=0) <= MAX_LINE:
        body = linesep.join(lines) + linesep
        return ("7bit" if body.isascii() else "8bit"), body
    encoded = quoprimime.body_encode(
        (linesep.join(lines) + linesep).encode("utf-8").decode("latin-1"), MAX_LINE, linesep
    )
    return "quoted-printable", encoded if encoded.endswith(linesep) else encoded + linesep


def _part(subtype: str, text: str, linesep: str) -> str:
    encoding, body = _body(text, linesep)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{linesep}'
        f"Content-Transfer-Encoding: {encoding}{linesep}{linesep}{body}"
    )


def message_bytes(
    sender: str,
    recipient: str,
    rendered: Rendered,
    message_id: str,
    *,
    linesep: str = "\r\n",
    date: str | None = None,
) -> bytes:
    """The MIME message, text and HTML alternatives in UTF-8, written directly.

    The stdlib's ``EmailMessage`` parses every header it is given through
    ``email.policy``'s header classes, then serialises the tree again: about a
    seventh of the worker's time per email (docs/benchmarks.md). The headers here
    are fixed; the subject is RFC 2047-encoded once when it is not plain ASCII, a
    long one folded at 78 characters; the bodies go 7bit/8bit when their lines are
    short, quoted-printable otherwise. ``tests/outbox/test_mime.py`` parses the
    bytes back with the stdlib. An address with non-ASCII characters (which would
    need SMTPUTF8) is left to the stdlib.
    """
    if not (parseaddr(recipient)[1].isascii() and parseaddr(sender)[1].isascii()):
        legacy = EmailMessage(policy=WIRE if linesep == "\r\n" else policy.default)
        legacy["Subject"] = rendered.subject
        legacy["From"] = sender
        legacy["To"] = recipient
        legacy["Date"] = date or formatdate(usegmt=True)
        legacy["Message-ID"] = message_id
        legacy.set_content(rendered.text)
        legacy.add_alternative(rendered.html, subtype="html")
        return legacy.as_bytes()
    boundary = "=" * 15 + secrets.token_hex(12) + "=="
    while boundary in rendered.text or boundary in rendered.html:
        boundary = "=" * 15 + secrets.token_hex(12) + "=="
    head = (
        _folded("Subject", _one_line(rendered.subject), linesep)
        + _folded("From", _address(sender), linesep)
        + _folded("To", _address(recipient), linesep)
        + f"Date: {date or formatdate(usegmt=True)}{linesep}"
        + f"Message-ID: {message_id}{linesep}"
        + f"MIME-Version: 1.0{linesep}"
        + f'Content-Type: multipart/alternative;{linesep} boundary="{boundary}"{linesep}'
    )
    text = (
        f"{head}{linesep}"
        # The line end before a boundary belongs to the boundary (RFC 2046, 5.1.1).
        f"--{boundary}{linesep}{_part('plain', rendered.text, linesep)}{linesep}"
        f"--{boundary}{linesep}{_part('html', rendered.html, linesep)}{linesep}"
        f"--{boundary}--{linesep}"
    )
    return text.encode("utf-8")


class Connection:
    """One SMTP session reused for a run of messages, reopened after an error.

    ``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_USE_SSL``/``MAIL_USE_TLS`` and
    ``MAIL_USERNAME``/``MAIL_PASSWORD`` say how to reach the server. A message
    refused on a connection that had already been used (the server closed it
    while idle) is tried once more on a new one; any other error goes to the
    job, which is retried with backoff.
    """

    def __init__(self, config: Any, timeout: float = 30) -> None:
        self.config = config
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        config = self.config
        host, port = config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25)
        smtp: smtplib.SMTP
        if config.get("MAIL_USE_SSL"):
            smtp = smtplib.SMTP_SSL(host, port, timeout=self.timeout)
        else:
            smtp = smtplib.SMTP(host, port, timeout=self.timeout)
        try:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        except Exception:
            smtp.close()
            raise
        return smtp

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        reused = self.smtp is not None
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.sendmail(sender, [recipient], data)
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            self.close()
            if not reused:
                raise
            self.smtp = self._open()
            self.smtp.sendmail(sender, [recipient], data)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        """End the session (politely if the server is still there)."""
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def sender_of(config: Any) -> str:
    """The From header: ``MAIL_SENDER_NAME``, when set, with ``MAIL_DEFAULT_SENDER``'s address."""
    sender = config["MAIL_DEFAULT_SENDER"]
    if isinstance(sender, tuple | list):
        sender = f"{sender[0]} <{sender[1]}>"
    name = config.get("MAIL_SENDER_NAME")
    if name:
        sender = formataddr((str(name), parseaddr(sender)[1]))
    return str(sender)


def deliver(
    app: Flask, job: Job, recipient: str, rendered: Rendered, connection: Connection | None = None
) -> None:
    """Send over SMTP, or write to ``MAIL_DIR``; the Message-ID is the job's own."""
    sender = sender_of(app.config)
    domain = services_of(app).mail.domain
    message_id = message_id_of(job, domain)
    if app.config["MAIL_SERVER"]:
        data = message_bytes(sender, recipient, rendered, message_id)
        if connection is None:
            once = Connection(app.config)
            try:
                once.send(parseaddr(sender)[1], recipient, data)
            finally:
                once.close()
        else:
            connection.send(parseaddr(sender)[1], recipient, data)
        return
    folder = Path(app.config["MAIL_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    # One file per job, replaced atomically: a retry rewrites, never doubles.
    final = folder / f"{job.created_at:%Y%m%d-%H%M%S}-{job.id:08d}.eml"
    temporary = final.with_suffix(".tmp")
    temporary.write_bytes(message_bytes(sender, recipient, rendered, message_id, linesep="\n"))
    os.replace(temporary, final)


def send_email_job(
    app: Flask,
    session: Session,
    job: Job,
    now: datetime,
    *,
    connection: Connection | None = None,
    links: Links | None = None,
    request: RequestFacts | None = None,
) -> None:
    """The worker's handler for ``send_email`` jobs."""
    outgoing = compose(app, session, job, links, request)
    if outgoing is None:
        return
    deliver(app, job, outgoing.address, outgoing.rendered, connection)
    job.subject = outgoing.rendered.subject[:200]


class Mailer:
    """The portal's ``Postman``: renders with the app's templates, sends over one SMTP session.

    The session stays open while the worker has email to send and is closed
    when it goes idle (``idle``), or reopened after an error.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.connection = Connection(app.config)
        self._links: Links | None = None
        # The facts of the requests of the batch's emails, each used once (``prefetch``).
        self._facts: dict[int, RequestFacts] = {}

    def prefetch(self, session: Session, request_ids: Collection[int]) -> None:
        """Read the requests of the emails about to be sent in one statement.

        Each ``send`` of one of them then takes its request's facts instead of
        reading them again (one round trip per email before); facts not used by
        the next batch are dropped then.
        """
        self._facts = facts_of(session, request_ids)

    def send(self, session: Session, job: Job, now: datetime) -> None:
        if self._links is None:
            self._links = Links(self.app)
        facts = self._facts.pop(job.request_id, None) if job.request_id else None
        send_email_job(
            self.app,
            session,
            job,
            now,
            connection=self.connection,
            links=self._links,
            request=facts,
        )

    def idle(self) -> None:
        self.connection.close()

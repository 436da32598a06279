"""Filing a request, proving the email address, following and withdrawing it.

The requester's side of the lifecycle, as plain functions over a Session:
the views read forms and call these, then commit.
"""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, cast, func, insert, select
from sqlalchemy.orm import Session

from app import audit, deadlines, lifecycle, locks, tokens
from app.crypto import Vault
from app.models import AuditEvent, Job, LinkToken, Request
from app.name_search import NameIndex
from app.outbox import emails, jobs

REQUESTER = "requester"
SYSTEM = "system"
# Crockford's base32: no I, L, O or U, so a reference read aloud is not misheard.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 6
RESEND_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Requester:
    """The requester's own identity, when the request is for someone else."""

    first_name: str
    last_name: str
    birth_date: date

    def as_json(self) -> str:
        return json.dumps(
            {
                "first_name": self.first_name,
                "last_name": self.last_name,
                "birth_date": self.birth_date.isoformat(),
            }
        )


def read_requester(request: Request, vault: Vault) -> dict[str, str] | None:
    """The requester's own identity of a request made for someone else (decrypted)."""
    text = vault.decrypt(request.requester_encrypted)
    if not text:
        return None
    data = json.loads(text)
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Filing:
    """What the public form collects, already validated."""

    kind: str
    first_name: str
    last_name: str
    birth_date: date
    email: str
    locale: str
    nir: str | None = None
    details: str | None = None
    # A request made for someone else: the existing fields above are the subject's.
    acts_as: str = "self"
    heir_reason: str | None = None
    subject_died_on: date | None = None
    requester: Requester | None = None


def normalize_email(email: str) -> str:
    return email.strip().lower()


def file_request(
    session: Session,
    filing: Filing,
    *,
    now: datetime,
    vault: Vault,
    names: NameIndex,
    mail: emails.MailSettings,
    per_address_per_hour: int,
) -> int | None:
    """Record an unverified request and queue its verification email; returns its id.

    Returns None, storing nothing, when the address has already been sent
    ``per_address_per_hour`` links in the last hour: the caller shows the same
    page either way, so the answer reveals nothing about the address.

    The busiest write of the portal, so it is written with Core inserts, and on
    PostgreSQL as one statement (the cap check and four inserts in CTEs) after
    the address's lock: two round trips instead of seven (docs/benchmarks.md,
    "Filing"). The lock is what makes the cap a limit: without it, filings made
    at once all count the same rows and all insert (``app.locks``).
    """
    address = normalize_email(filing.email)
    locks.lock_address(session, address)
    since = now - timedelta(hours=1)
    request = {
        "kind": filing.kind,
        "status": "unverified",
        "locale": filing.locale,
        "first_name": filing.first_name,
        "last_name": filing.last_name,
        **names.digests(filing.first_name, filing.last_name),
        "birth_date": filing.birth_date,
        "email": filing.email.strip(),
        "email_normalized": address,
        "nir_encrypted": vault.encrypt(filing.nir),
        "details_encrypted": vault.encrypt(filing.details),
        "created_at": now,
        "version": 1,
        "has_retained": False,
        "medical_deadline": False,
        "paused_days": 0,
        # Written out: the PostgreSQL statement inserts from a SELECT, where no
        # column default of the model applies.
        "assurance": "none",
        # The person's own request or one made for someone else (issue 18).
        "acts_as": filing.acts_as,
        "heir_reason": filing.heir_reason,
        "subject_died_on": filing.subject_died_on,
        "requester_encrypted": vault.encrypt(filing.requester.as_json())
        if filing.requester
        else None,
        "relationship_proof": None if filing.acts_as == "self" else "awaited",
    }
    # The filing itself is not a timeline event: ``created_at`` dates it.
    event = audit.event_values(
        REQUESTER,
        "request.filed",
        now,
        details={"kind": filing.kind, "locale": filing.locale, "acts_as": filing.acts_as},
    )
    link, job = emails.email_values(None, "verify", now, mail)
    dependents = [
        (AuditEvent, event),
        (LinkToken, link),
        (Job, jobs.job_values(**job)),
    ]
    if session.get_bind().dialect.name == "postgresql":
        params = {f"r_{k}": v for k, v in request.items()}
        for number, (_, values) in enumerate(dependents):
            params |= {f"d{number}_{k}": v for k, v in values.items() if k != "request_id"}
        params |= {"address": address, "since": since, "cap": per_address_per_hour}
        statement = _filing_statement(tuple(request), _shapes(dependents))
        request_id: int | None = session.execute(statement, params).scalar()
        return request_id
    recent = (
        select(func.count())
        .select_from(Request)
        .where(Request.email_normalized == address, Request.created_at > since)
    )
    if (session.scalar(recent) or 0) >= per_address_per_hour:
        return None
    request_id = session.execute(
        insert(Request).values(**request).returning(Request.id)
    ).scalar_one()
    for model, values in dependents:
        session.execute(insert(model).values({**values, "request_id": request_id}))
    return request_id


def _shapes(
    dependents: list[tuple[Any, dict[str, Any]]],
) -> tuple[tuple[Any, tuple[str, ...]], ...]:
    return tuple(
        (model, tuple(k for k in values if k != "request_id")) for model, values in dependents
    )


def _typed(table: Any, prefix: str, names: tuple[str, ...]) -> list[Any]:
    # A parameter in a SELECT list has no type PostgreSQL can infer: cast each.
    return [
        cast(bindparam(f"{prefix}{k}", type_=table.c[k].type), table.c[k].type).label(k)
        for k in names
    ]


@functools.cache
def _filing_statement(
    request: tuple[str, ...], dependents: tuple[tuple[Any, tuple[str, ...]], ...]
) -> Any:
    """The filing as one PostgreSQL statement, built once: the cap check and four inserts.

    Building the statement costs more than running it; its shape never
    changes, so it is made once per process and given new parameters each time.
    """
    recent = (
        select(func.count())
        .select_from(Request)
        .where(
            Request.email_normalized == bindparam("address"),
            Request.created_at > bindparam("since", type_=Request.__table__.c.created_at.type),
        )
        .scalar_subquery()
    )
    filed = (
        insert(Request)
        .from_select(
            list(request),
            select(*_typed(Request.__table__, "r_", request)).where(recent < bindparam("cap")),
        )
        .returning(Request.id)
        .cte("filed")
    )
    ctes = []
    for number, (model, names) in enumerate(dependents):
        rows = select(
            *_typed(model.__table__, f"d{number}_", names), filed.c.id.label("request_id")
        )
        ctes.append(insert(model).from_select([*names, "request_id"], rows).cte(f"d{number}"))
    return select(filed.c.id).add_cte(*ctes)


def new_reference(session: Session, year: int) -> str:
    """A public reference such as DSR-2026-7K3QF9: random, so neither guessable nor a count."""
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        reference = f"DSR-{year}-{code}"
        if session.scalar(select(Request.id).where(Request.reference == reference)) is None:
            return reference


def verify(
    session: Session, token: tokens.LinkToken, *, now: datetime, mail: emails.MailSettings
) -> Request:
    """Consume a verification link and receive its request: reference, due date, clock starts.

    Raises LinkError("used") when the link was consumed meanwhile, and
    lifecycle errors when the request is no longer waiting for verification.
    """
    request = session.get(Request, token.request_id)
    if request is None:
        raise tokens.LinkError("invalid")
    if request.status != "unverified":
        raise tokens.LinkError("used", token)
    tokens.consume(session, token, now)
    received = deadlines.receipt_date(now)
    request.reference = new_reference(session, received.year)
    request.verified_at = now
    request.received_on = received
    request.due_on = deadlines.due_date(received)
    # The link proves control of the address, nothing more (app.identity).
    request.assurance, request.assurance_at, request.assurance_by = "email", now, REQUESTER
    lifecycle.change_status(
        session,
        request,
        "received",
        actor=REQUESTER,
        now=now,
        mail=mail,
        details={"assurance": "email", "method": "email_link"},
    )
    # Routing reads the sources: work for the worker, queued in this transaction.
    jobs.enqueue(session, jobs.ROUTE, now=now, request_id=request.id)
    return request


def withdraw(
    session: Session, request: Request, *, now: datetime, mail: emails.MailSettings
) -> None:
    """The requester closes their own open request."""
    lifecycle.change_status(session, request, "withdrawn", actor=REQUESTER, now=now, mail=mail)


def _linked_recently(
    session: Session, request_ids: list[int], purpose: str, now: datetime
) -> set[int]:
    """Which of these requests were sent a link of this purpose in the last few minutes.

    Resending is the per-address limit: whoever asks, one address receives at
    most one link of a kind per request every RESEND_INTERVAL.
    """
    return set(
        session.scalars(
            select(LinkToken.request_id).where(
                LinkToken.request_id.in_(request_ids),
                LinkToken.purpose == purpose,
                LinkToken.created_at > now - RESEND_INTERVAL,
            )
        )
    )


def resend_verification(
    session: Session, request: Request, *, now: datetime, mail: emails.MailSettings
) -> bool:
    """Send a fresh verification link for a request still waiting for one.

    Under the address's lock, so that requests made at once see each other's link.
    """
    if request.status != "unverified":
        return False
    locks.lock_address(session, request.email_normalized)
    if _linked_recently(session, [request.id], tokens.VERIFY_EMAIL, now):
        return False
    emails.queue_email(session, request, "verify", now, mail)
    return True


def _asked_recently(session: Session, request_ids: list[int], now: datetime) -> set[int]:
    """Which of these requests were sent an *asked-for* status link in the last few minutes.

    Only the ``status_link`` emails count. The status links that come with the
    other emails (the acknowledgement, every step) were not asked for: counting
    them skipped the request a person had just filed, while the page said an
    email was on its way.
    """
    rows = session.execute(
        select(Job.request_id, Job.payload).where(
            Job.request_id.in_(request_ids),
            Job.kind == jobs.SEND_EMAIL,
            Job.created_at > now - RESEND_INTERVAL,
        )
    )
    return {
        request_id
        for request_id, payload in rows
        if request_id is not None and (payload or {}).get("template") == "status_link"
    }


def send_status_links(
    session: Session, email: str, *, now: datetime, mail: emails.MailSettings, limit: int = 5
) -> int:
    """Email a fresh status link for each recent verified request of an address.

    Whoever asks, a request gets at most one asked-for link every
    RESEND_INTERVAL; the newest request is never skipped because of the links
    its own emails carried. The caller answers the same whatever this returns
    (no enumeration). Under the address's lock, so that requests made at once
    see each other's links.
    """
    address = normalize_email(email)
    locks.lock_address(session, address)
    requests = session.scalars(
        select(Request)
        .where(
            Request.email_normalized == address,
            Request.status != "unverified",
            Request.status != "expired",
        )
        .order_by(Request.created_at.desc(), Request.id.desc())
        .limit(limit)
    ).all()
    recent = _asked_recently(session, [r.id for r in requests], now)
    due = [request for request in requests if request.id not in recent]
    for request in due:
        emails.queue_email(session, request, "status_link", now, mail)
    return len(due)


def expire_unverified(
    session: Session,
    *,
    now: datetime,
    ttl_seconds: int,
    mail: emails.MailSettings,
    batch: int = 200,
) -> int:
    """Close requests whose address was never confirmed in time."""
    stale = session.scalars(
        select(Request)
        .where(
            Request.status == "unverified",
            Request.created_at < now - timedelta(seconds=ttl_seconds),
        )
        .order_by(Request.id)
        .limit(batch)
    ).all()
    for request in stale:
        lifecycle.change_status(session, request, "expired", actor=SYSTEM, now=now, mail=mail)
    return len(stale)

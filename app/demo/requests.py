"""``flask demo-requests``: fill the staff queue with verified, routed demo requests.

A newcomer signing in as a demo agent should see a queue with something in
it: about twenty requests of every right, filed over the last weeks by the
demo personas and by synthetic citizens of the demo warehouse, so that some
are overdue, some due soon and some fresh. Each one goes the real way:
``intake.file_request``, ``intake.verify`` and ``plans.route_request``,
with back-dated clocks.

Their emails are not written to the demo mailbox: the jobs are marked done
(secret links scrubbed) so that the mailbox shows only what the newcomer does
themselves, not sixty messages about requests nobody filed by hand. The route
job is marked done as well, since the request is routed here.

Run once: an audit event marks the set as filed, and a second run says so and
changes nothing. Demo and test shapes only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, intake, tokens
from app.demo.personas import PERSONAS, Persona
from app.extensions import db
from app.models import AuditEvent, Job, LinkToken, Request, utcnow
from app.outbox import jobs
from app.rules import plans
from app.services import Services, services_of

DEMO_SHAPES = ("demo", "test")
ACTOR = "cli:demo"
MARKER = "demo.requests_filed"


@dataclass(frozen=True)
class Demo:
    """One demo request: who, which right, how many days ago it was filed."""

    first_name: str
    last_name: str
    birth_date: date
    email: str
    nir: str | None
    kind: str
    days_ago: int
    locale: str = "fr"
    details: str | None = None


def _persona(person_id: int) -> Persona:
    return next(p for p in PERSONAS if p.person_id == person_id)


def _of(
    person_id: int,
    kind: str,
    days_ago: int,
    *,
    with_nir: bool = True,
    email: str | None = None,
    **extra: str,
) -> Demo:
    p = _persona(person_id)
    address = email or p.email or f"{p.first_name.lower()}.{p.last_name.lower()}@demo.example"
    return Demo(
        p.first_name,
        p.last_name,
        p.birth_date,
        address,
        p.nir if with_nir else None,
        kind,
        days_ago,
        **extra,
    )


def persona_requests() -> list[Demo]:
    """Requests of the personas; due dates fall one month after the day filed."""
    return [
        _of(1, "erasure", 40, details="Merci d'effacer mes données de santé."),
        _of(2, "access", 3),  # a number shared with his daughter: identity review
        _of(4, "access", 27),
        _of(5, "portability", 12, locale="en"),
        _of(6, "erasure", 33),
        _of(7, "objection", 6, with_nir=False),  # homonyms without a number: identity review
        _of(8, "rectification", 20, details="Mon adresse a changé en 2021."),
        _of(9, "access", 1),
        _of(10, "erasure", 45),
        _of(11, "objection", 25, locale="en"),
        _of(12, "objection", 29),
        _of(1, "access", 0),
    ]


def outsider_requests() -> list[Demo]:
    """People the warehouse does not know: their plan says no data was found."""
    return [
        Demo("Paul", "Durand", date(1971, 2, 3), "paul.durand@demo.example", None, "access", 10),
        Demo(
            "Sophie",
            "Bernard",
            date(1983, 9, 17),
            "sophie.bernard@demo.example",
            None,
            "erasure",
            4,
            locale="en",
        ),
    ]


CITIZEN_KINDS = ("access", "erasure", "objection", "portability", "rectification")
CITIZEN_DAYS = (2, 8, 15, 18, 22, 26, 31, 38)


def citizen_requests(warehouse_url: str) -> list[Demo]:
    """Synthetic citizens of the demo warehouse (after the personas), with their numbers."""
    engine = sa.create_engine(warehouse_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT first_name, last_name, birth_date, email, nir FROM persons "
                    "WHERE person_id > :last AND nir IS NOT NULL "
                    "ORDER BY person_id LIMIT :n"
                ),
                {"last": len(PERSONAS), "n": len(CITIZEN_DAYS)},
            ).all()
    finally:
        engine.dispose()
    demos = []
    for n, (first, last, born, email, nir) in enumerate(rows):
        address = email or f"citizen{n + 1}@demo.example"
        birth = born if isinstance(born, date) else date.fromisoformat(str(born))
        kind = CITIZEN_KINDS[n % len(CITIZEN_KINDS)]
        demos.append(Demo(first, last, birth, address, nir, kind, CITIZEN_DAYS[n]))
    return demos


def file_one(session: Session, demo: Demo, filed_at: datetime) -> Request | None:
    """File, verify and route one request at back-dated moments; its jobs marked done."""
    portal = services_of(current_app)
    services: Services = portal
    filing = intake.Filing(
        kind=demo.kind,
        first_name=demo.first_name,
        last_name=demo.last_name,
        birth_date=demo.birth_date,
        email=demo.email,
        locale=demo.locale,
        nir=demo.nir,
        details=demo.details,
    )
    request_id = intake.file_request(
        session,
        filing,
        now=filed_at,
        vault=services.vault,
        names=services.names,
        mail=services.mail,
        per_address_per_hour=current_app.config["FILINGS_PER_ADDRESS_PER_HOUR"],
    )
    request = session.get(Request, request_id) if request_id is not None else None
    if request is None:
        return None
    link = session.scalar(
        select(LinkToken).where(
            LinkToken.request_id == request.id, LinkToken.purpose == tokens.VERIFY_EMAIL
        )
    )
    if link is None:  # file_request queues the verification email with its link
        raise RuntimeError("the demo request has no verification link")
    verified_at = filed_at + timedelta(minutes=12)
    intake.verify(session, link, now=verified_at, mail=services.mail)
    plans.route_request(session, request.id, services, now=verified_at + timedelta(minutes=1))
    done_at = verified_at + timedelta(minutes=2)
    for job in session.scalars(
        select(Job).where(Job.request_id == request.id, Job.state == "pending")
    ):
        jobs.finish(job, done_at)
    session.flush()
    return request


@click.command("demo-requests")
@with_appcontext
def demo_requests_command() -> None:
    """(Demo only) File about twenty verified demo requests so the staff queue is not empty."""
    shape = current_app.config.get("PORTAL_ENV", "production")
    if shape not in DEMO_SHAPES:
        click.echo(
            f"flask demo-requests is for the demo only (PORTAL_ENV=demo); this portal runs "
            f"as {shape!r}. Nothing was changed.",
            err=True,
        )
        sys.exit(1)
    session = db.session()
    if session.scalar(select(AuditEvent.id).where(AuditEvent.action == MARKER).limit(1)):
        click.echo("Demo requests were filed already; nothing changed.")
        return
    services: Services = services_of(current_app)
    problems = services.warehouse.check()
    if problems:
        click.echo("The demo warehouse is missing or does not match the catalogue:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        click.echo("Build it first: flask --app wsgi demo-data", err=True)
        sys.exit(1)
    demos = [
        *persona_requests(),
        *outsider_requests(),
        *citizen_requests(current_app.config["WAREHOUSE_URL"]),
    ]
    now = utcnow()
    filed = []
    for n, demo in enumerate(demos):
        # Spread over the working day so that the queue's times differ too.
        filed_at = now - timedelta(days=demo.days_ago, hours=1 + n % 7, minutes=7 * n % 60)
        request = file_one(session, demo, filed_at)
        if request is not None:
            filed.append(request)
    audit.record(session, actor=ACTOR, action=MARKER, now=now, details={"count": len(filed)})
    session.commit()
    click.echo(f"Filed {len(filed)} demo requests (their emails are marked sent, not written):")
    for request in sorted(filed, key=lambda r: (r.due_on or date.max, r.id)):
        click.echo(
            f"  {request.reference}  {request.kind:<13}  {request.status:<15}  "
            f"received {request.received_on}  due {request.due_on}"
        )

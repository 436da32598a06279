"""The daily anchor: the chain's head written outside the database, once per Paris day.

The worker's housekeeping queues one ``audit_anchor`` job per Paris day
(``queue_daily``, with a ``dedupe_key``, so several workers or a restart never
queue two). The job seals what is committed, appends the head to the anchor
file and queues the same three values (day, event number, hash) to every
active DPO by email: two copies outside the database, one on disk and one in
the DPOs' mailboxes. ``flask audit anchor`` does the same at once.

The line is written before the job commits: a crash in between leaves a line
the retried job writes again (a later one, as valid), never a day without one.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import audit
from app.audit import anchors
from app.audit.anchors import Anchor
from app.audit.keys import Keyring
from app.deadlines import receipt_date
from app.models import AuditEvent, Job, StaffUser
from app.outbox import jobs
from app.services import Services

AUDIT_ANCHOR = "audit_anchor"
TEMPLATE = "audit_anchor"
ACTOR = "system:audit"


class HeadMismatch(RuntimeError):
    """The head row disagrees with the chain's last event: nothing is anchored."""


def daily_key(day: date) -> str:
    return f"audit-anchor:{day.isoformat()}"


def queue_daily(session: Session, *, now: datetime) -> Job | None:
    """Queue today's anchor job, once per Paris day; None when it already is.

    The look-up spares the database a failed insert on every pass; the unique
    key, caught in a savepoint, settles a race with another worker.
    """
    day = receipt_date(now)
    key = daily_key(day)
    if session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
        return None
    try:
        with session.begin_nested():
            return jobs.enqueue(
                session, AUDIT_ANCHOR, now=now, payload={"day": day.isoformat()}, dedupe_key=key
            )
    except IntegrityError:
        return None


def write_anchor(
    session: Session, *, now: datetime, keyring: Keyring, path: Path, domain: str, actor: str
) -> Anchor:
    """Seal, append the head to ``path``, queue the DPOs' emails and record it; caller commits.

    The head row stays locked from the read to the commit, so no sealer moves
    the head between the line written and the emails queued.
    """
    while audit.seal(session, keyring):
        pass
    seq, last_hash = audit.head(session)
    if seq and session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq)) != last_hash:
        raise HeadMismatch(
            "the chain's head does not match its last event: run flask audit verify"
        )
    anchor = Anchor(receipt_date(now), seq, last_hash)
    anchors.append(path, anchor)
    dpos = session.scalars(
        select(StaffUser.id)
        .where(StaffUser.role == "dpo", StaffUser.is_active.is_(True))
        .order_by(StaffUser.id)
    ).all()
    for staff_id in dpos:
        jobs.enqueue(
            session,
            jobs.SEND_EMAIL,
            now=now,
            payload={
                "template": TEMPLATE,
                "staff_id": staff_id,
                "day": anchor.day.isoformat(),
                "seq": anchor.seq,
                "hash": anchor.hash,
            },
            message_id=jobs.new_message_id(domain),
        )
    # Sealed in the next pass, after the anchored head: the anchor is in the chain too.
    audit.record(
        session,
        actor=actor,
        action="audit.anchored",
        now=now,
        details={"day": anchor.day.isoformat(), "seq": anchor.seq, "dpos": len(dpos)},
    )
    return anchor


def anchor_job(session: Session, job: Job, now: datetime, services: Services) -> None:
    """The worker's handler for ``audit_anchor`` jobs."""
    write_anchor(
        session,
        now=now,
        keyring=services.audit.keyring,
        path=services.audit.anchor_file,
        domain=services.mail.domain,
        actor=ACTOR,
    )

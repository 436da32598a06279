"""The proven address against the contact address on file, and "this was not me".

When a request names a person the sources hold a contact address for, routing
compares the two (``compare``). The same address raises the request to
``contact_match``. A different one leaves it at ``email`` and sends the person
on file a short notice, which says only that a request was filed in their
name, with a single-use link to say it was not them (``dispute``): the
request then waits for staff, frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from app import audit, lifecycle, tokens
from app.identity import assurance
from app.identity.addresses import address_key, same_address
from app.models import LinkToken, Request
from app.outbox import emails, jobs

NOTICE = "filed_in_your_name"


def check(contacts: Sequence[str], proven: str) -> str:
    """``same``, ``differs`` or ``none_on_file``: the proven address against those on file."""
    if any(same_address(contact, proven) for contact in contacts):
        return "same"
    return "differs" if contacts else "none_on_file"


def compare(
    session: Session,
    request: Request,
    contacts: Sequence[str],
    *,
    actor: str,
    now: datetime,
    mail: emails.MailSettings,
    settled: bool = True,
) -> str | None:
    """Record the contact check after routing, raise the level or notify the person on file.

    The notice goes once per request, on its first routing, to each distinct
    address on file. ``settled``: the person is known (a match, not a doubt);
    while a doubt remains only an equal address counts, and nobody is told.

    The caller moves the status next, in the same transaction (routing, staff
    confirming an identity): the check and the level are set through the ORM
    and ``lifecycle.change_status`` writes them, with their audit events, in
    its own statement and under its version check.
    """
    result = check(contacts, request.email)
    if not settled and result != "same":
        return None
    first = request.contact_check is None
    if result == "same" and request.assurance == "email":
        assurance.set_level(
            session, request, "contact_match", method="contact_address", actor=actor, now=now
        )
    if result != request.contact_check:
        request.contact_check = result
    if result == "differs" and first:
        addresses = {address_key(c): c for c in contacts}
        for address in addresses.values():
            queue_notice(session, request, address, now, mail)
        audit.record(
            session,
            actor=actor,
            action="identity.notice_sent",
            now=now,
            request_id=request.id,
            details={"addresses": len(addresses)},
        )
    return result


def queue_notice(
    session: Session, request: Request, address: str, now: datetime, mail: emails.MailSettings
) -> None:
    """The notice to one address on file, with its own "not me" link."""
    link, value = tokens.link_values(request.id, tokens.NOT_ME, now, mail.status_link_max_age)
    session.add(LinkToken(**link))
    jobs.enqueue(
        session,
        jobs.SEND_EMAIL,
        now=now,
        request_id=request.id,
        # Both secrets are scrubbed once the email has left (jobs.finish).
        payload={
            "template": NOTICE,
            "secret_address": address,
            "link_purpose": tokens.NOT_ME,
            "secret_link": value,
        },
        message_id=jobs.new_message_id(mail.domain),
    )


def dispute(
    session: Session, token: LinkToken, *, now: datetime, mail: emails.MailSettings
) -> str:
    """The person on file says the request was not theirs: freeze it for staff.

    Returns ``frozen``, ``already`` (said before) or ``too_late`` (approved or
    closed: the page tells them to write to the data protection officer).
    Consumes the single-use link in every case.
    """
    tokens.consume(session, token, now)
    request = session.get(Request, token.request_id)
    if request is None:
        raise tokens.LinkError("invalid")
    if request.disputed_at is not None:
        return "already"
    # Where "not me" still stops something: where a proof could still change it.
    if request.status not in assurance.PROVABLE:
        audit.record(
            session,
            actor="person_on_file",
            action="identity.disputed_late",
            now=now,
            request_id=request.id,
        )
        return "too_late"
    lifecycle.touch(session, request, actor="person_on_file", now=now, disputed_at=now)
    audit.record(
        session,
        actor="person_on_file",
        action="identity.disputed",
        now=now,
        request_id=request.id,
    )
    if request.status != "identity_review":
        lifecycle.change_status(
            session,
            request,
            "identity_review",
            actor="person_on_file",
            now=now,
            mail=mail,
            details={"reason": "disputed"},
        )
    return "frozen"

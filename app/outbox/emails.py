"""Emails to requesters, queued as jobs in the transaction that causes them.

An email job names a registered email (``registry``) and the request; it is
rendered in the request's language when the worker sends it. Templates say
what changed and link to the status page: never any health data, never the
free text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import tokens
from app.models import Job, LinkToken, Request
from app.outbox import jobs, registry


@dataclass(frozen=True)
class MailSettings:
    """What queueing an email needs to know from configuration."""

    verify_link_max_age: int
    status_link_max_age: int
    domain: str
    download_link_max_age: int = 72 * 3600

    def max_age(self, purpose: str) -> int:
        if purpose == tokens.VERIFY_EMAIL:
            return self.verify_link_max_age
        if purpose == tokens.DOWNLOAD:
            return self.download_link_max_age
        return self.status_link_max_age


def queue_email(
    session: Session,
    request: Request,
    template: str,
    now: datetime,
    settings: MailSettings,
    extra: dict[str, Any] | None = None,
) -> Job:
    """Queue one email to the requester, with a fresh link where the template has one.

    ``extra`` holds codes and dates the template shows (a refusal ground, a
    new due date): never free text, which could carry health data.
    """
    link, job = email_values(request.id, template, now, settings, extra)
    session.add(LinkToken(**link))
    return jobs.enqueue(session, **job)


def email_values(
    request_id: int | None,
    template: str,
    now: datetime,
    settings: MailSettings,
    extra: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The link row and the job arguments of one email (``queue_email`` without a Session)."""
    email = registry.get(template)
    # Staff reminders and Art. 19 notices have addressees of their own: not queued here.
    if email.audience is not registry.Audience.REQUESTER or email.link is None:
        raise ValueError(f"{template!r} is not an email to the requester")
    purpose = email.link
    link, value = tokens.link_values(request_id, purpose, now, settings.max_age(purpose))
    payload: dict[str, Any] = {
        "template": template,
        **(extra or {}),
        "link_purpose": purpose,
        "secret_link": value,
    }
    job = {
        "kind": jobs.SEND_EMAIL,
        "now": now,
        "request_id": request_id,
        "payload": payload,
        "message_id": jobs.new_message_id(settings.domain),
    }
    return link, job

"""Every email the portal sends, each declared once: its name, who receives it, its link.

The name is also the folder of its texts: ``templates/email/<name>/`` holds
``subject.txt``, ``body.txt`` and ``body.html`` (the HTML bodies share the
layout ``templates/email/base.html``). ``emails.queue_email`` queues the emails
to requesters; the mailer reads the audience here to know whom a job goes to
and in which language, never from the keys of its payload.

To add an email: declare it below, write its three files (every word through
gettext), run ``make messages`` and translate, add a sample of it to
``tests/outbox/samples.py`` and take its snapshot (``UPDATE_SNAPSHOTS=1``,
see ``tests/outbox/test_email_snapshots.py``). Nothing else lists emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app import tokens

PARTS = ("subject.txt", "body.txt", "body.html")


class Audience(StrEnum):
    """Who an email is addressed to, which decides its address and its language."""

    # The person who filed the request, in the request's language (``request.email``).
    REQUESTER = "requester"
    # A member of staff (``payload["staff_id"]``), in French: staff work in French.
    # The enrolment email goes to the invitee's account, whose address is its own.
    STAFF = "staff"
    # An organisation that received the data (GDPR Art. 19, ``payload["recipient_email"]``),
    # in French: the recipients are French health bodies.
    RECIPIENT = "recipient"
    # The person a request names, at the contact address the sources hold for them
    # (``payload["secret_address"]``), in French; never the filer (app.identity.contact).
    ON_FILE = "on_file"


@dataclass(frozen=True)
class Email:
    """One email: ``link`` is the ``tokens`` purpose of the signed link it carries, if any."""

    name: str
    audience: Audience
    link: str | None = None

    def template(self, part: str) -> str:
        """The Jinja name of one of its ``PARTS``, e.g. ``email/verify/subject.txt``."""
        if part not in PARTS:
            raise ValueError(f"an email has no part {part!r}: {', '.join(PARTS)}")
        return f"email/{self.name}/{part}"


def _to_requester(name: str, link: str = tokens.STATUS_PAGE) -> Email:
    # Every email to a requester links to its request's page, or to the one step it asks for.
    return Email(name, Audience.REQUESTER, link)


EMAILS: dict[str, Email] = {
    email.name: email
    for email in (
        # Filing and following a request.
        _to_requester("verify", tokens.VERIFY_EMAIL),
        _to_requester("acknowledgement"),
        _to_requester("status_link"),
        _to_requester("withdrawn"),
        # A change of status (``lifecycle.email_for``; some moves send none, since the
        # next email says them: ``lifecycle.QUIET_MOVES``, ``lifecycle.approval_is_news``).
        _to_requester("status_changed"),
        _to_requester("plan_ready"),
        _to_requester("identity_check"),
        _to_requester("identity_needed"),
        _to_requester("identity_confirmed"),
        # Staff asked for another identity document (app.identity.documents), with a reason.
        _to_requester("identity_document_refused"),
        # Staff asked for another proof of a relationship (app.identity.relationship).
        _to_requester("relationship_proof_refused"),
        # For someone else: the identity or the relationship accepted, and what is awaited.
        _to_requester("proof_accepted"),
        _to_requester("in_review"),
        _to_requester("approved"),
        _to_requester("refused"),
        _to_requester("information_needed"),
        _to_requester("answer_received"),
        _to_requester("extended"),
        # Fulfilment: one completion email per right; for a copy of the data, the
        # completion email is the download link (package_release.release).
        _to_requester("package_ready", tokens.DOWNLOAD),
        _to_requester("completed_access"),
        _to_requester("completed_portability"),
        _to_requester("completed_erasure"),
        _to_requester("completed_objection"),
        _to_requester("completed_rectification"),
        # To the person on file, when another address filed in their name.
        Email("filed_in_your_name", Audience.ON_FILE, tokens.NOT_ME),
        # Not to the requester: the Art. 19 notice, the daily reminder, the audit anchor.
        Email("recipient_notice", Audience.RECIPIENT),
        Email("staff_reminder", Audience.STAFF),
        Email("audit_anchor", Audience.STAFF),
        # Staff accounts (app.staffing.notices): the enrolment link, to the invitee's
        # own mailbox only; the notice to every DPO of a privileged account's change.
        Email("staff_enrolment", Audience.STAFF),
        Email("staff_account_changed", Audience.STAFF),
    )
}


def get(name: str) -> Email:
    """The registered email called ``name``; ``ValueError`` for any other name."""
    try:
        return EMAILS[name]
    except KeyError:
        raise ValueError(f"unknown email template {name!r}") from None

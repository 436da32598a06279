"""The case timeline worded for a person: one sentence per audit event, in the reader's language.

The audit trail stores codes (``status.triage`` with ``{"deadline":
"medical_record", "from": "received"}``); staff read sentences. ``sentence``
maps an event's kind and payload to one translated sentence, ``actor_name``
an actor to a name. An unknown kind gives a generic sentence, never the raw
payload. What the sentences may name is what staff may read on the case page
(statuses, grounds, sources, counts): the audit itself still holds codes only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from app.labels import (
    ASSURANCE_LABELS,
    DOCUMENT_REASON_LABELS,
    EXTENSION_LABELS,
    PROOF_REASON_LABELS,
    REFUSAL_LABELS,
    STAFF_STATUS_LABELS,
)
from app.models import AuditEvent

# The actors that are not a member of staff (app.audit callers), as staff name them.
ACTORS = {
    "requester": _l("the requester"),
    "person_on_file": _l("the person on file (contact address)"),
    "system:routing": _l("the portal (automatic routing)"),
    "system:fulfilment": _l("the portal (carrying out the request)"),
    "system:packages": _l("the portal (access package)"),
    "system:audit": _l("the portal (audit trail)"),
    "system:purge": _l("the portal (purge of old data)"),
    "cli": _l("an operator, on the server"),
    "cli:demo": _l("the demo set-up"),
    "oidc": _l("a FranceConnect sign-in"),
}
# Why routing doubted an identity (app.rules.matching reasons).
REVIEW_REASONS = {
    "number_birth_date_mismatch": _l(
        "the social-security number and the date of birth point to different people"
    ),
    "several_candidates": _l("several people in the sources fit this identity"),
    "name_mismatch": _l("the name differs from the one the sources hold for this number"),
    "shared_number": _l("this social-security number is shared with another person"),
    "number_mismatch": _l("the social-security number differs from the one the sources hold"),
    "email_unconfirmed": _l("the email address is not confirmed"),
    "email_differs": _l("the email address differs from the one the sources hold"),
    "disputed": _l("the person on file said the request was not theirs"),
    "oidc_claims_differ": _l("the FranceConnect identity differs from the request"),
}
PLAN_OUTCOMES = {
    "matched": _l("the person was found in the sources"),
    "no_data": _l("nobody matching the requester was found in the sources"),
    "identity_review": _l("the identity is in doubt, nothing was read"),
    "refused": _l("the request cannot be made for this person (see the ground)"),
}
SOURCE_READS = {
    "recompute": _l("Sources read to compare the plan with today's sources and rules."),
    "correction": _l("Sources read to show the records to correct."),
    "confirm_identity": _l("Sources read to confirm the identity."),
    "third_parties": _l("Sources read to review letters and notes for other people."),
}
ART19 = {
    "erased": _l("%(recipient)s told of the erasure (GDPR Art. 19)."),
    "rectified": _l("%(recipient)s told of the correction (GDPR Art. 19)."),
    "restricted": _l("%(recipient)s told of the restriction (GDPR Art. 19)."),
}
# Emails to the requester (app.outbox.registry), as staff name them before a subject exists.
EMAIL_NAMES = {
    "verify": _l("Address confirmation"),
    "acknowledgement": _l("Acknowledgement of receipt"),
    "status_link": _l("Link to the status page"),
    "withdrawn": _l("Withdrawal confirmed"),
    "status_changed": _l("New status"),
    "plan_ready": _l("The plan is ready"),
    "identity_check": _l("Identity being checked"),
    "identity_needed": _l("Proof of identity needed"),
    "identity_confirmed": _l("Identity confirmed"),
    "identity_document_refused": _l("Another identity document needed"),
    "relationship_proof_refused": _l("Another proof of the relationship needed"),
    "proof_accepted": _l("Identity or relationship accepted, the other awaited"),
    "in_review": _l("Request being examined"),
    "approved": _l("Request approved"),
    "refused": _l("Request refused"),
    "information_needed": _l("Information needed"),
    "answer_received": _l("Answer received"),
    "extended": _l("Deadline extended"),
    "package_ready": _l("Download link"),
    "completed_access": _l("Request completed"),
    "completed_portability": _l("Request completed"),
    "completed_erasure": _l("Request completed"),
    "completed_objection": _l("Request completed"),
    "completed_rectification": _l("Request completed"),
}

Words = Callable[[str], str]


def actor_name(actor: str, staff: Mapping[str, str]) -> str:
    """Who did it: a member of staff by address (``staff``), a fixed actor by its name."""
    if actor in staff:
        return staff[actor]
    if actor in ACTORS:
        return str(ACTORS[actor])
    if actor.startswith("system:"):
        return _("the portal (automatic)")
    return _("someone outside the staff")


def email_name(template: str) -> str:
    return str(EMAIL_NAMES.get(template, _("Email to the requester")))


def _label(labels: Mapping[str, Any], code: Any) -> str:
    return str(labels[code]) if code in labels else _("unknown")


def _status(d: Mapping[str, Any], staff: Mapping[str, str], source: Words) -> str:
    parts = [
        _(
            "Status changed from “%(before)s” to “%(after)s”.",
            before=_label(STAFF_STATUS_LABELS, d.get("from")),
            after=_label(STAFF_STATUS_LABELS, d.get("to")),
        )
    ]
    if "outcome" in d:
        parts.append(_("Plan computed: %(outcome)s.", outcome=_label(PLAN_OUTCOMES, d["outcome"])))
    if d.get("identity") == "confirmed":
        parts.append(_("Identity confirmed by staff."))
    if d.get("deadline") == "medical_record":
        parts.append(_("The Public Health Code's deadline applies (medical record)."))
    if "prepared_by" in d:
        who = actor_name(f"staff:{d['prepared_by']}", staff)
        parts.append(_("Prepared by %(who)s.", who=who))
    if d.get("ground"):
        parts.append(_("Ground: %(ground)s", ground=_label(REFUSAL_LABELS, d["ground"])))
    if d.get("question") == "identity":
        parts.append(_("Proof of identity asked for."))
    elif d.get("question"):
        parts.append(_("Information asked for."))
    if d.get("paused_days"):
        days = int(d["paused_days"])
        parts.append(
            ngettext("Clock suspended %(num)d day.", "Clock suspended %(num)d days.", days)
        )
    if d.get("reason") in REVIEW_REASONS:
        parts.append(_("Why: %(reason)s.", reason=REVIEW_REASONS[d["reason"]]))
    if d.get("level") in ASSURANCE_LABELS:
        parts.append(_("Identity assurance: %(level)s.", level=ASSURANCE_LABELS[d["level"]]))
    return " ".join(parts)


def _erased(d: Mapping[str, Any], staff: Mapping[str, str], source: Words) -> str:
    deleted = d.get("deleted") or {}
    count = sum(int(n) for n in deleted.values()) if isinstance(deleted, dict) else 0
    return ngettext(
        "Erased in %(source)s: %(num)d record deleted.",
        "Erased in %(source)s: %(num)d records deleted.",
        count,
        source=source(str(d.get("source", ""))),
    )


def _note(d: Mapping[str, Any], staff: Mapping[str, str], source: Words) -> str:
    if d.get("by_holder") is False:
        return _("Internal note added, by someone who does not hold the case.")
    return _("Internal note added.")


def _prepared(d: Mapping[str, Any], staff: Mapping[str, str], source: Words) -> str:
    if d.get("decision") == "refuse":
        return _(
            "Refusal prepared for a data protection officer's approval. Ground: %(ground)s",
            ground=_label(REFUSAL_LABELS, d.get("ground")),
        )
    return _("Erasure prepared for a data protection officer's approval.")


def _fixed(text: Any) -> Callable[[Mapping[str, Any], Mapping[str, str], Words], str]:
    return lambda d, staff, source: str(text)


Sentence = Callable[[Mapping[str, Any], Mapping[str, str], Words], str]
SENTENCES: dict[str, Sentence] = {
    "request.filed": _fixed(_l("Request filed on the public form.")),
    "plan.computed": lambda d, s, src: _(
        "Plan %(number)s computed: %(outcome)s.",
        number=d.get("plan", "?"),
        outcome=_label(PLAN_OUTCOMES, d.get("outcome")),
    ),
    "case.claimed": _fixed(_l("Case claimed.")),
    "case.released": _fixed(_l("Case released to the queue.")),
    "case.assigned": lambda d, s, src: _(
        "Case given to %(who)s.", who=actor_name(f"staff:{d.get('assignee')}", s)
    ),
    "case.note_added": _note,
    "case.source_read": lambda d, s, src: str(
        SOURCE_READS.get(d.get("screen", ""), _l("Sources read for this case."))
    ),
    "case.prepared": _prepared,
    "case.sent_back": _fixed(_l("The prepared decision was sent back to the preparer.")),
    "case.extended": lambda d, s, src: _(
        "Deadline extended by two months, because %(reason)s.",
        reason=_label(EXTENSION_LABELS, d.get("ground")),
    ),
    "case.late_refusal_justified": _fixed(
        _l("Refusal approved after the month, with a written justification.")
    ),
    "clock.paused": _fixed(_l("Clock suspended while the requester is asked.")),
    "clock.resumed": lambda d, s, src: ngettext(
        "Clock resumed after %(num)d day.",
        "Clock resumed after %(num)d days.",
        int(d.get("paused_days") or 0),
    ),
    "identity.confirmed": _fixed(_l("Identity confirmed by staff.")),
    "identity.notice_sent": _fixed(_l("The person on file was told of the request.")),
    "identity.disputed": _fixed(_l("The person on file said the request was not theirs.")),
    "identity.disputed_late": _fixed(
        _l("The person on file said the request was not theirs, after it was decided.")
    ),
    "identity.assurance": lambda d, s, src: _(
        "Identity assurance now: %(level)s.", level=_label(ASSURANCE_LABELS, d.get("level"))
    ),
    "identity.refused": _fixed(_l("A proof of identity could not be taken.")),
    "identity.oidc": lambda d, s, src: str(
        _l("FranceConnect sign-in: it matches the request.")
        if d.get("outcome") == "match"
        else _l("FranceConnect sign-in: it does not match the request.")
    ),
    "identity.oidc_failed": _fixed(_l("A FranceConnect sign-in did not succeed.")),
    "identity.document_received": _fixed(_l("Identity document received.")),
    "identity.document_viewed": _fixed(_l("Identity document opened.")),
    "identity.document_accepted": _fixed(_l("Identity document accepted.")),
    "relationship.proof_received": _fixed(_l("Proof of the relationship received.")),
    "relationship.proof_viewed": _fixed(_l("Proof of the relationship opened.")),
    "relationship.proof_accepted": _fixed(_l("Proof of the relationship accepted.")),
    "relationship.proof_refused": lambda d, s, src: _(
        "Proof of the relationship refused: %(reason)s.",
        reason=_label(PROOF_REASON_LABELS, d.get("reason")),
    ),
    "relationship.accepted": _fixed(_l("Relationship proven: the request goes on.")),
    "identity.document_refused": lambda d, s, src: _(
        "Identity document refused: %(reason)s.",
        reason=_label(DOCUMENT_REASON_LABELS, d.get("reason")),
    ),
    "erasure.source_erased": _erased,
    "recipient.notified": lambda d, s, src: (
        str(ART19.get(d.get("action", ""), _l("%(recipient)s told (GDPR Art. 19).")))
        % {"recipient": d.get("recipient", "?")}
    ),
    "objection.registered": _fixed(_l("Objection registered in the research registries.")),
    "package.built": _fixed(_l("Access package built.")),
    "package.held": _fixed(_l("Access package held for the 48-hour reflection period.")),
    "package.released": _fixed(_l("Access package released: the download link is sent.")),
    "package.unlocked": _fixed(_l("The requester unlocked the access package.")),
    "package.check_failed": _fixed(_l("A wrong date of birth was typed on the download page.")),
    "package.downloaded": _fixed(_l("The requester downloaded the access package.")),
    "package.deleted": _fixed(_l("Access package deleted.")),
    "third_parties.redacted": lambda d, s, src: ngettext(
        "%(num)d passage about another person masked in the package.",
        "%(num)d passages about other people masked in the package.",
        int(d.get("count") or 0),
    ),
    "third_parties.unredacted": _fixed(_l("A masked passage was put back in the package.")),
    "third_parties.reviewed": lambda d, s, src: ngettext(
        "Letters and notes reviewed for other people: %(num)d passage masked.",
        "Letters and notes reviewed for other people: %(num)d passages masked.",
        int(d.get("redactions") or 0),
    ),
    "records.restricted": _fixed(_l("Records restricted while they are checked.")),
    "record.rectified": _fixed(_l("A record was corrected.")),
    "record.confirmed": _fixed(_l("A record was checked and found accurate.")),
    "records.lifted": _fixed(_l("Restriction lifted.")),
    "deadline.medical_record": _fixed(_l("The Public Health Code's deadline now applies.")),
    "data.purged": _fixed(_l("Personal data removed by the purge.")),
}


def sentence(event: AuditEvent, staff: Mapping[str, str], source: Words) -> str:
    """What ``event`` says, for a person; ``source`` names a source, ``staff`` a member."""
    details = event.details if isinstance(event.details, dict) else {}
    if event.action.startswith("status."):
        return _status(details, staff, source)
    found = SENTENCES.get(event.action)
    if found is None:
        return _("A step of the case was recorded.")
    try:
        return found(details, staff, source)
    except (TypeError, ValueError):  # a payload of another shape than today's
        return _("A step of the case was recorded.")

"""A refusal reaches the requester within one month of receipt, even when extended.

GDPR Art. 12(4): a controller that does not act informs the requester "without
delay and at the latest within one month of receipt"; the extension of
Art. 12(3) gives more time to act, not to decide not to act. The month is the
GDPR month of ``app.deadlines`` (with the days the clock was suspended while
identity was checked), never the extended period.

Past that month a refusal is still possible (a late answer beats none) but
only with a data protection officer's written justification, kept encrypted
with the case; the audit event records that it was late, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from app import audit, deadlines
from app.casework.cases import CaseError, actor, clean_text, write_note
from app.crypto import Vault
from app.models import Request, StaffUser


@dataclass(frozen=True)
class Window:
    """The last day a refusal may reach the requester, and whether it has passed."""

    refuse_by: date
    late: bool
    # The due date in force is later than ``refuse_by`` (an extension).
    extended: bool


def window(request: Request, today: date) -> Window | None:
    """The refusal window of a received request (None before receipt)."""
    if request.received_on is None:
        return None
    refuse_by = deadlines.due_date(request.received_on, suspensions=(request.paused_days,))
    if request.medical_deadline and request.due_on is not None:
        refuse_by = min(refuse_by, request.due_on)
    extended = request.due_on is not None and request.due_on > refuse_by
    return Window(refuse_by, today > refuse_by, extended)


def check(
    session: Session,
    request: Request,
    staff: StaffUser,
    justification: str | None,
    *,
    vault: Vault | None,
    now: datetime,
) -> None:
    """Let a refusal through in time; past the month, only with a written justification.

    Raises ``CaseError("refusal_late")`` when the month has passed and no
    justification was written. The caller has checked that ``staff`` is a DPO.
    """
    found = window(request, deadlines.receipt_date(now))
    if found is None or not found.late:
        return
    if not (justification or "").strip() or vault is None:
        raise CaseError("refusal_late")
    text = clean_text(justification)
    who = actor(staff)
    write_note(session, request, "justification", who, text, vault, now)
    audit.record(
        session,
        actor=who,
        action="case.late_refusal_justified",
        now=now,
        request_id=request.id,
        details={
            "refuse_by": found.refuse_by.isoformat(),
            "days_late": (deadlines.receipt_date(now) - found.refuse_by).days,
        },
    )

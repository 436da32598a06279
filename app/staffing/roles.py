"""Who may do what: the staff role matrix (docs/security.md, "Roles and decisions").

``agent`` triages and prepares, ``dpo`` also approves erasures and refusals,
decides on unfounded or excessive requests and may read the records of any
case (an agent reads those of the cases they hold only), ``admin`` manages staff
accounts and reads the audit trail but never sees a case: an administrator
of accounts has no need to read anyone's request. Granting ``dpo`` takes two
people: an administrator gives it, another DPO confirms it (``CONFIRM_DPO``,
app.staffing.duties), or the operator does it on the server.
"""

from __future__ import annotations

VIEW_CASES = "view_cases"  # queue, case page, dashboard, CSV export
WORK_CASES = "work_cases"  # claim, release, notes, prepare, ask, extend, confirm identity
APPROVE_SENSITIVE = "approve_sensitive"  # erasures and refusals, four eyes
MARK_UNFOUNDED = "mark_unfounded"  # Art. 12(5), a DPO's decision
ASSIGN = "assign"  # give a case to someone else
# The record values of a case one does not hold (the correction screen): need to know.
# Everyone else who works cases sees counts only, and the holder sees the values.
READ_ANY_RECORDS = "read_any_records"
VIEW_AUDIT = "view_audit"
MANAGE_STAFF = "manage_staff"
# Confirm (or refuse) the DPO role an administrator gave: the second person.
CONFIRM_DPO = "confirm_dpo"

MATRIX: dict[str, frozenset[str]] = {
    "agent": frozenset({VIEW_CASES, WORK_CASES}),
    "dpo": frozenset(
        {
            VIEW_CASES,
            WORK_CASES,
            APPROVE_SENSITIVE,
            MARK_UNFOUNDED,
            ASSIGN,
            READ_ANY_RECORDS,
            VIEW_AUDIT,
            CONFIRM_DPO,
        }
    ),
    "admin": frozenset({VIEW_AUDIT, MANAGE_STAFF}),
}


# The roles whose holders DPOs are told about when they are given or taken away.
PRIVILEGED = frozenset({"dpo", "admin"})
# The roles an administrator cannot give alone: a DPO approves what four eyes rest on.
NEEDS_SECOND_PERSON = frozenset({"dpo"})


def allowed(role: str | None, permission: str) -> bool:
    """Whether ``role`` carries ``permission``; an account with no role in force has none."""
    return role is not None and permission in MATRIX.get(role, frozenset())

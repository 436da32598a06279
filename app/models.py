"""The schema in one place: typed SQLAlchemy 2 models of the portal.

Alembic revisions in ``migrations/`` must match these classes; a test compares
them on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.staffing.mailbox import mailbox_key

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

KINDS = ("access", "portability", "erasure", "objection", "rectification")
STATUSES = (
    "unverified",
    "received",
    # Routed, but the requester's identity is not yet proven to the level the right needs.
    "awaiting_identity",
    "identity_review",
    "triage",
    "in_review",
    "awaiting_requester",
    "approved",
    "fulfilling",
    "completed",
    "denied",
    "expired",
    "withdrawn",
)
JOB_STATES = ("pending", "done", "parked")
_OPEN_CASES = (
    "status IN ('received', 'awaiting_identity', 'identity_review', 'triage', 'in_review', "
    "'awaiting_requester', 'approved', 'fulfilling')"
)
# How sure the portal is of who the requester is (app.identity): ``none`` before the
# emailed link is confirmed; what each level allows is in catalogue/assurance.toml.
ASSURANCE_LEVELS = ("none", "email", "contact_match", "oidc", "document")
# The proven address compared with the contact address the sources hold for the person.
CONTACT_CHECKS = ("same", "differs", "none_on_file")
# Who files for the person whose data it is (docs/legal.md, "Requests made for someone
# else"): ``self``, or a representative of a minor, of a protected adult, by mandate,
# or for a deceased person (CSP L.1110-4 V: an heir, or a partner or cohabitant).
RELATIONSHIPS = ("self", "parent", "guardian", "mandatary", "heir", "partner")
# The three reasons CSP L.1110-4 V gives a deceased person's heirs, partner or
# cohabitant for access to the record; the disclosure is limited to what serves it.
HEIR_REASONS = ("causes_of_death", "defend_memory", "assert_rights")
# Where the proof of a representative's relationship stands; ``None`` for ``self``.
PROOF_STATES = ("awaited", "submitted", "accepted", "refused")
# What an identity document may be (app.identity.documents decides it from the content).
DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants in UTC and always hand back timezone-aware values.

    SQLite keeps no zone; without this, values read back would be naive and
    compare wrongly with aware ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant, timezone-aware (a callable default, never import-time)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Request(Base):
    """One exercise of one right by a requester."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"assurance IN {ASSURANCE_LEVELS!r}", name="assurance"),
        CheckConstraint(f"contact_check IN {CONTACT_CHECKS!r}", name="contact_check"),
        CheckConstraint(f"acts_as IN {RELATIONSHIPS!r}", name="acts_as"),
        CheckConstraint(f"heir_reason IN {HEIR_REASONS!r}", name="heir_reason"),
        CheckConstraint(f"relationship_proof IN {PROOF_STATES!r}", name="relationship_proof"),
        Index("ix_requests_status_due_on", "status", "due_on"),
        Index("ix_requests_email_normalized_created_at", "email_normalized", "created_at"),
        Index("ix_requests_assignee_id_due_on", "assignee_id", "due_on"),
        Index("ix_requests_due_on_id", "due_on", "id"),
        # The queue reads open cases only (app.casework.queue.OPEN_STATUSES, the same
        # list, checked by tests/casework/test_queue.py): these partial indexes hold
        # the backlog alone, so a page costs the same after years of closed
        # history (docs/benchmarks.md, "Queue").
        Index(
            "ix_requests_open_due_on_id",
            "due_on",
            "id",
            postgresql_where=text(_OPEN_CASES),
            sqlite_where=text(_OPEN_CASES),
        ),
        Index(
            "ix_requests_open_assignee_id_due_on",
            "assignee_id",
            "due_on",
            "id",
            postgresql_where=text(_OPEN_CASES),
            sqlite_where=text(_OPEN_CASES),
        ),
        # Every column the queue's counts read (paused_at: a paused clock is never
        # overdue; acts_as and relationship_proof: "proof awaited"), so they come
        # from the index alone, never from the table's rows
        # (tests/casework/test_queue_counts_plan.py).
        Index(
            "ix_requests_open_counts",
            "status",
            "kind",
            "assignee_id",
            "due_on",
            "has_retained",
            "paused_at",
            "acts_as",
            "relationship_proof",
            postgresql_where=text(_OPEN_CASES),
            sqlite_where=text(_OPEN_CASES),
        ),
        # The queue's other orders and the received-date range (issue 15): a page
        # walks the first rows of its order instead of sorting the whole backlog.
        Index(
            "ix_requests_open_received_on_id",
            "received_on",
            "id",
            postgresql_where=text(_OPEN_CASES),
            sqlite_where=text(_OPEN_CASES),
        ),
        Index(
            "ix_requests_open_kind_id",
            "kind",
            "id",
            postgresql_where=text(_OPEN_CASES),
            sqlite_where=text(_OPEN_CASES),
        ),
        # A DPO's "waiting for my approval": the few cases with a prepared decision.
        Index(
            "ix_requests_open_pending_due_on_id",
            "due_on",
            "id",
            postgresql_where=text(f"{_OPEN_CASES} AND pending_decision IS NOT NULL"),
            sqlite_where=text(f"{_OPEN_CASES} AND pending_decision IS NOT NULL"),
        ),
        # A part of a reference ("the last four characters") is a substring search:
        # trigrams on PostgreSQL (pg_trgm, migration 0019), so it does not read every
        # open row; a plain partial index on SQLite, where LIKE '%...%' scans it.
        Index(
            "ix_requests_open_reference_trgm",
            "reference",
            postgresql_using="gin",
            postgresql_ops={"reference": "gin_trgm_ops"},
            postgresql_where=text(_OPEN_CASES),
            sqlite_where=text(_OPEN_CASES),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="unverified")
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Keyed digests of the folded names, what the queue's name search reads
    # (app/name_search.py); blanked with the names by the purge.
    last_name_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    full_name_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    # Fernet tokens: the number and the free text may hold sensitive data.
    nir_encrypted: Mapped[str | None] = mapped_column(Text)
    details_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Who last changed the case and when: what a stale form is told.
    changed_by: Mapped[str | None] = mapped_column(String(80))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The case as staff see it (docs/architecture.md, "Vocabulary": case).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # Copied from the plan in force so the queue filters without a join.
    has_retained: Mapped[bool] = mapped_column(Boolean, default=False)
    # The due date follows the Public Health Code (8 days / 2 months), which
    # has no extension.
    medical_deadline: Mapped[bool] = mapped_column(Boolean, default=False)
    # The newest date of the medical records communicated: the track's period is
    # computed again from it when a pause ends (docs/legal.md, "Deadlines").
    medical_newest_on: Mapped[date | None] = mapped_column(Date)
    # CSP L.1111-7's 48-hour reflection period: a medical record is released no
    # sooner than this (prepared before it, held back until it).
    release_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A decision prepared and waiting for a second person (four eyes).
    pending_decision: Mapped[str | None] = mapped_column(String(20))
    pending_ground: Mapped[str | None] = mapped_column(String(40))
    # A refusal's optional message to the requester (Fernet: staff may write anything),
    # written when the refusal is prepared, shown on the status page once it is approved.
    refusal_message_encrypted: Mapped[str | None] = mapped_column(Text)
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refusal_ground: Mapped[str | None] = mapped_column(String(40))
    extended_on: Mapped[date | None] = mapped_column(Date)
    extension_ground: Mapped[str | None] = mapped_column(String(40))
    # The clock stops while proof of identity is awaited (docs/legal.md, "Deadlines").
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    # The identity assurance reached, when and by whom (an actor string, as in the audit).
    assurance: Mapped[str] = mapped_column(String(20), default="none")
    assurance_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assurance_by: Mapped[str | None] = mapped_column(String(80))
    # Set by routing once the person is found: what the case page's banner says.
    contact_check: Mapped[str | None] = mapped_column(String(20))
    # The person on file said "this was not me": frozen until staff decide.
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A request made for someone else: the name, birth date and NIR above are the
    # subject's (the person whose data it is, whom routing looks for); the requester's
    # own identity is ``requester_encrypted`` (Fernet JSON: first_name, last_name,
    # birth_date), and ``acts_as`` the relationship (RELATIONSHIPS), which
    # must be proven (``relationship_proof``) before anything is disclosed.
    acts_as: Mapped[str] = mapped_column(String(20), default="self", server_default="self")
    heir_reason: Mapped[str | None] = mapped_column(String(30))
    subject_died_on: Mapped[date | None] = mapped_column(Date)
    requester_encrypted: Mapped[str | None] = mapped_column(Text)
    relationship_proof: Mapped[str | None] = mapped_column(String(20))
    # Set by ``flask purge``: the personal fields are blanked, the row stays as statistics.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="request", order_by="StatusEvent.id"
    )
    plans: Mapped[list[Plan]] = relationship(back_populates="request", order_by="Plan.number")
    package: Mapped[AccessPackage | None] = relationship(uselist=False, viewonly=True)
    report: Mapped[FulfilmentReport | None] = relationship(viewonly=True, uselist=False)

    @property
    def plan(self) -> Plan | None:
        """The plan in force: the latest one (older ones stay as history)."""
        return self.plans[-1] if self.plans else None


class StatusEvent(Base):
    """One move of a request from a status to another: the requester's timeline."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[Request] = relationship(back_populates="events")


class LinkToken(Base):
    """A link sent to a requester: only the hash of its random value is kept."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """A unit of background work, written in the transaction that causes it (outbox)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"state IN {JOB_STATES!r}", name="state"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Fixed when the job is written, so a retried email keeps its identity.
    message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    # A job that must exist once only (e.g. "reminders:2026-11-29").
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    subject: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Append-only, HMAC-chained record of who did what; never holds health data.

    Events are written with the change they record and chained by ``audit.seal``.

    ``request_id`` has no foreign key on purpose: proof of handling outlives
    the request row when it is purged.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Position in the chain, given by the sealer shortly after the commit.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    # The audit key that sealed it (``app.audit.keys``); None on an event not yet
    # sealed, or sealed with plain SHA-256 before the chain was keyed.
    key_id: Mapped[str | None] = mapped_column(String(16))


class AuditChain(Base):
    """The head of the audit chain: a single row whose lock orders appends."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


# "refused": a request made for someone else that the law does not let them make
# (app.rules.routing: the ground is the plan's first review reason).
OUTCOMES = ("matched", "no_data", "identity_review", "refused")


class Plan(Base):
    """What routing found for a request and what each rule will do: a snapshot.

    The texts and legal bases are copied in, so a later change of the policy
    never silently alters a plan the requester has already seen. A recomputed
    plan is a new row with the next number.
    """

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(f"outcome IN {OUTCOMES!r}", name="outcome"),
        Index("uq_plans_request_id_number", "request_id", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    # Codes only (e.g. "shared_number"), never the identity data compared.
    review_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The key of the person in each source where they were found.
    subjects: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    catalogue_digest: Mapped[str] = mapped_column(String(64))
    policy_digest: Mapped[str] = mapped_column(String(64))
    computed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))

    request: Mapped[Request] = relationship(back_populates="plans")
    lines: Mapped[list[PlanLine]] = relationship(
        back_populates="plan", order_by="PlanLine.position", cascade="all, delete-orphan"
    )


class PlanLine(Base):
    """One source and category of a plan, for one action: counts, never the data."""

    __tablename__ = "plan_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(20))
    record_count: Mapped[int] = mapped_column(Integer)
    label_fr: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    basis_fr: Mapped[str] = mapped_column(Text)
    basis_en: Mapped[str] = mapped_column(Text)
    explanation_fr: Mapped[str] = mapped_column(Text)
    explanation_en: Mapped[str] = mapped_column(Text)
    kept_until: Mapped[date | None] = mapped_column(Date)
    # Primary keys of the records, per table: fulfilment acts on exactly these.
    record_keys: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    plan: Mapped[Plan] = relationship(back_populates="lines")

    def text(self, name: str, locale: str) -> str:
        return str(getattr(self, f"{name}_{'en' if locale.startswith('en') else 'fr'}"))


STAFF_ROLES = ("agent", "dpo", "admin")


def _email_key(context: Any) -> str:
    """``StaffUser.email_key`` computed from ``email`` when a row is inserted without it."""
    return mailbox_key(str(context.get_current_parameters()["email"]))


class StaffUser(Base):
    """A member of staff: a password and a TOTP second factor, both set at enrolment.

    Only hashes are stored for the password and the enrolment token; the TOTP
    secret must be read back to check codes, so it is encrypted (Fernet).
    ``role`` is the role in force: NULL while an account created by an
    administrator waits for a DPO to confirm the role it was given
    (``pending_role``, app.staffing.duties).
    """

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(f"role IN {STAFF_ROLES!r}", name="role"),
        CheckConstraint(f"pending_role IN {STAFF_ROLES!r}", name="pending_role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Lower-cased on the way in: the address mail is sent to and sign-in looks up.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # The mailbox the address reaches (app.staffing.mailbox): one person, one account.
    email_key: Mapped[str] = mapped_column(String(254), unique=True, default=_email_key)
    role: Mapped[str | None] = mapped_column(String(10))
    # A role an administrator gave that takes a DPO's confirmation (the DPO role),
    # who asked for it and since when; NULL when nothing waits.
    pending_role: Mapped[str | None] = mapped_column(String(10))
    pending_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who created the account: NULL for the server's command line (the operator).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # The last TOTP time step accepted: a code seen once is refused afterwards.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Stored in each session; bumping it ends every open session of this user.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    enrolment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


NOTE_KINDS = ("note", "question", "answer", "justification")


class CaseNote(Base):
    """Text about a case: a staff note, a question to the requester, their answer.

    The text may hold anything a person chose to write, health data included,
    so it is encrypted (Fernet) like the request's free text.
    """

    __tablename__ = "case_notes"
    __table_args__ = (CheckConstraint(f"kind IN {NOTE_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # "staff:<id>" or "requester"
    author: Mapped[str] = mapped_column(String(80))
    body_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedFilter(Base):
    """A queue filter a member of staff named and kept: its name and its query string.

    At most ``app.casework.saved_filters.MAX_PER_PERSON`` per person, counted under a
    lock on the person's row. The query never holds the search box (a name or an
    address is personal data); one name per person.
    """

    __tablename__ = "saved_filters"
    __table_args__ = (Index("uq_saved_filters_staff_id_name", "staff_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


PACKAGE_FORMATS = ("access", "portability")


class AccessPackage(Base):
    """The copy of a requester's data (Art. 15 / Art. 20), encrypted at rest (Fernet).

    Built by a job from the approved plan's record keys; downloaded through a
    72-hour link plus a date-of-birth check; its content is deleted when the
    link expires (``deleted_at`` stays as proof it existed).
    """

    __tablename__ = "access_packages"
    __table_args__ = (
        CheckConstraint(f"format IN {PACKAGE_FORMATS!r}", name="format"),
        # The worker looks for expired content on every pass: only live packages count.
        Index(
            "ix_access_packages_live_expires_at",
            "expires_at",
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    format: Mapped[str] = mapped_column(String(20))
    # Why the Art. 15 copy is given instead of a portable one (Art. 20(3)), a code.
    portability_refused: Mapped[str | None] = mapped_column(String(40))
    # Progress shown on the status page while the job works.
    records_total: Mapped[int] = mapped_column(Integer, default=0)
    records_done: Mapped[int] = mapped_column(Integer, default=0)
    json_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    html_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FulfilmentStep(Base):
    """One unit of fulfilment done (e.g. the erasure in one source): a rerun skips it.

    The source's own transaction and this row cannot commit together (two
    databases), so every step must also be safe to redo: an erasure deletes
    by the plan's keys, which deletes nothing the second time.
    """

    __tablename__ = "fulfilment_steps"
    __table_args__ = (
        Index(
            "uq_fulfilment_steps_request_action_source",
            "request_id",
            "action",
            "source",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    action: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(80))
    count: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FulfilmentReport(Base):
    """What was done for a request, per category: counts, bases and dates, never data."""

    __tablename__ = "fulfilment_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    # [{source, category, action, count, basis_fr, basis_en, kept_until}, ...]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Restriction(Base):
    """A record whose processing is restricted while its accuracy is disputed (Art. 18)."""

    __tablename__ = "restrictions"
    __table_args__ = (
        Index("ix_restrictions_source_table_record", "source", "table_name", "record_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    source: Mapped[str] = mapped_column(String(80))
    table_name: Mapped[str] = mapped_column(String(80))
    record_key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdentityDocument(Base):
    """An identity document the requester sent, encrypted (Fernet), waiting for staff to check it.

    At most one waits per request: the unique ``request_id`` refuses a second
    upload, also two sent at once. The row is deleted in the transaction of the
    staff decision; the audit keeps the decision, who made it and when.
    """

    __tablename__ = "identity_documents"
    __table_args__ = (CheckConstraint(f"media_type IN {DOCUMENT_TYPES!r}", name="media_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    # Decided from the content, never from the file's name or the browser's header.
    media_type: Mapped[str] = mapped_column(String(40))
    # Of the stored (re-encoded) file, before encryption.
    size: Mapped[int] = mapped_column(Integer)
    content_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThirdPartyRedaction(Base):
    """A passage about someone else, masked in a request's package (GDPR Art. 15(4)).

    Staff mark it on the case page before release (``app.casework.third_parties``);
    the source keeps the original untouched. The passage itself is health data and
    is not stored: only where it is (``start_offset``, ``end_offset``: character offsets in the
    column's text) and a digest of the whole text it was chosen in, so that a text
    changed since is masked whole rather than at offsets that no longer fit.
    """

    __tablename__ = "third_party_redactions"
    __table_args__ = (
        CheckConstraint("start_offset >= 0 AND end_offset > start_offset", name="offsets"),
        Index("ix_third_party_redactions_request_record", "request_id", "record_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    source: Mapped[str] = mapped_column(String(80))
    table_name: Mapped[str] = mapped_column(String(80))
    record_key: Mapped[str] = mapped_column(String(80))
    column_name: Mapped[str] = mapped_column(String(80))
    start_offset: Mapped[int] = mapped_column(Integer)
    end_offset: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the column's whole text when the passage was chosen (never the passage's).
    text_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThirdPartyReview(Base):
    """The holder's word that a plan's free text was read and every passage about a third
    party masked: the package that discloses it may be approved (one per plan)."""

    __tablename__ = "third_party_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), unique=True)
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    records: Mapped[int] = mapped_column(Integer)
    redactions: Mapped[int] = mapped_column(Integer)


class RelationshipProof(Base):
    """A document proving the relationship of a request made for someone else, encrypted.

    ``proof`` is the code of the document it stands for (app.rules.representation's
    ``Proof.code``): at most one waits per request and code (the unique pair refuses a
    second upload, also two sent at once). Like an identity document, the row is deleted
    in the transaction of the staff decision; the audit keeps the decision (codes only).
    """

    __tablename__ = "relationship_proofs"
    __table_args__ = (
        CheckConstraint(f"media_type IN {DOCUMENT_TYPES!r}", name="media_type"),
        UniqueConstraint("request_id", "proof"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    proof: Mapped[str] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    content_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

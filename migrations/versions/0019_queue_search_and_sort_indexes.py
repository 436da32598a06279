"""queue search and sort indexes: trigrams for a part of a reference, the other orders

Issue 15's "realistic backlog" benchmark (3,000 open cases at 1,000,000
requests, 600 at 1,000) found the queue's views that read every open row:
the search for a part of a reference (``LIKE '%...%'``), the name search that
ORs it with the digests, the descending received-date sort and the others
that sorted the backlog, and the counts, which read each open row from the
table for its ``paused_at``. On PostgreSQL the part of a reference is searched
through a trigram index (the ``pg_trgm`` extension, created here if missing:
a trusted extension since PostgreSQL 13, which the owner of the database may
create); on SQLite the same index is a plain partial one.

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-04 19:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

# The same list as app.casework.queue.OPEN_STATUSES and the models' indexes.
OPEN_CASES = (
    "status IN ('received', 'awaiting_identity', 'identity_review', 'triage', 'in_review', "
    "'awaiting_requester', 'approved', 'fulfilling')"
)
COUNTS = ["status", "kind", "assignee_id", "due_on", "has_retained"]
SORTS = (
    ("ix_requests_open_received_on_id", ["received_on", "id"], OPEN_CASES),
    ("ix_requests_open_kind_id", ["kind", "id"], OPEN_CASES),
    (
        "ix_requests_open_pending_due_on_id",
        ["due_on", "id"],
        f"{OPEN_CASES} AND pending_decision IS NOT NULL",
    ),
)


def _partial(name, columns, where=OPEN_CASES):
    op.create_index(
        name,
        "requests",
        columns,
        unique=False,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def _trigram_schema():
    """The schema pg_trgm lives in, after creating it if it is missing.

    Created in ``public`` when it can be, so that a schema dropped with CASCADE (as
    the tests and benches do with theirs) does not take the extension, and every
    index built on its operator class, with it.
    """
    bind = op.get_bind()
    where = (
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_trgm'"
    )
    found = bind.execute(sa.text(where)).scalar()
    if found is None:
        public = bind.execute(
            sa.text(
                "SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n"
                " WHERE n.nspname = 'public'"
            )
        ).scalar()
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if public else ""))
        found = bind.execute(sa.text(where)).scalar()
    return found


def upgrade():
    op.drop_index("ix_requests_open_counts", table_name="requests")
    _partial("ix_requests_open_counts", COUNTS + ["paused_at"])
    for name, columns, where in SORTS:
        _partial(name, columns, where)
    if op.get_bind().dialect.name == "postgresql":
        schema = _trigram_schema()
        op.execute(
            "CREATE INDEX ix_requests_open_reference_trgm ON requests"
            f' USING gin (reference "{schema}".gin_trgm_ops) WHERE {OPEN_CASES}'
        )
    else:
        _partial("ix_requests_open_reference_trgm", ["reference"])


def downgrade():
    # The extension stays: other objects of the database may use it.
    op.drop_index("ix_requests_open_reference_trgm", table_name="requests")
    for name, _columns, _where in reversed(SORTS):
        op.drop_index(name, table_name="requests")
    op.drop_index("ix_requests_open_counts", table_name="requests")
    _partial("ix_requests_open_counts", COUNTS)

"""queue counts from the index alone again: the relationship proof's columns

The queue's counts gained "proof awaited" with requests made for someone else
(``acts_as``, ``relationship_proof``), two columns ``ix_requests_open_counts``
did not hold: PostgreSQL read each open case from the table again (3,000 heap
fetches at 1,000,000 requests, issue 15's benchmark). The index now holds every
column the counts read (``tests/casework/test_queue_counts_plan.py``).

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-06 21:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None

# The same list as app.casework.queue.OPEN_STATUSES and the models' indexes.
OPEN_CASES = (
    "status IN ('received', 'awaiting_identity', 'identity_review', 'triage', 'in_review', "
    "'awaiting_requester', 'approved', 'fulfilling')"
)
BEFORE = ["status", "kind", "assignee_id", "due_on", "has_retained", "paused_at"]
AFTER = BEFORE + ["acts_as", "relationship_proof"]


def _counts_index(columns):
    op.drop_index("ix_requests_open_counts", table_name="requests")
    op.create_index(
        "ix_requests_open_counts",
        "requests",
        columns,
        unique=False,
        postgresql_where=sa.text(OPEN_CASES),
        sqlite_where=sa.text(OPEN_CASES),
    )


def upgrade():
    _counts_index(AFTER)


def downgrade():
    _counts_index(BEFORE)

"""queue indexes: partial indexes on open cases

The triage queue reads open cases only (not unverified, not closed). Without
these, PostgreSQL walks ``ix_requests_due_on_id`` from the oldest due date and
skips every closed request on the way: a page of the queue took 50 ms at
100,000 requests and grew with the history (docs/benchmarks.md, "Queue").
Partial indexes hold the backlog alone, on SQLite as on PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The same list as app.casework.queue.OPEN_STATUSES and the models' indexes.
OPEN_CASES = (
    "status IN ('received', 'identity_review', 'triage', 'in_review', "
    "'awaiting_requester', 'approved', 'fulfilling')"
)


def upgrade():
    for name, columns in (
        ('ix_requests_open_due_on_id', ['due_on', 'id']),
        ('ix_requests_open_assignee_id_due_on', ['assignee_id', 'due_on', 'id']),
        # Every column the counts read, so they come from the index alone.
        ('ix_requests_open_counts', ['status', 'kind', 'assignee_id', 'due_on', 'has_retained']),
    ):
        op.create_index(
            name,
            'requests',
            columns,
            unique=False,
            postgresql_where=sa.text(OPEN_CASES),
            sqlite_where=sa.text(OPEN_CASES),
        )


def downgrade():
    op.drop_index('ix_requests_open_counts', table_name='requests')
    op.drop_index('ix_requests_open_assignee_id_due_on', table_name='requests')
    op.drop_index('ix_requests_open_due_on_id', table_name='requests')

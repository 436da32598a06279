"""identity assurance: the level each request reached, the contact check, disputes

``assurance`` is how sure the portal is of who the requester is (``none``
before the emailed link is confirmed, then ``email``, ``contact_match``,
``oidc`` or ``document``); ``assurance_at`` and ``assurance_by`` say when and
by whom it was reached. ``contact_check`` compares the proven address with the
contact address the sources hold. ``disputed_at`` is set when the person on
file says a request was not theirs.

A new status ``awaiting_identity`` holds a routed request whose level is below
what its right needs: the status check and the partial indexes of open cases
name it.

Existing verified requests get ``email``: the link was all they proved, so an
open request at a stricter right waits for a proof before it can be approved.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_STATUSES = "('unverified', 'received', 'identity_review', 'triage', 'in_review', 'awaiting_requester', 'approved', 'fulfilling', 'completed', 'denied', 'expired', 'withdrawn')"
NEW_STATUSES = "('unverified', 'received', 'awaiting_identity', 'identity_review', 'triage', 'in_review', 'awaiting_requester', 'approved', 'fulfilling', 'completed', 'denied', 'expired', 'withdrawn')"
OLD_OPEN = (
    "status IN ('received', 'identity_review', 'triage', 'in_review', "
    "'awaiting_requester', 'approved', 'fulfilling')"
)
NEW_OPEN = (
    "status IN ('received', 'awaiting_identity', 'identity_review', 'triage', 'in_review', "
    "'awaiting_requester', 'approved', 'fulfilling')"
)
LEVELS = "('none', 'email', 'contact_match', 'oidc', 'document')"
CHECKS = "('same', 'differs', 'none_on_file')"
INDEXES = (
    ('ix_requests_open_due_on_id', ['due_on', 'id']),
    ('ix_requests_open_assignee_id_due_on', ['assignee_id', 'due_on', 'id']),
    ('ix_requests_open_counts', ['status', 'kind', 'assignee_id', 'due_on', 'has_retained']),
)


def _open_indexes(where):
    for name, _ in INDEXES:
        op.drop_index(name, table_name='requests')
    for name, columns in INDEXES:
        op.create_index(
            name, 'requests', columns, unique=False,
            postgresql_where=sa.text(where), sqlite_where=sa.text(where),
        )


def upgrade():
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assurance', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('assurance_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('assurance_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('contact_check', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('disputed_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE requests SET assurance = CASE WHEN verified_at IS NULL THEN 'none' ELSE 'email' END"
    )
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.alter_column('assurance', existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_constraint(op.f('ck_requests_status'), type_='check')
        batch_op.create_check_constraint('status', f"status IN {NEW_STATUSES}")
        batch_op.create_check_constraint('assurance', f"assurance IN {LEVELS}")
        batch_op.create_check_constraint('contact_check', f"contact_check IN {CHECKS}")
    _open_indexes(NEW_OPEN)


def downgrade():
    # The older schema knows no such status: those requests go back to received,
    # the status they were routed from (staff see them there and re-plan them).
    op.execute("UPDATE requests SET status = 'received' WHERE status = 'awaiting_identity'")
    _open_indexes(OLD_OPEN)
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_requests_contact_check'), type_='check')
        batch_op.drop_constraint(op.f('ck_requests_assurance'), type_='check')
        batch_op.drop_constraint(op.f('ck_requests_status'), type_='check')
        batch_op.create_check_constraint('status', f"status IN {OLD_STATUSES}")
        batch_op.drop_column('disputed_at')
        batch_op.drop_column('contact_check')
        batch_op.drop_column('assurance_by')
        batch_op.drop_column('assurance_at')
        batch_op.drop_column('assurance')

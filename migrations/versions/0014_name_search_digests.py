"""name search digests, saved queue filters, a refusal's message to the requester


``last_name_digest`` and ``full_name_digest`` hold HMAC-SHA-256 digests, under the
first key of ``NAME_SEARCH_KEYS``, of the names folded as matching folds them
(app/name_search.py); the queue finds a request by name through their indexes.
Existing requests are given their digests here, in batches; purged requests
(names blanked) keep none.

``saved_filters`` holds the queue filters each member of staff named and kept
(at most ten each, counted under a lock on the person's row).
``refusal_message_encrypted`` holds the optional message a refusal carries to the
requester's status page (Fernet, like case notes).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11 00:00:00

"""
import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_name_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('full_name_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('refusal_message_encrypted', sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_requests_last_name_digest'), ['last_name_digest'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_requests_full_name_digest'), ['full_name_digest'], unique=False
        )
    _backfill()
    op.create_table(
        'saved_filters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('query', sa.String(length=1000), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['staff_id'], ['staff_users.id'], name=op.f('fk_saved_filters_staff_id_staff_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_filters')),
    )
    op.create_index(
        'uq_saved_filters_staff_id_name', 'saved_filters', ['staff_id', 'name'], unique=True
    )


def _backfill():
    # Imported here: the migration reads the keys of the application it runs in.
    from app.name_search import NameIndex

    index = NameIndex.of(current_app.config["NAME_SEARCH_KEYS"])
    requests = sa.table(
        'requests',
        sa.column('id', sa.Integer),
        sa.column('first_name', sa.String),
        sa.column('last_name', sa.String),
        sa.column('last_name_digest', sa.String),
        sa.column('full_name_digest', sa.String),
    )
    connection = op.get_bind()
    statement = (
        sa.update(requests)
        .where(requests.c.id == sa.bindparam('row_id'))
        .values(
            last_name_digest=sa.bindparam('new_last'), full_name_digest=sa.bindparam('new_full')
        )
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(requests.c.id, requests.c.first_name, requests.c.last_name)
            .where(requests.c.id > after)
            .order_by(requests.c.id)
            .limit(2000)
        ).all()
        if not rows:
            return
        changes = []
        for row_id, first, last in rows:
            digests = index.digests(first or "", last or "")
            if digests['last_name_digest'] or digests['full_name_digest']:
                changes.append(
                    {
                        'row_id': row_id,
                        'new_last': digests['last_name_digest'],
                        'new_full': digests['full_name_digest'],
                    }
                )
        if changes:
            connection.execute(statement, changes)
        after = rows[-1][0]


def downgrade():
    op.drop_index('uq_saved_filters_staff_id_name', table_name='saved_filters')
    op.drop_table('saved_filters')
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requests_full_name_digest'))
        batch_op.drop_index(batch_op.f('ix_requests_last_name_digest'))
        batch_op.drop_column('refusal_message_encrypted')
        batch_op.drop_column('full_name_digest')
        batch_op.drop_column('last_name_digest')

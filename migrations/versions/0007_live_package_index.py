"""live package index

The worker's housekeeping looks for access packages whose link has expired on
every pass; a partial index on the live ones (content not yet deleted) keeps
that lookup flat however many packages have been served.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_access_packages_live_expires_at',
        'access_packages',
        ['expires_at'],
        unique=False,
        postgresql_where=sa.text('deleted_at IS NULL'),
        sqlite_where=sa.text('deleted_at IS NULL'),
    )


def downgrade():
    op.drop_index('ix_access_packages_live_expires_at', table_name='access_packages')

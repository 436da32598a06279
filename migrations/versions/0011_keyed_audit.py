"""keyed audit chain

Each sealed audit event records the id of the HMAC key that sealed it. The
events sealed before (plain SHA-256) keep a NULL key id and their hash: they
are not rewritten (see app/audit/__init__.py). Downgrading drops the key
ids: the code before this revision then reports the first keyed event as
altered, which it cannot check.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-01 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('key_id')

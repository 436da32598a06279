"""medical track and reflection period: the newest medical record date, a release not before

``medical_newest_on`` keeps the date the Public Health Code's track was
computed from, so a resumed clock computes the period again from the receipt
(paused days inside the period, Reg. 1182/71). ``release_not_before`` holds a
medical record's package back until the 48-hour reflection period
(CSP L.1111-7) has run.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('medical_newest_on', sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column('release_not_before', sa.DateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_column('release_not_before')
        batch_op.drop_column('medical_newest_on')

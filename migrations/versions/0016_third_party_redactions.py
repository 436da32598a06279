"""third parties' information: passages masked in a package, and the holder's review

``third_party_redactions`` holds each passage about someone else that staff mask
in a request's package (GDPR Art. 15(4), CSP L.1110-4 and L.1111-7): the
record, the column, the character offsets and a SHA-256 digest of the column's
whole text when the passage was chosen; never the passage, which is health data.
The source keeps the original. ``third_party_reviews`` holds, per plan, the
holder's word that its free text was read: the package may then be approved.

Revision ID: 0016
Revises: 0019
Create Date: 2026-12-04 19:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'third_party_redactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=80), nullable=False),
        sa.Column('table_name', sa.String(length=80), nullable=False),
        sa.Column('record_key', sa.String(length=80), nullable=False),
        sa.Column('column_name', sa.String(length=80), nullable=False),
        sa.Column('start_offset', sa.Integer(), nullable=False),
        sa.Column('end_offset', sa.Integer(), nullable=False),
        sa.Column('text_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'start_offset >= 0 AND end_offset > start_offset',
            name=op.f('ck_third_party_redactions_offsets'),
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'],
            ['staff_users.id'],
            name=op.f('fk_third_party_redactions_created_by_id_staff_users'),
        ),
        sa.ForeignKeyConstraint(
            ['request_id'],
            ['requests.id'],
            name=op.f('fk_third_party_redactions_request_id_requests'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_third_party_redactions')),
    )
    op.create_index(
        'ix_third_party_redactions_request_record',
        'third_party_redactions',
        ['request_id', 'record_key'],
        unique=False,
    )
    op.create_table(
        'third_party_reviews',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('redactions', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['plan_id'], ['plans.id'], name=op.f('fk_third_party_reviews_plan_id_plans')
        ),
        sa.ForeignKeyConstraint(
            ['request_id'],
            ['requests.id'],
            name=op.f('fk_third_party_reviews_request_id_requests'),
        ),
        sa.ForeignKeyConstraint(
            ['reviewed_by_id'],
            ['staff_users.id'],
            name=op.f('fk_third_party_reviews_reviewed_by_id_staff_users'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_third_party_reviews')),
        sa.UniqueConstraint('plan_id', name=op.f('uq_third_party_reviews_plan_id')),
    )
    op.create_index(
        op.f('ix_third_party_reviews_request_id'),
        'third_party_reviews',
        ['request_id'],
        unique=False,
    )


def downgrade():
    op.drop_index(op.f('ix_third_party_reviews_request_id'), table_name='third_party_reviews')
    op.drop_table('third_party_reviews')
    op.drop_index('ix_third_party_redactions_request_record', table_name='third_party_redactions')
    op.drop_table('third_party_redactions')

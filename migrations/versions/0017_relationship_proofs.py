"""relationship proofs: the documents a request made for someone else is proven with

Several per request (one per proof code, ``proof``): the unique pair
(``request_id``, ``proof``) refuses a second upload of the same proof while one
waits, also two sent at once. The content is a Fernet token (the vault); the
row is deleted when staff decide on it.

Revision ID: 0017
Revises: 0018
Create Date: 2026-12-04 19:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('relationship_proofs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('proof', sa.String(length=40), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("media_type IN ('application/pdf', 'image/jpeg', 'image/png')", name=op.f('ck_relationship_proofs_media_type')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_relationship_proofs_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relationship_proofs')),
    sa.UniqueConstraint('request_id', 'proof', name=op.f('uq_relationship_proofs_request_id'))
    )
    with op.batch_alter_table('relationship_proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationship_proofs_request_id'), ['request_id'], unique=False)


def downgrade():
    with op.batch_alter_table('relationship_proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relationship_proofs_request_id'))
    op.drop_table('relationship_proofs')

"""identity documents: the one file a requester sent to prove who they are

One row per request at most (unique ``request_id``): a second upload while one
waits is refused by the database too. The content is a Fernet token (the
vault); the row is deleted when staff decide on it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('identity_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("media_type IN ('application/pdf', 'image/jpeg', 'image/png')", name=op.f('ck_identity_documents_media_type')),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_identity_documents_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_documents')),
    sa.UniqueConstraint('request_id', name=op.f('uq_identity_documents_request_id'))
    )


def downgrade():
    op.drop_table('identity_documents')

"""requests made for someone else: the relationship, an heir's reason, the requester's identity

A request may be filed for another person (a parent for a minor, a guardian, a
mandatary, the heir, partner or cohabitant of a deceased person). The existing
name, birth date and NIR columns stay the subject's: routing looks for them.
``requester_encrypted`` holds the requester's own identity (Fernet JSON);
``acts_as`` names the relationship; ``relationship_proof`` where the proof of the relationship stands. Existing
requests are the person's own (``self``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 00:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

RELATIONSHIPS = ("self", "parent", "guardian", "mandatary", "heir", "partner")
HEIR_REASONS = ("causes_of_death", "defend_memory", "assert_rights")
PROOF_STATES = ("awaited", "submitted", "accepted", "refused")


def upgrade():
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('acts_as', sa.String(length=20), nullable=False, server_default='self')
        )
        batch_op.add_column(sa.Column('heir_reason', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('subject_died_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('requester_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('relationship_proof', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint('acts_as', f"acts_as IN {RELATIONSHIPS!r}")
        batch_op.create_check_constraint('heir_reason', f"heir_reason IN {HEIR_REASONS!r}")
        batch_op.create_check_constraint(
            'relationship_proof', f"relationship_proof IN {PROOF_STATES!r}"
        )


def downgrade():
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_requests_relationship_proof'), type_='check')
        batch_op.drop_constraint(op.f('ck_requests_heir_reason'), type_='check')
        batch_op.drop_constraint(op.f('ck_requests_acts_as'), type_='check')
        batch_op.drop_column('relationship_proof')
        batch_op.drop_column('requester_encrypted')
        batch_op.drop_column('subject_died_on')
        batch_op.drop_column('heir_reason')
        batch_op.drop_column('acts_as')

"""plan outcome "refused": a request made for someone else the law does not let them make

Routing refuses, before reading any source, a right the relationship may not
exercise (an heir asking erasure), and gives nothing to the relatives of a
person who refused it while alive (CSP L.1110-4 V). The plan records it with
the ground as its first review reason.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-04 00:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0015'
branch_labels = None
depends_on = None

BEFORE = ("matched", "no_data", "identity_review")
AFTER = (*BEFORE, "refused")


def upgrade():
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_plans_outcome'), type_='check')
        batch_op.create_check_constraint('outcome', f"outcome IN {AFTER!r}")


def downgrade():
    op.execute("DELETE FROM plan_lines WHERE plan_id IN (SELECT id FROM plans WHERE outcome = 'refused')")
    op.execute("DELETE FROM plans WHERE outcome = 'refused'")
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_plans_outcome'), type_='check')
        batch_op.create_check_constraint('outcome', f"outcome IN {BEFORE!r}")

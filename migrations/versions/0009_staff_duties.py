"""staff duties: one account per mailbox, who created whom, a DPO role awaiting confirmation

``email_key`` is the mailbox an address reaches (case folded, ``+tag`` dropped,
domain in IDNA form, as ``app.staffing.mailbox`` computes it); its unique
index refuses a second account for one person. ``created_by_id`` names the
administrator who created an account (NULL: the server's command line).
``pending_role`` holds the DPO role an administrator gave until another DPO
confirms it; ``role`` becomes nullable for an account created that way, which
holds no role until then.

Existing rows get their key here. If two accounts already reach one mailbox
the upgrade stops and names them: disable and rename one (it keeps its audit
trail) before upgrading again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ROLES = "('agent', 'dpo', 'admin')"


def _key(email):
    # A copy of app.staffing.mailbox.mailbox_key as it was at this revision:
    # a migration never changes with the code.
    local, _, domain = email.strip().rpartition("@")
    local = local.split("+", 1)[0].casefold()
    return f"{local}@{domain.rstrip('.').encode('idna').decode('ascii').lower()}"


def upgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('pending_role', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('pending_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.alter_column('role', existing_type=sa.String(length=10), nullable=True)

    connection = op.get_bind()
    staff = sa.table('staff_users', sa.column('id', sa.Integer), sa.column('email', sa.String),
                     sa.column('email_key', sa.String))
    seen = {}
    for staff_id, email in connection.execute(sa.select(staff.c.id, staff.c.email)).all():
        key = _key(email)
        if key in seen:
            raise RuntimeError(
                f"staff accounts {seen[key]} and {staff_id} reach the same mailbox: one person, "
                "one account. Disable one and change its address, then upgrade again."
            )
        seen[key] = staff_id
        connection.execute(staff.update().where(staff.c.id == staff_id).values(email_key=key))

    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.alter_column('email_key', existing_type=sa.String(length=254), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_staff_users_email_key'), ['email_key'])
        batch_op.create_check_constraint(batch_op.f('ck_staff_users_pending_role'), f"pending_role IN {ROLES}")
        batch_op.create_foreign_key(
            batch_op.f('fk_staff_users_pending_by_id_staff_users'), 'staff_users',
            ['pending_by_id'], ['id'],
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_staff_users_created_by_id_staff_users'), 'staff_users',
            ['created_by_id'], ['id'],
        )


def downgrade():
    # An account still waiting for its first role cannot go back to a NOT NULL role.
    op.execute("UPDATE staff_users SET role = 'agent', is_active = false WHERE role IS NULL")
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_staff_users_created_by_id_staff_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_staff_users_pending_by_id_staff_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_staff_users_pending_role'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_staff_users_email_key'), type_='unique')
        batch_op.alter_column('role', existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('pending_since')
        batch_op.drop_column('pending_by_id')
        batch_op.drop_column('pending_role')
        batch_op.drop_column('email_key')

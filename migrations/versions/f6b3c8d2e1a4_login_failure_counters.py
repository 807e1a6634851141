"""login throttling: failed-login counters per client address and globally, shared by every worker

Revision ID: f6b3c8d2e1a4
Revises: d4e8a1b7c2f9
Create Date: 2026-12-03 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import riskmgr.persistence.models

# revision identifiers, used by Alembic.
revision = 'f6b3c8d2e1a4'
down_revision = 'd4e8a1b7c2f9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_failure',
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('next_allowed_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('slot_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_failure')),
    )
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_last_failure_at'), ['last_failure_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failure_last_failure_at'))
    op.drop_table('login_failure')

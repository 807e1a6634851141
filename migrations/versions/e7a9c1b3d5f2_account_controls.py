"""account controls: per-account "pause new entries" and the auto-trading switch

Revision ID: e7a9c1b3d5f2
Revises: 4495f918143d
Create Date: 2026-12-03 00:00:00

"""
from alembic import op
import sqlalchemy as sa

import riskmgr.persistence.models


# revision identifiers, used by Alembic.
revision = 'e7a9c1b3d5f2'
down_revision = '4495f918143d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_control',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('entries_paused', sa.Boolean(), nullable=False),
        sa.Column('entries_reason', sa.Text(), nullable=True),
        sa.Column('entries_changed_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('entries_changed_by', sa.String(length=64), nullable=True),
        sa.Column('auto_trading', sa.Boolean(), nullable=True),
        sa.Column('auto_reason', sa.Text(), nullable=True),
        sa.Column('auto_changed_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('auto_changed_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('account', name=op.f('pk_account_control')),
    )


def downgrade():
    op.drop_table('account_control')

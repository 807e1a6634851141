"""alert state shared by every process: de-duplication and rate-limit rows, stale-account episodes

Revision ID: c5f7a9e1b3d2
Revises: b8d2f4a6c1e3
Create Date: 2026-12-03 00:40:00

"""
from alembic import op
import sqlalchemy as sa

import riskmgr.persistence.models


# revision identifiers, used by Alembic.
revision = 'c5f7a9e1b3d2'
down_revision = 'b8d2f4a6c1e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alert_gate',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('sent_at', riskmgr.persistence.models.UTCDateTime(), nullable=True),
        sa.Column('held', sa.Integer(), nullable=False),
        sa.Column('recent', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'stale_episode',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('since', riskmgr.persistence.models.UTCDateTime(), nullable=False),
        sa.Column('alerted', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('account'),
    )


def downgrade():
    op.drop_table('stale_episode')
    op.drop_table('alert_gate')

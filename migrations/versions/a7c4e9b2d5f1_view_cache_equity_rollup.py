"""view cache (the dashboard's view built once per poll, one row) and equity roll-ups (1 min / 15 min / 1 h)

The roll-ups are filled from the equity points already recorded, so long chart windows show the history
from before the upgrade too.

Revision ID: a7c4e9b2d5f1
Revises: f6b3c8d2e1a4
Create Date: 2026-12-03 12:00:00

"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa

import riskmgr.persistence.models


# revision identifiers, used by Alembic.
revision = 'a7c4e9b2d5f1'
down_revision = 'f6b3c8d2e1a4'
branch_labels = None
depends_on = None

WIDTHS = (60, 900, 3600)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def upgrade():
    op.create_table(
        'view_cache',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('stamp', sa.String(length=80), nullable=False),
        sa.Column('version', sa.String(length=40), nullable=False),
        sa.Column('built_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_view_cache')),
    )
    rollup = op.create_table(
        'equity_rollup',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('width_s', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('bucket', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ts', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('equity', sa.Numeric(precision=28, scale=10), nullable=False),
        sa.PrimaryKeyConstraint('account', 'width_s', 'bucket', name=op.f('pk_equity_rollup')),
    )
    _backfill(rollup)


def _backfill(rollup):
    """Fill the roll-ups from the recorded points: the last reading of each bucket (points read in time order)."""
    points = sa.table('equity_point', sa.column('account', sa.String), sa.column('ts', riskmgr.persistence.models.UTCDateTime()),
                      sa.column('equity', sa.Numeric(28, 10)))
    last = {}
    result = op.get_bind().execute(sa.select(points.c.account, points.c.ts, points.c.equity)
                                   .order_by(points.c.account, points.c.ts))
    for account, ts, equity in result:
        seconds = int((ts - EPOCH).total_seconds())
        for width in WIDTHS:
            last[(account, width, EPOCH + timedelta(seconds=seconds - seconds % width))] = (ts, equity)
    rows = [{'account': a, 'width_s': w, 'bucket': b, 'ts': ts, 'equity': eq} for (a, w, b), (ts, eq) in last.items()]
    for start in range(0, len(rows), 5000):
        op.bulk_insert(rollup, rows[start:start + 5000])


def downgrade():
    op.drop_table('equity_rollup')
    op.drop_table('view_cache')

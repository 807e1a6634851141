"""the trading-state row exists from the start (ACTIVE), so no first request has to insert it

Revision ID: c3f1a9d27e45
Revises: ab8a596d079a
Create Date: 2026-11-28 12:00:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import riskmgr.persistence.models

# revision identifiers, used by Alembic.
revision = 'c3f1a9d27e45'
down_revision = 'ab8a596d079a'
branch_labels = None
depends_on = None

_TRADING_STATE = sa.table(
    'trading_state',
    sa.column('id', sa.Integer()),
    sa.column('state', sa.String(length=16)),
    sa.column('reason', sa.Text()),
    sa.column('changed_at', riskmgr.persistence.models.UTCDateTime(timezone=True)),
    sa.column('changed_by', sa.String(length=64)),
)


def upgrade():
    bind = op.get_bind()
    # a database used before this revision may already hold the row (created on first use): keep its state
    if bind.execute(sa.select(_TRADING_STATE.c.id).where(_TRADING_STATE.c.id == 1)).first() is None:
        bind.execute(sa.insert(_TRADING_STATE).values(
            id=1, state='ACTIVE', reason='initial state', changed_at=datetime.now(UTC), changed_by='system',
        ))


def downgrade():
    # the row is data, not schema: the table it lives in is dropped by the revision before, so leave it
    pass

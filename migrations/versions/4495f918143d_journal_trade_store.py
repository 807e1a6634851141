"""journal trade store: the journal's copy of live venues' closed trades (outlives the venues' history windows)

Revision ID: 4495f918143d
Revises: d1e3f5a7b9c2
Create Date: 2026-12-02 23:07:34.151041

"""
from alembic import op
import sqlalchemy as sa
import riskmgr.persistence.models


# revision identifiers, used by Alembic.
revision = '4495f918143d'
down_revision = 'd1e3f5a7b9c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('journal_trade',
    sa.Column('id', sa.String(length=160), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('exchange', sa.String(length=32), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=True),
    sa.Column('side', sa.String(length=8), nullable=True),
    sa.Column('closed_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('realized_pnl', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('opened_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('entry_price', sa.Numeric(precision=28, scale=10), nullable=True),
    sa.Column('exit_price', sa.Numeric(precision=28, scale=10), nullable=True),
    sa.Column('qty', sa.Numeric(precision=28, scale=10), nullable=True),
    sa.Column('trading_fees', sa.Numeric(precision=28, scale=10), nullable=True),
    sa.Column('venue_id', sa.String(length=96), nullable=True),
    sa.Column('first_seen_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_trade'))
    )
    with op.batch_alter_table('journal_trade', schema=None) as batch_op:
        batch_op.create_index('ix_journal_trade_account_closed', ['account', 'closed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('journal_trade', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_trade_account_closed')

    op.drop_table('journal_trade')

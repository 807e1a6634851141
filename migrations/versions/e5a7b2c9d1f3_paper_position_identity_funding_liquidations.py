"""paper positions get an identity never reused and carry funding; paper funding and liquidation records

Revision ID: e5a7b2c9d1f3
Revises: c3f1a9d27e45
Create Date: 2026-11-22 10:00:00

"""
import uuid

import sqlalchemy as sa
from alembic import op

import riskmgr.persistence.models

# revision identifiers, used by Alembic.
revision = 'e5a7b2c9d1f3'
down_revision = 'c3f1a9d27e45'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('paper_position', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('funding', sa.Numeric(precision=28, scale=10), nullable=True))
    # positions open now get a fresh identity each (their row ids may already have been used by a closed one)
    connection = op.get_bind()
    position = sa.table('paper_position', sa.column('id', sa.Integer()), sa.column('uid', sa.String(32)),
                        sa.column('funding', sa.Numeric(28, 10)))
    for (row_id,) in connection.execute(sa.select(position.c.id)).all():
        connection.execute(sa.update(position).where(position.c.id == row_id)
                           .values(uid=uuid.uuid4().hex, funding=0))
    with op.batch_alter_table('paper_position', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('funding', existing_type=sa.Numeric(precision=28, scale=10), nullable=False)
        batch_op.create_unique_constraint('uq_paper_position_uid', ['uid'])

    op.create_table('paper_funding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ts', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('position_uid', sa.String(length=32), nullable=False),
    sa.Column('qty', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('price', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('rate', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('amount', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['paper_account.id'],
                            name=op.f('fk_paper_funding_account_id_paper_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_funding'))
    )
    with op.batch_alter_table('paper_funding', schema=None) as batch_op:
        batch_op.create_index('ix_paper_funding_account_ts', ['account_id', 'ts'], unique=False)

    op.create_table('paper_liquidation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ts', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('symbol', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('position_uid', sa.String(length=32), nullable=False),
    sa.Column('margin_mode', sa.String(length=16), nullable=False),
    sa.Column('qty', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('price', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('realized_pnl', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('fee', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('net_pnl', sa.Numeric(precision=28, scale=10), nullable=False),
    sa.Column('announced_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['paper_account.id'],
                            name=op.f('fk_paper_liquidation_account_id_paper_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_liquidation'))
    )
    with op.batch_alter_table('paper_liquidation', schema=None) as batch_op:
        batch_op.create_index('ix_paper_liquidation_announced', ['announced_at'], unique=False)


def downgrade():
    with op.batch_alter_table('paper_liquidation', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_liquidation_announced')
    op.drop_table('paper_liquidation')
    with op.batch_alter_table('paper_funding', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_funding_account_ts')
    op.drop_table('paper_funding')
    with op.batch_alter_table('paper_position', schema=None) as batch_op:
        batch_op.drop_constraint('uq_paper_position_uid', type_='unique')
        batch_op.drop_column('funding')
        batch_op.drop_column('uid')

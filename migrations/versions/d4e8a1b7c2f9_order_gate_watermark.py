"""order gate: per-account sequence number (the in-flight watermark) and each new-risk intent's number

Revision ID: d4e8a1b7c2f9
Revises: c3d9e2f1a7b4
Create Date: 2026-12-02 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e8a1b7c2f9'
down_revision = 'c3d9e2f1a7b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_gate',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('account', name=op.f('pk_account_gate')),
    )
    with op.batch_alter_table('order_intent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gate_seq', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('order_intent', schema=None) as batch_op:
        batch_op.drop_column('gate_seq')
    op.drop_table('account_gate')

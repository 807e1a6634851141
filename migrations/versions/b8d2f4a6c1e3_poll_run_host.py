"""poll runs record the host of the process that ran them (the elected scheduler's machine)

Revision ID: b8d2f4a6c1e3
Revises: a7c4e9b2d5f1
Create Date: 2026-12-03 00:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d2f4a6c1e3'
down_revision = 'a7c4e9b2d5f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('poll_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('poll_run', schema=None) as batch_op:
        batch_op.drop_column('host')

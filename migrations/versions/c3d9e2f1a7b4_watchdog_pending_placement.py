"""watchdog: remember an accepted stop the venue does not list yet (pending placement)

Revision ID: c3d9e2f1a7b4
Revises: e5a7b2c9d1f3
Create Date: 2026-12-02 17:45:00

"""
from alembic import op
import sqlalchemy as sa
import riskmgr.persistence.models


# revision identifiers, used by Alembic.
revision = 'c3d9e2f1a7b4'
down_revision = 'e5a7b2c9d1f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('watchdog_position', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_client_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pending_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pending_levels', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('resends', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('watchdog_position', schema=None) as batch_op:
        batch_op.drop_column('resends')
        batch_op.drop_column('pending_levels')
        batch_op.drop_column('pending_at')
        batch_op.drop_column('pending_client_id')

"""signal status time: when a signal's status last changed (so the Signals page can say "as of")

Rows recorded before this revision keep NULL: the time was not recorded, and none is made up.

Revision ID: b8d2f4a6c1e3
Revises: a7c4e9b2d5f1
Create Date: 2026-12-03 00:00:00

"""
from alembic import op
import sqlalchemy as sa

import riskmgr.models


# revision identifiers, used by Alembic.
revision = 'b8d2f4a6c1e3'
down_revision = 'a7c4e9b2d5f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('signal_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_at', riskmgr.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('signal_record', schema=None) as batch_op:
        batch_op.drop_column('status_at')

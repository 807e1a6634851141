"""signal status time: when a signal's status last changed (so the Signals page can say "as of")

Rows recorded before this revision keep NULL: the time was not recorded, and none is made up.

Revision ID: d1e3f5a7b9c2
Revises: c5f7a9e1b3d2
Create Date: 2026-12-03 00:00:00

"""
from alembic import op
import sqlalchemy as sa

import riskmgr.persistence.models


# revision identifiers, used by Alembic.
revision = 'd1e3f5a7b9c2'
down_revision = 'c5f7a9e1b3d2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('signal_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_at', riskmgr.persistence.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('signal_record', schema=None) as batch_op:
        batch_op.drop_column('status_at')

"""lean ledger indexes: partial where only a few operations qualify, none unused

``sync_op`` gets a row for every operation ever received, so each index on it is
paid on every operation. Waiting operations are looked up by what they wait for,
and only upserts are read back (by entity) to find conflicts: partial indexes
cover just those rows. Nothing looks operations up by batch id (a batch is a
sequence range of one device, which the primary key covers).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'waiting'")
UPSERTS = sa.text("type = 'upsert'")


def upgrade() -> None:
    op.drop_index("ix_sync_op_batch", table_name="sync_op")
    op.drop_index("ix_sync_op_waiting", table_name="sync_op")
    op.drop_index("ix_sync_op_entity", table_name="sync_op")
    op.create_index("ix_sync_op_waiting", "sync_op", ["waiting_on"],
                    sqlite_where=WAITING, postgresql_where=WAITING)
    op.create_index("ix_sync_op_entity", "sync_op", ["entity_id"],
                    sqlite_where=UPSERTS, postgresql_where=UPSERTS)


def downgrade() -> None:
    op.drop_index("ix_sync_op_entity", table_name="sync_op")
    op.drop_index("ix_sync_op_waiting", table_name="sync_op")
    op.create_index("ix_sync_op_entity", "sync_op", ["entity_id"])
    op.create_index("ix_sync_op_waiting", "sync_op", ["waiting_on", "status"])
    op.create_index("ix_sync_op_batch", "sync_op", ["batch_id"])

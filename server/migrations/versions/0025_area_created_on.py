"""org_unit.created_on: the day (Vietnam) a village or area was added locally

Revision ID: 0025
Revises: 0024

A new collaborator area is expected to send its P0 slip from the month it was added
(or its first data, if earlier: a paper register imported), not from before it
existed. Units already there keep NULL: expected as before, from their first data
or, holding none, always.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("org_unit") as batch:
        batch.add_column(sa.Column("created_on", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("org_unit") as batch:
        batch.drop_column("created_on")

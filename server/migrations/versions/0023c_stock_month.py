"""stock_month: each stock holder's stored month per method (issue 17)

Revision ID: 0023c
Revises: 0022b

What the work after a batch carries on from (closing, hand-outs and issues, stock in
transit, the month's first day below zero), so it reads only the movements from the
first month a batch touched instead of a holder's whole ledger. Empty at first: a
holder without stored months is computed from all its movements once (and stored);
a full roll-up recompute fills it for everyone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023c"
down_revision = "0022b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_month",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("holder", sa.String(32), primary_key=True),
        sa.Column("method", sa.String(32), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("closing", sa.BigInteger(), nullable=False),
        sa.Column("distributed", sa.BigInteger(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("in_transit", sa.BigInteger(), nullable=False),
        sa.Column("negative_day", sa.String(10), nullable=True),
        sa.Column("negative_balance", sa.BigInteger(), nullable=True),
        sa.Column("negative_movement", sa.String(80), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("stock_month")

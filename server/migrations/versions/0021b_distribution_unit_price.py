"""the price of a distribution sold or socially marketed

Revision ID: 0021b
Revises: 0021

distribution.unit_price: what the recipient paid per piece, cycle or dose (VND)
when the source is social marketing or sold (distribution form v3, issue 17);
empty for free hand-outs and for records of form versions 1 and 2.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021b"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("distribution") as batch_op:
        batch_op.add_column(sa.Column("unit_price", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("distribution") as batch_op:
        batch_op.drop_column("unit_price")

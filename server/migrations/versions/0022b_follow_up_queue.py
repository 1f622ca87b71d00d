"""follow_up: the durable queue of work that follows a batch

Revision ID: 0022b
Revises: 0022

Roll-ups and duplicate detection no longer run inside a batch's transaction,
holding its locks while every other device of the province waits (issue 19). A
batch queues what they must look at in this table, in its own transaction, and
the server does it after the commit (``server.sync.followups``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0022b"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_up",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
    )
    with op.batch_alter_table("follow_up") as batch_op:
        batch_op.create_index("ix_follow_up_kind", ["kind", "id"])


def downgrade() -> None:
    op.drop_table("follow_up")

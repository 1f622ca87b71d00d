"""monthly P0 slips; the source of a distribution

Revision ID: 0018
Revises: 0017

p0_report: the monthly change slip a collaborator closes (issue 12), one row per
slip sent, with its section counts; distribution.source: free, social marketing
or sold (distribution form v2; empty for v1 records); an index of an area's
batches by time, which the roll-ups read. Household membership is
dated from now on (member.household_id is folded from household_change events);
no such event exists before this revision, so the column needs no backfill.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "p0_report",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_on", sa.String(length=10), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("hlc", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_p0_report")),
    )
    with op.batch_alter_table("p0_report") as batch_op:
        batch_op.create_index("ix_p0_report_area_month", ["area_code", "month"])
        batch_op.create_index("ix_p0_report_commune_month", ["commune_code", "month"])
        batch_op.create_index("ix_p0_report_province_seq", ["province_code", "seq"])
    with op.batch_alter_table("distribution") as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True))
    with op.batch_alter_table("sync_batch") as batch_op:
        batch_op.create_index("ix_sync_batch_area", ["area_code", "received_at"])


def downgrade() -> None:
    with op.batch_alter_table("sync_batch") as batch_op:
        batch_op.drop_index("ix_sync_batch_area")
    with op.batch_alter_table("distribution") as batch_op:
        batch_op.drop_column("source")
    op.drop_table("p0_report")

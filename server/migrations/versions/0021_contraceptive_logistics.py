"""contraceptive logistics (LMIS): stock movements and the station's alerts

Revision ID: 0021
Revises: 0018

stock_movement: every record of the stock_* forms (receipts, transfers from the
commune health station to a collaborator and their confirmations, returns,
losses, counts, hand-outs at the station), written through the sync ingestion
like the register and numbered by the province's change sequence; stock_flag:
balances that went below zero and transfers confirmed with another quantity, for
the station's review (issue 17). New tables only: nothing to carry over.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stock_movement",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("form", sa.String(length=32), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("lot", sa.String(length=40), nullable=True),
        sa.Column("expiry", sa.String(length=10), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=True),
        sa.Column("unit_price", sa.BigInteger(), nullable=True),
        sa.Column("target_id", sa.String(length=36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("hlc", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movement")),
    )
    with op.batch_alter_table("stock_movement") as batch_op:
        batch_op.create_index("ix_stock_movement_area_seq", ["area_code", "seq"])
        batch_op.create_index("ix_stock_movement_commune_day", ["commune_code", "day"])
        batch_op.create_index("ix_stock_movement_province_seq", ["province_code", "seq"])
        batch_op.create_index("ix_stock_movement_target", ["target_id"])
    op.create_table(
        "stock_flag",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("commune_code", sa.String(length=8), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("movement_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", TIME, nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_flag")),
    )
    with op.batch_alter_table("stock_flag") as batch_op:
        batch_op.create_index("ix_stock_flag_commune_status",
                              ["commune_code", "status", "opened_at"])
        batch_op.create_index("ix_stock_flag_holder",
                              ["commune_code", "area_code", "method", "code", "status"])


def downgrade() -> None:
    op.drop_table("stock_flag")
    op.drop_table("stock_movement")

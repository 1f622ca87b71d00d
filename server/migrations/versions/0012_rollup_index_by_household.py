"""roll-up covering index ordered by area, then household

Revision ID: 0012
Revises: 0011

``ix_member_rollup`` covers the roll-up scans of ``member``
(server/rollups/compute.py). With ``household_id`` right after ``area_code``, the
count of persons per household follows the index order, so neither database
sorts a million rows to group them; the area prefix still serves the per-area
(incremental) scans.
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD = ["area_code", "birth_date", "sex", "residence_status", "marital_status",
       "current_method", "registered_on", "recorded_on", "household_id", "deleted",
       "merged_into", "id"]
NEW = ["area_code", "household_id", "birth_date", "sex", "residence_status",
       "marital_status", "current_method", "registered_on", "recorded_on", "deleted",
       "merged_into", "id"]


def upgrade() -> None:
    op.drop_index("ix_member_rollup", table_name="member")
    op.create_index("ix_member_rollup", "member", NEW)


def downgrade() -> None:
    op.drop_index("ix_member_rollup", table_name="member")
    op.create_index("ix_member_rollup", "member", OLD)

"""roll-up covering index ordered by area, then household

Revision ID: 0012
Revises: 0011

``ix_member_rollup`` covers the roll-up scans of ``member``
(server/rollups/compute.py). With ``household_id`` right after ``area_code``, the
count of persons per household follows the index order, so neither database
sorts a million rows to group them; the area prefix still serves the per-area
(incremental) scans.

This migration was 0008 until 2026-12-01, when the lean ledger indexes took that
number. A database upgraded before then is stamped 0008 without ever having run
them, so they are run here when their work is missing (``ix_sync_op_batch`` still
there).
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
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
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("sync_op")}
    if "ix_sync_op_batch" in indexes:
        _lean_ledger().upgrade()
    op.drop_index("ix_member_rollup", table_name="member")
    op.create_index("ix_member_rollup", "member", NEW)


def downgrade() -> None:
    op.drop_index("ix_member_rollup", table_name="member")
    op.create_index("ix_member_rollup", "member", OLD)


def _lean_ledger():
    path = Path(__file__).with_name("0008_lean_ledger_indexes.py")
    spec = importlib.util.spec_from_file_location("a0sync_migration_0008", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""the 2025 reform: lineage of communes, migrations of local units, groups of communes

Revision ID: 0015
Revises: 0013

``org_lineage`` holds the official conversion table (old commune → new communes);
``org_migration`` and ``org_unit_move`` record each move of villages and areas so it
can be undone; ``migration_choice`` keeps choices made on the dashboard for split
communes; ``org_group`` is a former district as a set of new communes, and
``user_account`` gains the group of province staff limited to one and the scope an
account had before a migration moved it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("old_tree", sa.String(length=32), nullable=False),
        sa.Column("old_code", sa.String(length=32), nullable=False),
        sa.Column("new_tree", sa.String(length=32), nullable=False),
        sa.Column("new_code", sa.String(length=32), nullable=False),
        sa.Column("partly", sa.Boolean(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("effective_date", sa.String(length=10), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_lineage")),
        sa.UniqueConstraint("old_tree", "old_code", "new_tree", "new_code",
                            name=op.f("uq_org_lineage_old_tree_old_code_new_tree_new_code")),
    )
    op.create_index("ix_org_lineage_new", "org_lineage", ["new_tree", "new_code"])

    op.create_table(
        "org_migration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_tree", sa.String(length=32), nullable=True),
        sa.Column("to_tree", sa.String(length=32), nullable=False),
        sa.Column("previous_current", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("applied_by", sa.String(length=80), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_by", sa.String(length=80), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("users", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_migration")),
    )

    op.create_table(
        "org_unit_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("migration_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("village_code", sa.String(length=32), nullable=True),
        sa.Column("old_tree", sa.String(length=32), nullable=True),
        sa.Column("old_parent_id", sa.Integer(), nullable=True),
        sa.Column("old_path", sa.String(length=200), nullable=True),
        sa.Column("old_depth", sa.Integer(), nullable=True),
        sa.Column("old_province_code", sa.String(length=8), nullable=False),
        sa.Column("old_district_code", sa.String(length=8), nullable=True),
        sa.Column("old_commune_code", sa.String(length=8), nullable=False),
        sa.Column("new_parent_id", sa.Integer(), nullable=True),
        sa.Column("new_province_code", sa.String(length=8), nullable=False),
        sa.Column("new_commune_code", sa.String(length=8), nullable=False),
        sa.Column("seq_offset", sa.BigInteger(), nullable=False),
        sa.Column("undo_seq_offset", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["migration_id"], ["org_migration.id"],
                                name=op.f("fk_org_unit_move_migration_id_org_migration")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_unit_move")),
    )
    op.create_index("ix_org_unit_move_migration", "org_unit_move",
                    ["migration_id", "level", "code"])
    op.create_index("ix_org_unit_move_code", "org_unit_move", ["code"])

    op.create_table(
        "migration_choice",
        sa.Column("to_tree", sa.String(length=32), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("new_commune", sa.String(length=8), nullable=False),
        sa.Column("chosen_by", sa.String(length=80), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("to_tree", "unit_code", name=op.f("pk_migration_choice")),
    )

    op.create_table(
        "org_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=False),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("migration_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["migration_id"], ["org_migration.id"],
                                name=op.f("fk_org_group_migration_id_org_migration")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_group")),
        sa.UniqueConstraint("tree", "kind", "code", name=op.f("uq_org_group_tree_kind_code")),
    )

    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("former_scope", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(op.f("fk_user_account_group_id_org_group"), "org_group",
                                    ["group_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_constraint(op.f("fk_user_account_group_id_org_group"), type_="foreignkey")
        batch_op.drop_column("former_scope")
        batch_op.drop_column("group_id")
    op.drop_table("org_group")
    op.drop_table("migration_choice")
    op.drop_index("ix_org_unit_move_code", table_name="org_unit_move")
    op.drop_index("ix_org_unit_move_migration", table_name="org_unit_move")
    op.drop_table("org_unit_move")
    op.drop_table("org_migration")
    op.drop_index("ix_org_lineage_new", table_name="org_lineage")
    op.drop_table("org_lineage")

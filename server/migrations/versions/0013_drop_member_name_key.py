"""member.name_key goes: nothing reads it since the blocking keys (0009)

Revision ID: 0013
Revises: 0012

Duplicate detection looks members up by ``block_initials`` and ``block_pair``;
the folded, sorted name was computed on every member write for no reader.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch_op:
        batch_op.drop_column("name_key")


def downgrade() -> None:
    # folding a name needs Python: the column comes back empty, not as it was
    with op.batch_alter_table("member") as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=100), nullable=False,
                                      server_default=""))

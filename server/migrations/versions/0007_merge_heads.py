"""merge the roll-up, duplicates, web-account and API-token branches

Revision ID: 0007
Revises: 0003, 0004, 0005, 0006
"""

revision = "0007"
down_revision = ("0003", "0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""a0_assert: a check that fails inside PostgreSQL, for a batch's last round trip (issue 19)

Revision ID: 0024
Revises: 0023c

A batch's last step on PostgreSQL takes its province's change numbers, whose row lock
is held to the commit. Checked in Python, each check was a round trip, and the lock
was held while the worker woke up to read the answer. With the checks as statements
that fail in the database (``a0_assert``: SQLSTATE ``A0001``, the message says which),
the numbers, the checks and the COMMIT go in one round trip, and the lock is held by
the database alone. Nothing on SQLite, whose batches hold the write lock throughout.
"""

from alembic import op

revision = "0024"
down_revision = "0023c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION a0_assert(ok boolean, what text) RETURNS boolean
        LANGUAGE plpgsql AS $$
        BEGIN
            IF ok IS NOT TRUE THEN
                RAISE EXCEPTION USING ERRCODE = 'A0001', MESSAGE = what;
            END IF;
            RETURN true;
        END $$""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS a0_assert(boolean, text)")

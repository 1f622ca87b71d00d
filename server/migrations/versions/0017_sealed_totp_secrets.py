"""TOTP secrets are sealed under a key kept outside the database

Revision ID: 0017
Revises: 0016

``user_account.totp_secret`` held the base32 secret in clear; it now holds
``v1.<AES-GCM>`` sealed under the TOTP key of the instance folder (or
``A0SYNC_TOTP_KEY``), bound to the user's id (server/security/at_rest.py). The
column grows to fit, and every clear secret is sealed here; the downgrade opens
them again.
"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from server.security.at_rest import SEALED_PREFIX, SecretBox

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

USERS = sa.table("user_account", sa.column("id", sa.Integer),
                 sa.column("totp_secret", sa.String))


def _rewrite(change) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(USERS.c.id, USERS.c.totp_secret)
                        .where(USERS.c.totp_secret.is_not(None))).all()
    for user_id, secret in rows:
        new = change(secret, user_id)
        if new != secret:
            bind.execute(USERS.update().where(USERS.c.id == user_id).values(totp_secret=new))


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=64),
                              type_=sa.String(length=255), existing_nullable=True)
    box = SecretBox(current_app.config["A0SYNC_TOTP_KEY"])
    _rewrite(lambda secret, user_id: secret if secret.startswith(SEALED_PREFIX)
             else box.seal(secret, user_id))


def downgrade() -> None:
    box = SecretBox(current_app.config["A0SYNC_TOTP_KEY"])
    _rewrite(lambda secret, user_id: box.open(secret, user_id)
             if secret.startswith(SEALED_PREFIX) else secret)
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=255),
                              type_=sa.String(length=64), existing_nullable=True)

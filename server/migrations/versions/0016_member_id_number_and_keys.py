"""member: personal identification number, sound and date blocking keys, card key

Revision ID: 0016
Revises: 0015

Issue 14: duplicate detection looks candidates up by two more name-independent
keys (``block_sound``: the name by sound, spaces gone; ``block_date``: the full
date of birth) and by two numbers (``id_number``: the personal identification
number of member form v2, or a card that carries it; ``block_card``: the
social-insurance number of a health-insurance card, old or new). The card index
replaces ``ix_member_bhyt`` (an old 15-character card and its 10-digit number are
one card). Every member's keys are computed again from its columns, the two older
ones included (names now lose apostrophes and dots before keys are made).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

NEW = {"block_sound": 120, "block_date": 120, "id_number": 12, "block_card": 10}
KEYS = ("block_initials", "block_pair", *NEW)
CHUNK = 5_000


def upgrade() -> None:
    with op.batch_alter_table("member") as batch_op:
        for name, width in NEW.items():
            batch_op.add_column(sa.Column(name, sa.String(length=width), nullable=True))
        batch_op.drop_index("ix_member_bhyt")
    _fill_keys()
    with op.batch_alter_table("member") as batch_op:
        for name in NEW:
            batch_op.create_index(f"ix_member_{name}", [name, "commune_code", "id"])


def _fill_keys() -> None:
    """Every member's keys from its columns (and the number from its data), a chunk of
    rows at a time (keyset by id)."""
    from server.sync.duplicates.scoring import block_columns

    member = sa.table("member", sa.column("id", sa.String), sa.column("data", sa.JSON),
                      sa.column("full_name", sa.String), sa.column("sex", sa.String),
                      sa.column("birth_date", sa.String), sa.column("bhyt_number", sa.String),
                      *(sa.column(k, sa.String) for k in KEYS))
    update = (sa.update(member).where(member.c.id == sa.bindparam("member_id"))
              .values({k: sa.bindparam(f"new_{k}") for k in KEYS}))
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(sa.select(member.c.id, member.c.full_name, member.c.sex,
                                      member.c.birth_date, member.c.bhyt_number, member.c.data)
                            .where(member.c.id > last).order_by(member.c.id).limit(CHUNK)).all()
        if not rows:
            return
        params = []
        for member_id, full_name, sex, birth_date, bhyt, data in rows:
            keys = block_columns(full_name or "", sex, birth_date or "",
                                 (data or {}).get("id_number"), bhyt)
            params.append({"member_id": member_id, **{f"new_{k}": keys[k] for k in KEYS}})
        conn.execute(update, params)
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("member") as batch_op:
        for name in NEW:
            batch_op.drop_index(f"ix_member_{name}")
            batch_op.drop_column(name)
        batch_op.create_index("ix_member_bhyt", ["bhyt_number"])

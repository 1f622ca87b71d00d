"""per-field clocks packed by stamp

Revision ID: 0022
Revises: 0021b

``household.clocks`` and ``member.clocks`` held ``{field: [hlc, device]}``, a
device id per field (545 of a member row's ~1,200 bytes). They now hold one group
per stamp, ``[[hlc, device, field, …], …]`` (``server.models.clocks``). Rows are
rewritten in key order, a few thousand per statement; the downgrade writes the
old form back. The wire protocol does not change.
"""

import orjson
import sqlalchemy as sa
from alembic import op

from server.models.clocks import pack, unpack

revision = "0022"
down_revision = "0021b"
branch_labels = None
depends_on = None

CHUNK = 5000


def _rewrite(table: str, convert) -> None:
    conn = op.get_bind()
    read = sa.text(f"SELECT id, clocks FROM {table} WHERE id > :after ORDER BY id LIMIT {CHUNK}")
    write = sa.text(f"UPDATE {table} SET clocks = :clocks WHERE id = :id")
    after = ""
    while True:
        rows = conn.execute(read, {"after": after}).all()
        if not rows:
            return
        changed = []
        for row_id, raw in rows:
            value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
            new = convert(value)
            if new != value:
                changed.append({"id": row_id, "clocks": orjson.dumps(new).decode()})
        if changed:
            conn.execute(write, changed)
        after = rows[-1][0]


def upgrade() -> None:
    for table in ("household", "member"):
        _rewrite(table, pack)


def downgrade() -> None:
    for table in ("household", "member"):
        _rewrite(table, unpack)

"""Reserve change-sequence numbers (see :class:`server.models.register.ChangeCounter`)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models.register import ChangeCounter


def allocate(session: Session, province_code: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers; return the first."""
    stmt = _upsert(session.get_bind().dialect.name)
    last = session.execute(stmt, {"province": province_code, "count": count}).scalar_one()
    return last - count + 1


@functools.cache
def _upsert(dialect: str) -> Any:
    """Add to the province's counter, creating it at the first use (built once: every
    batch runs it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    count, table = bindparam("count"), ChangeCounter.__table__  # Core: no ORM set-up per run
    stmt = insert(table).values(province_code=bindparam("province"), value=count)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.province_code],
        set_={"value": table.c.value + count},
    ).returning(table.c.value)

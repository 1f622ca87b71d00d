"""Reserve change-sequence numbers (see :class:`server.models.register.ChangeCounter`)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models.register import ChangeCounter


def allocate(session: Session, province_code: str, count: int) -> int:
    """Reserve ``count`` consecutive numbers; return the first."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ChangeCounter).values(province_code=province_code, value=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ChangeCounter.province_code],
        set_={"value": ChangeCounter.value + count},
    ).returning(ChangeCounter.value)
    last = session.execute(stmt).scalar_one()
    return last - count + 1

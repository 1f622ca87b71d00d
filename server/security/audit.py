"""The audit log: who did what to whose data (DESIGN §6). No Flask here.

Actors are named as :class:`~server.security.scope.Scope` names them:
``user:<username>``, ``device:<id>``, or a bare word for the system side
(``cli`` for the command line run on the server by its operator). The row
carries the province and commune codes of what was touched, so a commune's
officers can be shown their own log and the table can be partitioned later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from server.models.base import utcnow
from server.models.people import AuditLog


def actor_parts(actor: str) -> tuple[str, str]:
    """``"user:lan"`` → ``("user", "lan")``; ``"cli"`` → ``("system", "cli")``."""
    kind, sep, name = actor.partition(":")
    if sep and kind in ("user", "device"):
        return kind, name
    return "system", actor


def record(session: Session, actor: str, action: str, *, target: str | None = None,
           province_code: str | None = None, commune_code: str | None = None,
           details: dict[str, Any] | None = None, ip: str | None = None,
           row_count: int | None = None, at: dt.datetime | None = None) -> AuditLog:
    """Add one audit row to the caller's transaction (it commits or rolls back with it)."""
    actor_type, actor_id = actor_parts(actor)
    row = AuditLog(at=at or utcnow(), actor_type=actor_type, actor_id=actor_id[:80],
                   action=action, target=target, province_code=province_code,
                   commune_code=commune_code, details=details or {}, ip=ip,
                   row_count=row_count)
    session.add(row)
    return row

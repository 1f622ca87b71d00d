"""Named locks held until the transaction ends, narrow by design (issue 19).

On PostgreSQL each name is an advisory transaction lock (``pg_advisory_xact_lock``:
released by the commit or rollback, and by a connection that dies, so a crashed
process never leaves one behind), taken in name order so two holders of several
names cannot deadlock on them. SQLite has one writer at a time: a transaction
that will write takes the database's write lock as its first statement, which
covers every name.

Who takes what: a batch its device's area (two batches of one area run one after
the other; batches of other areas, in parallel: :mod:`server.sync.ingest`); the
roll-up drain its tree; duplicate detection the communes it scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.models.pipeline import defer_statement
from server.models.rollups import JobLock

_LOCK = select(func.pg_advisory_xact_lock(bindparam("key")))
# SQLite: a write that changes nothing (built once: every batch runs it)
_WRITE = update(JobLock.__table__).where(JobLock.__table__.c.name == "").values(holder=None)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"a0sync:{name}".encode()).digest()[:8], "big",
                          signed=True)


def hold(session: Session, *names: str) -> None:
    """Hold ``names`` until the transaction ends (SQLite: its write lock)."""
    if session.get_bind().dialect.name != "postgresql":
        take_write_lock(session)
        return
    for name in sorted(set(names)):  # sent with the next look-up if deferring
        if not defer_statement(session, _LOCK, {"key": lock_key(name)}):
            session.execute(_LOCK, {"key": lock_key(name)})


def take_write_lock(session: Session) -> None:
    """SQLite: take the database's write lock as the transaction's first statement, so
    what it reads next cannot change before it writes (a write that changes nothing).
    Nothing on PostgreSQL, where rows are locked as they are written."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(_WRITE)


T = TypeVar("T")
RETRY_STATES = frozenset({"40001", "40P01"})  # PostgreSQL: serialization failure, deadlock


def again_if_crossed(session: Session, work: Callable[[], T], attempts: int = 3) -> T:
    """Run ``work`` (one whole transaction: it commits) again after a rollback when
    PostgreSQL broke a deadlock or a serialization conflict by cancelling it.

    A batch writes its rows before it takes its province's counter; a review, a merge
    or a station's entry takes the counter first. One writing a person whom the other
    is writing at the same moment can deadlock; PostgreSQL cancels one of them within
    a second. A batch starts again by itself; these writers do it here, so the
    reviewer is not shown "server busy" for a crossing nobody could see."""
    for _ in range(attempts - 1):
        try:
            return work()
        except OperationalError as error:
            session.rollback()
            if getattr(error.orig, "sqlstate", None) not in RETRY_STATES:
                raise
    return work()

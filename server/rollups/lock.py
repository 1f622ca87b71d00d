"""Run a scheduled job once across every server process (DESIGN §5).

Each gunicorn worker runs its own APScheduler, so each fires the nightly job.
:func:`run_once` lets exactly one of them do the work:

1. a database lock: PostgreSQL ``pg_try_advisory_lock`` on a connection of its
   own (released on unlock or when the connection dies); on SQLite a row of
   ``job_lock`` taken with a conditional ``UPDATE`` that only succeeds when the
   row is free or its holder's lease has expired (a crashed holder);
2. under the lock, the job's *slot* (e.g. the date of the nightly run) is checked
   against the last slot done, so a worker that fires a moment after another
   finished does not run the same night again.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.models.base import utcnow
from server.models.rollups import JobLock
from server.sync.locks import lock_key

RAN, BUSY, DONE = "ran", "busy", "done"


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _ensure_row(conn: Any, name: str) -> None:
    insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert_(JobLock).values(name=name).on_conflict_do_nothing(
        index_elements=["name"]))


@contextmanager
def job_lock(engine: Engine, name: str, lease: dt.timedelta) -> Iterator[bool]:
    """Yield True when this process holds the lock ``name``, False when another does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = lock_key(name)
            got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(select(func.pg_advisory_unlock(key)))
                    conn.commit()
        return
    me, now = holder_id(), utcnow()
    with engine.begin() as conn:
        _ensure_row(conn, name)
        got = conn.execute(
            update(JobLock).where(JobLock.name == name,
                                  or_(JobLock.holder.is_(None), JobLock.expires_at < now))
            .values(holder=me, expires_at=now + lease)).rowcount == 1
    try:
        yield got
    finally:
        if got:
            with engine.begin() as conn:
                conn.execute(update(JobLock).where(JobLock.name == name, JobLock.holder == me)
                             .values(holder=None, expires_at=None))


def run_once(engine: Engine, session: Session, name: str, slot: str,
             job: Callable[[Session], Any],
             lease: dt.timedelta = dt.timedelta(hours=2)) -> str:
    """Run ``job`` unless another process holds the lock (BUSY) or did ``slot`` (DONE)."""
    with job_lock(engine, name, lease) as got:
        if not got:
            return BUSY
        with engine.begin() as conn:
            _ensure_row(conn, name)
            if conn.scalar(select(JobLock.last_slot).where(JobLock.name == name)) == slot:
                return DONE
        job(session)
        session.commit()
        with engine.begin() as conn:
            conn.execute(update(JobLock).where(JobLock.name == name)
                         .values(last_slot=slot, last_run_at=utcnow()))
        return RAN


def run_in_app(app: Any, name: str, job: Callable[[Session], Any], slot: str | None = None,
               ) -> str:
    """A scheduled job's body: :func:`run_once` for ``slot`` (default: today's UTC date)
    in the app's context, whichever process the scheduler fired it in."""
    from server.extensions import db

    slot = slot or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    with app.app_context():
        try:
            return run_once(db.engine, db.session, name, slot, job)
        finally:
            db.session.remove()

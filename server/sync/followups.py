"""Work that follows a batch, done after its commit (issue 19). No Flask.

Roll-ups and duplicate detection read a whole area's or commune's register and
write shared rows (a province's and the country's roll-up cells, a commune's
review queue). Run inside the batch, they held those locks, and the batch's,
while every other device waited. Now a batch only queues what they must look at
(:class:`~server.models.sync.FollowUp`, in its own transaction: the work is queued
exactly when the batch is there) and the server does it after the commit. So are
the refolds of persons an event changed (:mod:`server.sync.refold`), which drain
before the roll-ups (kinds drain in name order) and hand them their months again.
Modes:

* ``inline`` (the default: the command line, the demo, tests): right after the
  commit, in the committing thread, on a connection of its own;
* ``thread`` (``a0sync serve``): a thread of each server process, woken by a
  commit, waits until the process has committed no batch for
  ``A0SYNC_FOLLOWUP_DELAY_S`` (default 1 s), but never more than
  ``A0SYNC_FOLLOWUP_MAX_DELAY_S`` (default 15 s) after the first: while devices
  keep sending (a month start) the processor time goes to their batches, and one
  drain then covers them all (an area's roll-ups recomputed once, not once per
  batch). It looks at the queue every ``A0SYNC_FOLLOWUP_POLL_S`` (default 30 s)
  anyway: work a stopped process left is done by another, and the scheduler
  process drains it too.

Exactly once: a drain reads queued rows, does their work and deletes them in one
transaction, so a crash leaves them queued, and the work itself is idempotent
(an area's roll-ups are recomputed from the register, duplicate pairs re-scored).
Rows queued by a batch that commits while a drain is running are not deleted by
that drain, so they are done again later, after the batch. Several processes
drain at once (PostgreSQL ``FOR UPDATE SKIP LOCKED``; each kind's handler takes
the narrow lock its work needs). A row whose work fails is retried on its own
and set aside after :data:`MAX_ATTEMPTS`, with its error, for an administrator
(``a0sync followups``), instead of holding up the rows behind it. A database that
does not answer (down, restarting, its connections used up) is not the rows' failure:
they stay queued, no attempt counted, and the log says so once, not at every drain,
until a drain gets through again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from server.logs import error_line
from server.models.base import chunks, end_read, insert_rows, utcnow
from server.models.pipeline import defer_statement
from server.models.sync import FollowUp
from server.sync.locks import take_write_lock

log = logging.getLogger("a0sync.followups")

INLINE, THREAD = "inline", "thread"
MAX_ATTEMPTS = 5
DRAIN_ROWS = 500
_PENDING = "a0sync.followups"  # session.info: the queue a transaction added to
_GATHERED = "a0sync.followups.gathered"  # session.info: rows queued, not yet inserted
_QUEUE_ROW = insert(FollowUp.__table__)
_COLUMNS = ("kind", "province_code", "commune_code", "payload", "attempts", "created_at")


def queued_if(condition: Any) -> Any:
    """An insert of one queue row (its columns as parameters) that writes it only if
    ``condition`` (an EXISTS, built once, with parameters of its own) holds when it
    runs: for :meth:`FollowUps.enqueue`'s ``when``."""
    table = FollowUp.__table__
    return insert(table).from_select(_COLUMNS, select(
        *(bindparam(name, type_=table.c[name].type) for name in _COLUMNS)).where(condition))


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    province_code: str
    commune_code: str
    payload: dict[str, Any]


Handler = Callable[[Session, list[Queued]], None]


class FollowUps:
    """The queue's handlers by kind, and how this process drains it."""

    def __init__(self, mode: str = INLINE, delay_s: float = 1.0, poll_s: float = 30.0,
                 max_delay_s: float = 15.0) -> None:
        if mode not in (INLINE, THREAD):
            raise ValueError(f"A0SYNC_FOLLOWUPS must be {INLINE} or {THREAD}, not {mode!r}")
        self.mode, self.delay_s, self.poll_s = mode, delay_s, poll_s
        self.max_delay_s = max(max_delay_s, delay_s)
        self._last_commit = 0.0  # time.monotonic() of this process's last queuing commit
        self.handlers: dict[str, Handler] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._start = threading.Lock()
        self._down_since: float | None = None  # the database not answering the drains

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    # ------------------------------------------------------------------ queue

    def enqueue(self, session: Session, kind: str, payload: dict[str, Any], *,
                province_code: str, commune_code: str,
                when: tuple[Any, dict[str, Any]] | None = None) -> None:
        """Queue ``payload`` for ``kind``'s handler, in the caller's transaction (inside
        :func:`gathered`: with the other rows queued there, in one statement).

        ``when``: a :func:`queued_if` statement and its condition's parameters: the
        database decides, as it writes the row, whether there is work at all (PostgreSQL:
        sent after the batch's settle step, which its register rows wait for, not a
        round trip of its own to ask)."""
        row = {"kind": kind, "province_code": province_code, "commune_code": commune_code,
               "payload": payload, "attempts": 0}
        gathering = session.info.get(_GATHERED)
        if when is not None:
            stmt, params = when
            params = {**params, **row, "created_at": utcnow()}
            if not defer_statement(session, stmt, params, at_settle=True):
                session.execute(stmt, params)
        elif gathering is not None:
            gathering.append(row)
        else:
            session.connection().execute(_QUEUE_ROW, row)
        session.info[_PENDING] = self

    def committed(self, engine: Engine) -> None:
        """A transaction that queued work committed: do it now, or wake the thread."""
        if self.mode == INLINE:
            self.drain(engine)
            return
        self._engine = engine
        self._last_commit = time.monotonic()
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="a0sync-followups",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """End the thread (after its current drain); inline from now on."""
        self.mode = INLINE
        self._wake.set()

    def _run(self) -> None:
        while self.mode == THREAD:
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self.mode != THREAD:
                return
            self._until_quiet()
            if self.mode != THREAD:
                return
            if self._engine is not None:
                self.drain(self._engine)

    def _until_quiet(self) -> None:
        """Wait until no batch has committed here for ``delay_s``, at most
        ``max_delay_s``: the batches of the next moments join this drain."""
        latest = time.monotonic() + self.max_delay_s
        while self.mode == THREAD:
            now = time.monotonic()
            wait = min(self._last_commit + self.delay_s, latest) - now
            if wait <= 0:
                return
            time.sleep(min(wait, self.delay_s))

    # ------------------------------------------------------------------ drain

    def drain(self, engine: Engine, kinds: Iterable[str] | None = None) -> dict[str, int]:
        """Do the queued work of ``kinds`` (default: every kind) until none is left that
        can be done; returns rows done per kind. Never raises: a failure is logged and
        its rows stay queued."""
        done: dict[str, int] = {}
        for kind in kinds or sorted(self.handlers):
            done[kind] = 0
            while True:
                try:
                    count = self._drain_some(engine, kind)
                except Exception as error:  # the rows stay queued
                    if not unreachable(error):
                        log.warning("follow-up work %s stays queued", kind, exc_info=True)
                        break
                    if self._down_since is None:
                        self._down_since = time.monotonic()
                        log.warning("follow-up work waits for the database (%s)",
                                    error_line(error))
                    return done
                if self._down_since is not None:
                    log.warning("follow-up work goes on: the database answers again after "
                                "%.0f s", time.monotonic() - self._down_since)
                    self._down_since = None
                if count == 0:
                    break
                done[kind] += count
        return done

    def _drain_some(self, engine: Engine, kind: str, only: int | None = None) -> int:
        """One transaction: take queued rows, do their work, delete them."""
        with Session(engine) as session:
            take_write_lock(session)
            query = (select(FollowUp.id, FollowUp.province_code, FollowUp.commune_code,
                            FollowUp.payload)
                     .where(FollowUp.kind == kind, FollowUp.attempts < MAX_ATTEMPTS)
                     .order_by(FollowUp.id).limit(DRAIN_ROWS))
            if only is not None:
                query = query.where(FollowUp.id == only)
            if engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [Queued(*row) for row in session.execute(query)]
            if not rows:
                end_read(session)
                return 0
            try:
                self.handlers[kind](session, rows)
            except Exception as error:  # recorded, and retried row by row
                if unreachable(error):
                    raise  # not the rows' failure: they wait for the database
                session.rollback()
                if only is None and len(rows) > 1:
                    return sum(self._one_by_one(engine, kind, [r.id for r in rows]))
                self._failed(engine, rows[0].id, error)
                return 1
            for ids in chunks([r.id for r in rows]):
                session.execute(delete(FollowUp).where(FollowUp.id.in_(ids)))
            session.commit()
            return len(rows)

    def _one_by_one(self, engine: Engine, kind: str, ids: list[int]) -> Iterable[int]:
        for row_id in ids:
            yield self._drain_some(engine, kind, only=row_id)

    @staticmethod
    def _failed(engine: Engine, row_id: int, error: Exception) -> None:
        log.error("follow-up %s failed: %s", row_id, error, exc_info=error)
        with Session(engine) as session:
            session.execute(update(FollowUp).where(FollowUp.id == row_id).values(
                attempts=FollowUp.attempts + 1, last_error=repr(error)[:500]))
            session.commit()


def unreachable(error: BaseException) -> bool:
    """The database not answering now (down, restarting, a connection lost, the pool's
    connections all taken, a deadlock broken): work that met it is tried again later."""
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout)


def backlog(session: Session) -> dict[str, dict[str, int]]:
    """Rows queued per kind, and those set aside after failing (for /healthz, the CLI)."""
    out: dict[str, dict[str, int]] = {}
    for kind, attempts, count in session.execute(
            select(FollowUp.kind, FollowUp.attempts, func.count())
            .group_by(FollowUp.kind, FollowUp.attempts)):
        entry = out.setdefault(kind, {"queued": 0, "failed": 0})
        entry["failed" if attempts >= MAX_ATTEMPTS else "queued"] += count
    return out


def retry_failed(session: Session) -> int:
    """Give the rows set aside after failing another round of attempts."""
    result = session.execute(update(FollowUp).where(FollowUp.attempts >= MAX_ATTEMPTS)
                             .values(attempts=0))
    return result.rowcount or 0


@contextmanager
def gathered(session: Session) -> Iterator[None]:
    """Rows queued inside are inserted together when it ends (not if it raises): a
    batch's after-batch hooks queue one row each, and on PostgreSQL each statement is
    a round trip."""
    rows: list[dict[str, Any]] = []
    session.info[_GATHERED] = rows
    try:
        yield
    finally:
        session.info.pop(_GATHERED, None)
    if rows:  # PostgreSQL: sent along with the batch's next look-up
        now = utcnow()
        insert_rows(session, FollowUp, [{**row, "created_at": now} for row in rows])


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    queue = session.info.pop(_PENDING, None)
    if queue is not None:
        queue.committed(session.get_bind())


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)

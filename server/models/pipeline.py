"""Writes sent along with the next statement, in one round trip (PostgreSQL, issue 19).

A batch's writes — register rows, ledger rows, its device's state, its receipt, the
follow-up queue, the settle step — need no answer before the next statement, only
a check (the rows written, the rows renumbered). Sent one by one, each waited for
the server: about twenty round trips per batch, half a batch's time on a busy
machine. Inside :func:`deferring`, such a write is only queued; the next statement
that needs its answer (a look-up) takes the queued ones with it in psycopg's
pipeline mode, in the same order, so the server runs exactly what it ran before,
and their checks run as soon as the answers are back, in that order. The end of
the block sends what is left.

What changes is when a failed check is seen, not what is stored: a guarded update
that wrote nothing raises its :class:`~server.sync.workset.StaleRead` at the next
look-up instead of at once, and the transaction is rolled back either way. Errors
of the server (a row inserted meanwhile) are raised as SQLAlchemy's exceptions, as
they were.

SQLite (no round trips, no pipeline): :func:`deferring` does nothing and every
write runs at once.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

Check = Callable[[Any], None]  # given the write's cursor once its answer is back

# An execution option: PostgreSQL plans the statement anew each time, with its values
# and the tables' sizes now (psycopg: not prepared). For look-ups by lists of ids in
# tables that grow fast (events, hand-outs, the ledger): psycopg prepares a statement
# run five times, and PostgreSQL may then keep one generic plan made while a table was
# small — a scan of the whole table, kept until the table is analysed again. A batch
# on a fresh instance ran such scans for seconds on end.
CUSTOM_PLAN = "a0_custom_plan"


@dataclass(slots=True)
class _Write:
    sql: str
    params: Any
    many: bool
    check: Check | None
    prepare: bool | None = None  # False: planned anew (:data:`CUSTOM_PLAN`)
    numbered: bool = False  # placeholders ``$1, $2, …`` (psycopg's RawCursor)


# psycopg connection -> the writes queued on it (only inside ``deferring``)
_QUEUED: weakref.WeakKeyDictionary[Any, list[_Write]] = weakref.WeakKeyDictionary()
# psycopg connection -> the writes that wait for the batch's settle step (``at_settle``)
_AT_SETTLE: weakref.WeakKeyDictionary[Any, list[_Write]] = weakref.WeakKeyDictionary()
_COMPILED: dict[tuple[Any, ...], Any] = {}  # statements built once, compiled once per keys
_PROCESSORS: dict[tuple[Any, ...], Any] = {}  # a look-up's result processors, by column
# this thread's :func:`deferring` block: (its session, the session's psycopg connection)
_HELD = threading.local()
# how many statements went in pipelines and how many pipelines (bench/profile_ingest.py)
STATS = {"deferred": 0, "pipelines": 0}


def _driver(session: Any) -> Any | None:
    """The session's psycopg connection, or None (another driver, or a libpq without
    pipeline mode, before 14: nothing deferred). Inside :func:`deferring`, the block's
    own, remembered: asked about forty times a batch, at 5 µs each through the
    session."""
    held = getattr(_HELD, "session", None)
    if held is not None and held[0] is session:
        return held[1]
    if session.get_bind().dialect.driver != "psycopg" or not _pipeline_supported():
        return None
    raw = session.connection().connection.driver_connection
    return raw if type(raw).__module__.startswith("psycopg") else None


@functools.cache
def _pipeline_supported() -> bool:
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


@contextmanager
def deferring(session: Any) -> Iterator[None]:
    """Queue the writes made with :func:`defer` inside, until a look-up or the end."""
    raw = _driver(session)
    if raw is None or raw in _QUEUED:
        yield
        return
    _QUEUED[raw], _AT_SETTLE[raw] = [], []
    outer, _HELD.session = getattr(_HELD, "session", None), (session, raw)
    try:
        yield
        _never_settled(raw)
        _send_own(session, raw)
    finally:
        _QUEUED.pop(raw, None)
        _AT_SETTLE.pop(raw, None)
        _HELD.session = outer


def defer(session: Any, sql: str, params: Any, *, many: bool = False,
          check: Check | None = None, prepare: bool | None = None,
          numbered: bool = False, at_settle: bool = False) -> bool:
    """Queue a write (driver SQL, psycopg parameters) if inside :func:`deferring`; False:
    the caller runs it now. ``numbered``: ``sql`` has PostgreSQL's own placeholders
    (``$1``…), which psycopg passes on without parsing the text. ``at_settle``: held
    back, look-ups or not, until :func:`release_at_settle` queues it after the batch's
    settle step."""
    raw = _driver(session)
    queue = (_AT_SETTLE if at_settle else _QUEUED).get(raw) if raw is not None else None
    if queue is None:
        return False
    queue.append(_Write(sql, params, many, check, prepare, numbered))
    return True


def release_at_settle(session: Any) -> None:
    """Queue the writes held back for the settle step, queued just before (they read the
    numbers it took, in the same round trip)."""
    raw = _driver(session)
    held = _AT_SETTLE.get(raw) if raw is not None else None
    if held:
        _QUEUED[raw] += held
        held.clear()


def _never_settled(raw: Any) -> None:
    """Writes held for a settle step that never came would be lost: a bug, said loudly."""
    if _AT_SETTLE.get(raw):
        raise RuntimeError("writes held for the settle step, which was never queued")


def defer_statement(session: Any, stmt: Any, params: dict[str, Any],
                    check: Check | None = None, at_settle: bool = False) -> bool:
    """:func:`defer` a SQLAlchemy Core statement with named ``params``."""
    raw = _driver(session)
    if raw is None or _QUEUED.get(raw) is None:
        return False
    dialect = session.get_bind().dialect
    key = (id(stmt), dialect.name, tuple(params))
    compiled = _COMPILED.get(key)
    if compiled is None or compiled.statement is not stmt:
        compiled = stmt.compile(dialect=dialect, column_keys=list(params))
        _COMPILED[key] = compiled
    values = compiled.construct_params(params)
    for name, process in compiled._bind_processors.items():
        if name in values:
            values[name] = process(values[name])
    custom = stmt.get_execution_options().get(CUSTOM_PLAN)
    return defer(session, compiled.string, values, check=check,
                 prepare=False if custom else None, at_settle=at_settle)


def pipelined(session: Any) -> bool:
    """Inside :func:`deferring` on PostgreSQL: writes and :func:`defer_read` wait for the
    next look-up."""
    raw = _driver(session)
    return raw is not None and _QUEUED.get(raw) is not None


def defer_read(session: Any, stmt: Any, params: dict[str, Any],
               answer: Callable[[list[str], list[tuple[Any, ...]]], None]) -> bool:
    """A look-up whose rows are not needed before the next one: sent with it, and
    ``answer`` given the column names and the rows (as SQLAlchemy would make them)
    then. False: not deferring (the caller runs it now)."""
    if not pipelined(session):
        return False
    dialect = session.get_bind().dialect
    key = (id(stmt), dialect.name, "rows")
    processors = _PROCESSORS.get(key)
    if processors is None or processors[0] is not stmt:
        compiled = stmt.compile(dialect=dialect)
        processors = (stmt, [column[3]._cached_result_processor(dialect, None)
                             for column in compiled._result_columns])
        _PROCESSORS[key] = processors
    process = [(i, p) for i, p in enumerate(processors[1]) if p is not None]

    def fetched(cursor: Any) -> None:
        names = [column.name for column in cursor.description]
        rows = cursor.fetchall()
        if process:
            made = []
            for row in rows:
                values = list(row)
                for i, p in process:
                    values[i] = p(values[i])
                made.append(tuple(values))
            rows = made
        answer(names, rows)
    return defer_statement(session, stmt, params, check=fetched)


def commit(session: Any) -> bool:
    """Send the queued statements and COMMIT in one round trip (inside :func:`deferring`);
    False: not deferring (the caller commits). A statement that fails there fails the
    transaction, which is not committed: its checks must be statements that fail in
    the database, as the answers come after the commit. SQLAlchemy's own commit
    afterwards finds nothing to do (psycopg: no transaction open)."""
    raw = _driver(session)
    if raw is None or not _QUEUED.get(raw):
        return False
    _never_settled(raw)
    _send_own(session, raw, then=raw.commit)
    return True


def send_queued(session: Any) -> None:
    """Send what is queued now, in one round trip (inside :func:`deferring`): its failures
    are then raised here, not by the statement that would have taken it along."""
    raw = _driver(session)
    if raw is not None and _QUEUED.get(raw):
        _never_settled(raw)
        _send_own(session, raw)


def _send_own(session: Any, raw: Any, then: Callable[[], None] | None = None) -> None:
    """:func:`send` outside a statement of SQLAlchemy's: a connection lost meanwhile, or
    left in pipeline mode by an error it could not get past, is invalidated here, as
    SQLAlchemy does for its own statements (else the pool tries to reset it, fails, and
    logs a traceback for it: seen during a database restart in ``bench/load.py``)."""
    try:
        send(raw, then=then, wrap=True)
    except DBAPIError as error:
        if raw.closed or raw.pgconn.pipeline_status:
            error.connection_invalidated = True
            session.connection().invalidate(error.orig)
        raise


def send(raw: Any, *, then: Callable[[], None] | None = None, wrap: bool = False) -> None:
    """Send the queued writes (and ``then``'s statement) in one pipeline; run the checks.
    ``wrap``: an error of ``then`` is raised as SQLAlchemy's, as the writes' are."""
    queue = _QUEUED.get(raw)
    if not queue:
        if then is not None:
            then()
        return
    writes, queue[:] = list(queue), []
    import psycopg

    cursors = []
    try:
        with raw.pipeline():
            for write in writes:
                cursor = psycopg.RawCursor(raw) if write.numbered else raw.cursor()
                if write.many:
                    cursor.executemany(write.sql, write.params)
                else:
                    cursor.execute(write.sql, write.params, prepare=write.prepare)
                cursors.append(cursor)
            if then is not None:
                then()
    except psycopg.Error as error:
        if then is not None and not wrap:
            raise  # SQLAlchemy wraps it: the statement it was running
        raise DBAPIError.instance(writes[len(cursors) - 1].sql if cursors else None, None,
                                  error, psycopg.Error) from error
    STATS["deferred"] += len(writes)
    STATS["pipelines"] += 1
    for write, cursor in zip(writes, cursors, strict=True):
        if write.check is not None:
            write.check(cursor)
        cursor.close()


def _queued_on(cursor: Any) -> Any | None:
    """The psycopg connection of ``cursor`` if writes are queued on it."""
    if not type(cursor).__module__.startswith("psycopg"):
        return None
    raw = cursor.connection
    return raw if _QUEUED.get(raw) else None


@event.listens_for(Engine, "do_execute")
def _with_queued(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """A statement that waits for its answer takes the queued writes along; one asking
    for a :data:`CUSTOM_PLAN` is not prepared."""
    if not type(cursor).__module__.startswith("psycopg"):
        return False
    custom = context is not None and context.execution_options.get(CUSTOM_PLAN)
    prepare = False if custom else None
    raw = cursor.connection
    if _QUEUED.get(raw):
        send(raw, then=lambda: cursor.execute(statement, parameters, prepare=prepare))
        return True
    if custom:
        cursor.execute(statement, parameters, prepare=False)
        return True
    return False


@event.listens_for(Engine, "do_executemany")
def _many_with_queued(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    raw = _queued_on(cursor)
    if raw is None:
        return False
    send(raw, then=lambda: cursor.executemany(statement, parameters))
    return True


@event.listens_for(Engine, "do_execute_no_params")
def _bare_with_queued(cursor: Any, statement: str, context: Any) -> bool:
    raw = _queued_on(cursor)
    if raw is None:
        return False
    send(raw, then=lambda: cursor.execute(statement))
    return True

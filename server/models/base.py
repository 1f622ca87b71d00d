"""Declarative base, the shared ``db`` object, and database-specific tuning."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    event,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import registry as orm_registry

from server.models import arrays
from server.models.pipeline import CUSTOM_PLAN, defer, pipelined

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    registry = orm_registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={dict[str, Any]: JSON, dt.datetime: DateTime(timezone=True)},
    )


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    """psycopg: lists bound by :mod:`server.models.arrays`. SQLite: foreign keys on;
    WAL so the dashboard reads while a batch commits.

    ``synchronous=FULL``: a receipt tells the device it may drop its outbox, so a
    committed batch must survive a power cut too, not only a process crash.
    """
    module = type(dbapi_connection).__module__
    if module.startswith("psycopg"):
        arrays.register(dbapi_connection)
        return
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def end_read(session: Any) -> None:
    """End a transaction that only read with a COMMIT rather than the ROLLBACK a session
    sends as it closes. At a rollback psycopg forgets every statement it prepared on the
    connection (a schema change rolled back could make them wrong), so the requests
    and batches that get the connection next parse and plan each statement again:
    with the follow-up drains rolling back their last, empty look-up, every statement
    of a monthly batch was planned at each run (issue 19)."""
    session.commit()


def custom_plan(stmt: Any) -> Any:
    """``stmt`` planned anew at each run on PostgreSQL (see
    :data:`~server.models.pipeline.CUSTOM_PLAN`)."""
    return stmt.execution_options(**{CUSTOM_PLAN: True})


def insert_rows(session: Any, model: Any, rows: list[dict[str, Any]],
                at_settle: bool = False) -> None:
    """Insert many rows with one ``executemany`` per key set.

    Faster than the ORM's bulk insert (no per-row unit-of-work bookkeeping), and
    faster than Core's ``executemany`` too: the statement is compiled once per
    (dialect, table, keys) by SQLAlchemy, and each row becomes one tuple through the
    very bind processors SQLAlchemy would apply (JSON, dates), without building a
    parameter dict per row. Rows with different keys go in separate groups so
    column defaults still apply.

    ``at_settle`` (PostgreSQL, deferring): the rows' ``seq`` is provisional (``-k``); the
    statements wait for the batch's settle step and write the ``k``-th number it took
    (:data:`SETTLED_SEQ`), so each row is written once, with its final number.
    """
    _execute_many(session, model, rows, "insert", at_settle=at_settle)


def update_rows(session: Any, model: Any, rows: list[dict[str, Any]],
                short: Exception | None = None, at_settle: bool = False) -> int:
    """``UPDATE … SET <every other key> WHERE id = …`` for many rows, as :func:`insert_rows`;
    returns the number of rows written.

    Rows carry their primary key ``id``; columns not in a row keep their value. A row
    with :data:`GUARD` is written only if its ``seq`` is still that value. ``short``:
    raised if fewer rows were written than given — at once, or, for a write deferred
    (:func:`~server.models.pipeline.deferring`), when its answer comes back.
    ``at_settle``: as :func:`insert_rows` (a check that needs the rows written must
    then be a statement after them: their answers come after the COMMIT).
    """
    written = _execute_many(session, model, rows, "update", short, at_settle)
    if short is not None and written != len(rows):
        raise short
    return written


def _execute_many(session: Any, model: Any, rows: list[dict[str, Any]], kind: str,
                  short: Exception | None = None, at_settle: bool = False) -> int:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)  # rows built alike share key order
    if not groups:
        return 0
    conn = session.connection()
    table = model.__table__
    written = 0
    for keys, group in groups.items():
        plan = _plan(conn.dialect, table, keys, kind, at_settle)
        if plan is None:  # a default computed per row, or an unknown key: Core does it
            if GUARD in keys or at_settle:
                raise ValueError(f"no guarded update for {table.name} with keys {keys}")
            if kind == "insert":
                session.execute(table.insert(), group)
            else:
                session.execute(update(model), group)
            written += len(group)
            continue
        sql, params = plan
        if kind == "insert" and _defer_rows(session, sql, params, group, at_settle):
            written += len(group)
            continue
        if (kind == "insert" or short is not None or at_settle) and defer(
                session, sql, params(group), many=True, at_settle=at_settle,
                check=None if kind == "insert" else _at_least(len(group), short)):
            written += len(group)  # checked when the answer is back
            continue
        if at_settle:
            raise ValueError("rows numbered at the settle step wait for it: deferring only")
        written += conn.exec_driver_sql(sql, params(group)).rowcount
    return written


# rows per multi-row INSERT (PostgreSQL): a few fixed sizes, so that each statement is
# prepared once per connection and reused, whatever the number of rows
ROWS_PER_INSERT = (32, 16, 8, 4, 2, 1)


def _defer_rows(session: Any, sql: str, params: Params, group: list[dict[str, Any]],
                at_settle: bool = False) -> bool:
    """Queue ``group`` as multi-row ``INSERT … VALUES (…), (…)`` statements of
    :data:`ROWS_PER_INSERT` rows (PostgreSQL, deferring; False: not so, the caller
    inserts). An ``executemany`` costs psycopg about 14 µs of Python a row (an
    execution each, in the pipeline) and the server a bind and execute of its own:
    a batch's 33 ledger rows go as 2 statements instead."""
    if len(group) < 2 or _values_rows(sql, 1) is None or not pipelined(session):
        return False
    rows = params(group)
    start = 0
    while start < len(rows):
        size = next(n for n in ROWS_PER_INSERT if n <= len(rows) - start)
        statement = _values_rows(sql, size)
        assert statement is not None
        defer(session, statement, [v for row in rows[start:start + size] for v in row],
              numbered=True, at_settle=at_settle)
        start += size
    return True


@functools.cache
def _values_rows(sql: str, size: int) -> str | None:
    """``sql`` (``INSERT … VALUES (%s, %s::JSON, …)``) for ``size`` rows, with
    PostgreSQL's numbered placeholders (psycopg parses no text of that length). None:
    not such a statement (one that returns the rows' generated keys, say)."""
    head, _, row = sql.rpartition(" VALUES ")
    if not (head.startswith("INSERT INTO ") and row.startswith("(") and row.endswith(")")
            and "RETURNING" not in row):
        return None
    pieces = row.split("%s")
    per_row = len(pieces) - 1
    rows = []
    for r in range(size):
        parts = [pieces[0]]
        for i in range(per_row):
            parts += [f"${r * per_row + i + 1}", pieces[i + 1]]
        rows.append("".join(parts))
    return f"{head} VALUES {', '.join(rows)}"


def _at_least(count: int, short: Exception | None) -> Callable[[Any], None]:
    def check(cursor: Any) -> None:
        if cursor.rowcount != count and short is not None:
            raise short
    return check


def plan_many(dialect: Any, table: Table, keys: tuple[str, ...], kind: str = "insert",
              ) -> tuple[str, Params]:
    """The positional statement :func:`insert_rows` / :func:`update_rows` run for rows
    with ``keys``, and the function making their parameters (benchmarks use it to
    time the database alone)."""
    plan = _plan(dialect, table, keys, kind)
    if plan is None:
        raise ValueError(f"no positional {kind} for {table.name} with keys {keys}")
    return plan


Getter = Callable[[dict[str, Any]], Any]
Params = Callable[[list[dict[str, Any]]], list[tuple[Any, ...]]]
_PLANS: dict[tuple[Any, ...], tuple[str, Params] | None] = {}
_KEY_BIND = "key_"  # bind names of an update: the key, and ``set_<column>``
# a key of an update's rows: the change number each row must still have, else it is
# not written (the caller compares the rows written with the rows given)
GUARD = "expected_seq"
# PostgreSQL: the number a row with the provisional ``seq`` ``-k`` takes, written after its
# batch's settle step, which left the number before the batch's first in the setting
# ``a0.base`` (:func:`server.register.sequence.settle`; unset, the statement fails)
SETTLED_SEQ = literal_column("current_setting('a0.base')::bigint", BigInteger)
_SETTLE_BIND = "settle_seq"


def _plan(dialect: Any, table: Table, keys: tuple[str, ...], kind: str,
          at_settle: bool = False) -> tuple[str, Params] | None:
    """A positional statement for rows with ``keys``, and how to get each parameter of a
    row (``at_settle``: its ``seq`` as :data:`SETTLED_SEQ` minus the row's)."""
    cache_key = (dialect, table, keys, kind, at_settle)
    if cache_key in _PLANS:
        return _PLANS[cache_key]
    plan = None
    guarded = kind == "update" and GUARD in keys
    numbered = at_settle and "seq" in keys
    if set(keys) - {GUARD} <= set(table.c.keys()) and (kind == "insert" or "id" in keys):
        settled = {"seq": SETTLED_SEQ - bindparam(_SETTLE_BIND, type_=BigInteger)}
        if kind == "insert":
            stmt: Any = table.insert().values(settled) if numbered else table.insert()
            column_of = {name: name for name in keys}
            if numbered:
                column_of[_SETTLE_BIND] = column_of.pop("seq")
            compiled = stmt.compile(dialect=dialect, column_keys=[
                name for name in keys if not (numbered and name == "seq")])
        else:
            column_of = {f"set_{name}": name for name in keys if name not in ("id", GUARD)}
            where = table.c.id == bindparam(_KEY_BIND)
            if guarded:
                where = where & (table.c.seq == bindparam(GUARD))
            values = {name: bindparam(bind) for bind, name in column_of.items()}
            if numbered:
                values.update(settled)
                column_of[_SETTLE_BIND] = column_of.pop("set_seq")
            stmt = table.update().where(where).values(values)
            column_of[_KEY_BIND] = "id"
            compiled = stmt.compile(dialect=dialect)
        binds = compiled.positiontup if compiled.positional else _named_order(compiled.string)
        if binds is not None:
            sql = compiled.string if compiled.positional else _to_positional(
                compiled.string, binds, dialect)
            names = [column_of.get(bind, bind) for bind in binds]
            processors = {column_of.get(b, b): p for b, p in compiled._bind_processors.items()}
            getters = [_getter(name, table.c["seq" if name == GUARD else name],
                               processors.get(name), name in keys) for name in names]
            if None not in getters:
                plan = (sql, _params_builder(names, keys, getters, processors, table))
    _PLANS[cache_key] = plan
    return plan


def _params_builder(names: list[str], keys: tuple[str, ...], getters: list[Getter],
                    processors: dict[str, Any], table: Table) -> Params:
    """Rows → parameter tuples: one C-level ``itemgetter`` per row when every column
    is given, then the bind processors on the few columns that have one."""
    if len(names) < 2 or not set(names) <= set(keys):
        return lambda group: [tuple([get(row) for get in getters]) for row in group]
    take = operator.itemgetter(*names)
    fixes = [(i, _memo(processors[name]) if isinstance(table.c[name].type, DateTime)
              else processors[name]) for i, name in enumerate(names) if processors.get(name)]
    if not fixes:
        return lambda group: [take(row) for row in group]

    def build(group: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        out = []
        for row in group:
            values = list(take(row))
            for i, process in fixes:
                values[i] = process(values[i])
            out.append(tuple(values))
        return out
    return build


def _memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A processor remembering its last answer: rows of one batch share one timestamp."""
    last: list[Any] = [_MISSING, None]

    def run(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]
    return run


def _named_order(sql: str) -> list[str] | None:
    """Bind names of a ``%(name)s`` statement in order (None if not that style)."""
    import re

    names = re.findall(r"%\((\w+)\)s", sql)
    return names or None


def _to_positional(sql: str, names: list[str], dialect: Any) -> str:
    import re

    if dialect.paramstyle != "pyformat":
        raise ValueError(dialect.paramstyle)
    return re.sub(r"%\((\w+)\)s", "%s", sql)


def _getter(name: str, column: Any, process: Callable[[Any], Any] | None,
            given: bool) -> Getter | None:
    if not given:  # filled by the column's default: only a constant one is taken here
        default = column.default
        if default is None or not default.is_scalar:
            return None
        value = process(default.arg) if process else default.arg
        return lambda row: value
    if process is None:
        return operator.itemgetter(name)
    if isinstance(column.type, DateTime):  # rows of one batch share one timestamp
        last: list[Any] = [_MISSING, None]

        def get_time(row: dict[str, Any]) -> Any:
            value = row[name]
            if value is not last[0]:
                last[0], last[1] = value, process(value)
            return last[1]
        return get_time
    return lambda row: process(row[name])


_MISSING = object()
T = TypeVar("T")


IN_CHUNK = 5000  # ids per look-up statement (one parameter each: in_values, in_param)


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: look-ups by many ids, a statement per slice."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def in_values(session: Any, column: Any, values: Any) -> Any:
    """``column IN values`` as a statement with one parameter, whatever the number of values.

    An ``IN (?, ?, …)`` of hundreds of values costs SQLAlchemy more to render than
    the database to run; with one JSON (SQLite) or array (PostgreSQL) parameter the
    statement's text never changes, so its compiled form is cached, and the index
    on ``column`` is still used.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and isinstance(column.type, String):
        # one JSON text, unpacked by the server: psycopg dumps an array parameter
        # element by element in Python (2 µs each, 11 ms for 5,000 keys), orjson in C
        texts = bindparam(None, orjson.dumps(list(values)).decode(), type_=String())
        return column == any_(func.array(select(
            func.json_array_elements_text(func.cast(texts, JSON))).scalar_subquery()))
    return in_param(column, dialect, bindparam(None, id_list(dialect, values),
                                               type_=_list_type(column, dialect)))


def in_param(column: Any, dialect: str, param: Any) -> Any:
    """``column IN`` the list bound to ``param`` (a :func:`bindparam`; its value made by
    :func:`id_list`): for statements built once and run many times."""
    if dialect == "postgresql":
        return column == any_(param)
    return column.in_(select(func.json_each(param).table_valued("value").c.value))


def list_param(name: str, column: Any, dialect: str) -> Any:
    """A named parameter holding a list of ``column`` values, for :func:`in_param`."""
    return bindparam(name, type_=_list_type(column, dialect))


def id_list(dialect: str, values: Any) -> Any:
    """The value of a :func:`list_param`: an array (PostgreSQL) or a JSON text (SQLite)."""
    values = list(values)
    return values if dialect == "postgresql" else orjson.dumps(values).decode()


def _list_type(column: Any, dialect: str) -> Any:
    return ARRAY(column.type) if dialect == "postgresql" else String()


def json_dumps(value: Any) -> str:
    """The engine's JSON encoder: orjson, several times faster than ``json``."""
    return orjson.dumps(value).decode()

"""Reserve change-sequence numbers (see :class:`server.models.register.ChangeCounter`)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models.base import custom_plan
from server.models.pipeline import defer_statement
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


# The tables a batch numbers, and their key: their rows are written with provisional
# numbers (-1, -2, …) and renumbered by :func:`settle` (PostgreSQL).
NUMBERED = {"household": "varchar", "member": "varchar", "event": "varchar",
            "distribution": "varchar", "p0_report": "varchar", "stock_movement": "varchar",
            "conflict": "integer"}


def settle(session: Session, province_code: str, count: int, keys: dict[str, list[Any]],
           ledger: list[tuple[str, int]]) -> None:
    """Take ``count`` numbers from the province's counter and give them, in one statement,
    to the rows written with provisional numbers ``-1 … -count``: ``-k`` becomes the
    ``k``-th number taken. ``keys``: the ids of such rows by table; ``ledger``: the
    ``(device, seq)`` of ledger rows with a provisional ``change_seq``. Every one of
    them must be renumbered (a provisional number left behind would hide its row):
    else the statement fails in the database (``a0_assert``, message ``renumbered``).
    PostgreSQL only: the counter's row lock is held from here to the commit, so this
    is the batch's whole serial step. Sent with the next look-up
    (:func:`~server.models.pipeline.defer`) when writes are deferred."""
    params: dict[str, Any] = {"province": province_code, "count": count}
    tables = tuple(table for table in NUMBERED if keys.get(table))
    params.update({f"ids_{table}": list(keys[table]) for table in tables})
    if ledger:
        params.update({"devices": [d for d, _ in ledger], "seqs": [s for _, s in ledger]})
    params["rows"] = len({(table, k) for table in tables for k in keys[table]}) + len(
        set(ledger))
    stmt = _settle_sql(tables, bool(ledger))
    if not defer_statement(session, stmt, params):
        session.execute(stmt, params)


@functools.cache
def _settle_sql(tables: tuple[str, ...], ledger: bool) -> Any:
    """The statement for the tables with rows to renumber (and the ledger's, if any): a
    table without any is not even scanned. Planned anew at each run: the tables grow
    with every batch, and a plan made while one was small scans it whole."""
    parts = [f"""{table}_n AS (
        UPDATE {table} t SET seq = c.base - t.seq FROM c
        WHERE t.id = ANY(CAST(:ids_{table} AS {NUMBERED[table]}[])) AND t.seq < 0
        RETURNING 1)""" for table in tables]
    if ledger:
        parts.append("""sync_op_n AS (
        UPDATE sync_op t SET change_seq = c.base - t.change_seq
        FROM c, unnest(CAST(:devices AS varchar[]), CAST(:seqs AS bigint[])) AS k(device, seq)
        WHERE t.device_id = k.device AND t.seq = k.seq AND t.change_seq < 0 RETURNING 1)""")
    counted = " + ".join(["0", *(f"(SELECT count(*) FROM {name}_n)" for name in
                                 (*tables, *(("sync_op",) if ledger else ())))])
    return custom_plan(text(f"""WITH c AS (
        INSERT INTO change_counter (province_code, value) VALUES (:province, :count)
        ON CONFLICT (province_code) DO UPDATE SET value = change_counter.value + :count
        RETURNING value - :count AS base){"".join(", " + p for p in parts)}
        SELECT a0_assert({counted} = :rows, 'renumbered')"""))

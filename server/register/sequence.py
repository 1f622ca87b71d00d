"""Reserve change-sequence numbers (see :class:`server.models.register.ChangeCounter`)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models.base import custom_plan
from server.models.pipeline import defer_statement, release_at_settle
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


# The tables a batch numbers, and their key: their rows take their numbers at the settle
# step (PostgreSQL; see :func:`settle`).
NUMBERED = {"household": "varchar", "member": "varchar", "event": "varchar",
            "distribution": "varchar", "p0_report": "varchar", "stock_movement": "varchar",
            "conflict": "integer"}


def settle(session: Session, province_code: str, count: int, keys: dict[str, list[Any]],
           ledger: list[tuple[str, int]], updated: dict[str, list[tuple[str, int]]],
           ) -> None:
    """Take ``count`` numbers from the province's counter for the rows given the
    provisional numbers ``-1 … -count``: ``-k`` takes the ``k``-th. PostgreSQL only:
    the counter's row lock is held from here to the commit, so this is the batch's
    whole serial step. Sent with the next look-up
    (:func:`~server.models.pipeline.defer`) when writes are deferred.

    The rows held back for this step (``at_settle``: most of a batch's) are queued right
    after it and write their final numbers themselves (the step leaves the number
    before the batch's first in the transaction's setting ``a0.base``): each row is
    written once. ``updated``: ``(id, provisional number)`` of those updated only as
    they were read, by table; a check after them fails in the database
    (``a0_assert``, ``stale``) unless every one was written.

    The rows written before (``keys``: their ids by table; ``ledger``: the
    ``(device, seq)`` of ledger rows with a provisional ``change_seq``) are
    renumbered by this step's statement, each of them (a provisional number left
    behind would hide its row): else it fails in the database (``a0_assert``,
    ``renumbered``)."""
    params: dict[str, Any] = {"province": province_code, "count": count}
    tables = tuple(table for table in NUMBERED if keys.get(table))
    params.update({f"ids_{table}": list(keys[table]) for table in tables})
    if ledger:
        params.update({"devices": [d for d, _ in ledger], "seqs": [s for _, s in ledger]})
    params["rows"] = len({(table, k) for table in tables for k in keys[table]}) + len(
        set(ledger))
    _run(session, _settle_sql(tables, bool(ledger)), params)
    release_at_settle(session)
    checked = tuple(table for table in NUMBERED if updated.get(table))
    if checked:
        params = {"rows": sum(len(updated[table]) for table in checked)}
        for table in checked:
            params[f"ids_{table}"] = [i for i, _ in updated[table]]
            params[f"seqs_{table}"] = [seq for _, seq in updated[table]]
        _run(session, _written_sql(checked), params)


def _run(session: Session, stmt: Any, params: dict[str, Any]) -> None:
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
        SELECT a0_assert({counted} = :rows, 'renumbered'),
               set_config('a0.base', (SELECT base FROM c)::text, true)"""))


@functools.cache
def _written_sql(tables: tuple[str, ...]) -> Any:
    """Whether the rows updated at the settle step were all written: each has the number
    it was given (``a0.base`` minus its provisional one), not one another writer gave
    it since the batch read it."""
    counted = " + ".join(f"""(SELECT count(*) FROM unnest(
        CAST(:ids_{table} AS {NUMBERED[table]}[]), CAST(:seqs_{table} AS bigint[])) AS r(id, seq)
        JOIN {table} t ON t.id = r.id
        AND t.seq = current_setting('a0.base')::bigint - r.seq)""" for table in tables)
    return custom_plan(text(f"SELECT a0_assert({counted} = :rows, 'stale')"))

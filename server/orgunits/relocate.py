"""Carry villages and collaborator areas — and every row that lives in them — elsewhere.

A migration (:class:`~server.models.orgunits.OrgMigration`) records one
:class:`~server.models.orgunits.OrgUnitMove` per village and area it moves: where
it was (tree, parent, path, province and commune) and where it goes. From those
rows this module

* places the units under their new parents, keeping their ids and codes
  (:func:`place_units`), and puts them back (:func:`restore_units`);
* carries the register and everything placed by area to the new province and
  commune codes in a few set-based statements (:func:`carry`): households,
  members, events, distributions, collaborators' stock movements and aliases, and
  the sync ledger, batches, stock alerts,
  devices, collaborators, enrolment codes, conflicts and duplicate candidates.

Area codes never change: phones keep them in every household they hold, and in
the operations they have signed. What changes is the commune and province an
area's rows carry — and the rows' change sequence numbers.

Why rows are renumbered. A district system's cursor is a change number per
province, and its scope may change with the migration (commune staff of a merged
commune now see the new commune, old records of the other communes included):
every moved row gets a new number above every number given before in its
(new) province, so each reader sees it once more — as an update with its new
codes — and no two rows of a province share a number. Rows keep their order:
the numbers of one old province are shifted by one offset per (old province,
new province), and the offsets lay the old ranges end to end above the new
province's counter, which then stands above them all. A device's cursor (a
number of its old province) stays below its new province's counter, so nothing
written later hides under it. That costs the counter its own size once per
reform; a small move (``areas move``: a village, an area) instead numbers its
rows afresh from the counter (:func:`renumber`), which grows by the rows moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from server.models.base import utcnow
from server.models.duplicates import DuplicateCandidate
from server.models.logistics import StockFlag, StockMovement
from server.models.orgunits import LEVEL_AREA, LEVEL_COMMUNE, OrgUnit, OrgUnitMove
from server.models.people import Collaborator, Device, EnrolmentCode
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import Alias, Conflict, SyncBatch, SyncOp
from server.register.sequence import allocate

# numbered rows (devices and district systems pull them by change sequence) ...
# (a collaborator's stock movements go with the area; a station's own, area "", stay
# with their commune's code: docs/logistics.md)
NUMBERED = (Household, Member, Event, Distribution, StockMovement, Alias)
# ... and rows that only carry the place (scope filters on it)
PLACED = (SyncBatch, SyncOp, Device, Collaborator, EnrolmentCode, Conflict, DuplicateCandidate,
          StockFlag)


def place_under(unit: OrgUnit, parent: OrgUnit) -> None:
    """Hang ``unit`` under ``parent`` (same tree): parent, path, depth and codes follow."""
    unit.tree = parent.tree
    unit.parent_id = parent.id
    unit.path = f"{parent.path}{unit.code}/"
    unit.depth = parent.depth + 1
    unit.province_code = parent.province_code
    unit.commune_code = parent.code if parent.level == LEVEL_COMMUNE else parent.commune_code


def record_move(session: Session, migration_id: int, unit: OrgUnit | None, *, code: str,
                level: str, village_code: str | None, old_district: str | None,
                old_province: str, old_commune: str, new_parent: OrgUnit | None,
                new_province: str, new_commune: str) -> OrgUnitMove:
    """Remember where a unit (or a register-only area) was, before it moves."""
    move = OrgUnitMove(
        migration_id=migration_id, unit_id=unit.id if unit else None, code=code, level=level,
        village_code=village_code, old_tree=unit.tree if unit else None,
        old_parent_id=unit.parent_id if unit else None, old_path=unit.path if unit else None,
        old_depth=unit.depth if unit else None, old_province_code=old_province,
        old_district_code=old_district, old_commune_code=old_commune,
        new_parent_id=new_parent.id if new_parent else None, new_province_code=new_province,
        new_commune_code=new_commune, seq_offset=0, undo_seq_offset=0)
    session.add(move)
    return move


def place_units(session: Session, moves: Iterable[OrgUnitMove]) -> int:
    """Put every moved unit under its new parent, parents before children."""
    moves = [m for m in moves if m.unit_id is not None]
    units = {u.id: u for u in _units(session, [m.unit_id for m in moves])}  # type: ignore[misc]
    parents = {u.id: u for u in _units(session, [m.new_parent_id for m in moves
                                                 if m.new_parent_id is not None])}
    for move in sorted(moves, key=lambda m: m.level != "village"):  # villages first
        unit = units[move.unit_id]  # type: ignore[index]
        parent = units.get(move.new_parent_id) or parents[move.new_parent_id]  # type: ignore[index]
        place_under(unit, parent)
    session.flush()
    return len(moves)


def restore_units(session: Session, moves: Iterable[OrgUnitMove]) -> int:
    """Put every moved unit back exactly where it was."""
    moves = [m for m in moves if m.unit_id is not None]
    units = {u.id: u for u in _units(session, [m.unit_id for m in moves])}  # type: ignore[misc]
    for move in moves:
        unit = units[move.unit_id]  # type: ignore[index]
        unit.tree, unit.parent_id, unit.path = move.old_tree, move.old_parent_id, move.old_path
        unit.depth = move.old_depth
        unit.province_code, unit.commune_code = move.old_province_code, move.old_commune_code
    session.flush()
    return len(moves)


def _units(session: Session, ids: list[int]) -> list[OrgUnit]:
    out: list[OrgUnit] = []
    for i in range(0, len(ids), 500):
        out += session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids[i:i + 500])))
    return out


def carry(session: Session, migration_id: int, *, back: bool = False, every: bool = False,
          now: dt.datetime | None = None) -> dict[str, int]:
    """Give the rows of the migration's areas their new (``back``: old) codes and numbers.

    ``every``: renumber the rows of every moved area (a reform: readers' scopes
    change with it), not only of areas whose commune or province changes. Returns
    rows updated per table. Runs in the caller's transaction; the province
    counters it moves stay locked until that commits.
    """
    m = OrgUnitMove.__table__.c
    src = m.new_province_code if back else m.old_province_code
    dst_province = m.old_province_code if back else m.new_province_code
    dst_commune = m.old_commune_code if back else m.new_commune_code
    offset = m.undo_seq_offset if back else m.seq_offset
    moved = and_(m.migration_id == migration_id, m.level == LEVEL_AREA)
    placed = or_(m.old_province_code != m.new_province_code,
                 m.old_commune_code != m.new_commune_code)
    changed = and_(moved, placed)

    if every:
        pairs = session.execute(select(src, dst_province).where(moved).distinct()).all()
        for (old, new), value in _offsets(session, [tuple(p) for p in pairs]).items():
            session.execute(update(OrgUnitMove).where(moved, src == old, dst_province == new)
                            .values({offset.key: value}))
    now = now or utcnow()
    with _indexes_rebuilt(session, NUMBERED if every else ()):
        counts = _carry_rows(session, changed, moved, placed, every, now, dst_province,
                             dst_commune, offset)
    if not every:  # a few areas: number their rows afresh, densely
        moving = session.execute(select(src, dst_province, m.code).where(changed)).all()
        for old, new in sorted({(o, n) for o, n, _ in moving if o != n}):
            raise_to(session, new, old)
        for _, province, area in moving:
            renumber(session, province, [area])
    return counts


def _carry_rows(session: Session, changed: Any, moved: Any, placed: Any, every: bool,
                now: dt.datetime, dst_province: Any, dst_commune: Any,
                offset: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for model in NUMBERED:
        values: dict[str, Any] = {"province_code": dst_province, "commune_code": dst_commune}
        if every:
            values["seq"] = model.seq + offset
        if hasattr(model, "updated_at"):
            values["updated_at"] = now
        counts[model.__tablename__] = _update(session, model, changed, values)
        if every:  # codes that stay as they were: only renumbered (fewer indexes to touch)
            values = {k: v for k, v in values.items() if k in ("seq", "updated_at")}
            counts[model.__tablename__] += _update(session, model, and_(moved, ~placed),
                                                   values)
    for model in PLACED:
        counts[model.__tablename__] = _update(session, model, changed, {
            "province_code": dst_province, "commune_code": dst_commune})
    return counts


CARRIED_COLUMNS = frozenset({"province_code", "commune_code", "seq", "updated_at"})


@contextmanager
def _indexes_rebuilt(session: Session, models: Iterable[Any]) -> Iterator[None]:
    """On SQLite, drop the indexes of ``models`` over a column :func:`carry` rewrites,
    and make them again (their stored SQL, unchanged) before leaving — in the caller's
    transaction, so a failure leaves them as they were. Rewriting a whole register
    entry by entry in eight indexes of the member table costs several times more than
    sorting each index once (a reform renumbers every row; a small move is left alone)
    — provided the page cache holds the whole table (:data:`~server.orgunits.reform.
    CACHE_MB`), or each ``CREATE INDEX`` reads it from the disk again.
    Indexes led by the area stay: the statements find the rows by area through them,
    in the order they are stored (so keeping them up costs little).
    Nothing on PostgreSQL (DDL there locks the tables out for readers)."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    conn = session.connection()
    dropped: list[tuple[str, str]] = []
    for model in models:
        for name, sql in conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                " AND tbl_name = :t ORDER BY name"), {"t": model.__tablename__}).all():
            columns = [row[2] for row in conn.execute(text(f'PRAGMA index_info("{name}")'))]
            if set(columns) & CARRIED_COLUMNS and columns[0] != "area_code":
                dropped.append((name, sql))
    for name, _ in dropped:
        conn.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _, sql in dropped:
        conn.execute(text(sql))


def raise_to(session: Session, province: str, other: str) -> None:
    """Move ``province``'s counter up to ``other``'s: cursors of devices moving from
    ``other`` must stay below every number given later."""
    mine, theirs = allocate(session, province, 0) - 1, allocate(session, other, 0) - 1
    if theirs > mine:
        allocate(session, province, theirs - mine)


def large_cache(session: Session, mebibytes: int) -> None:
    """Let SQLite keep up to ``mebibytes`` of pages in memory on this connection: a
    reform rewrites every row of the register and several indexes, and with the
    default cache (2 MB) most of that time goes to reading pages back. Nothing on
    PostgreSQL (its buffers are the server's). The connection keeps it until closed
    (the command line's ends with the command)."""
    if session.get_bind().dialect.name == "sqlite" and mebibytes > 0:
        session.execute(text(f"PRAGMA cache_size = -{int(mebibytes) * 1024}"))


def renumber(session: Session, province: str, areas: list[str]) -> int:
    """Give every numbered row of ``areas`` a new change number of ``province``, in the
    order of their old numbers (a small move: the counter grows by the rows moved,
    where the offsets of :func:`carry` for a reform would grow it by its own size)."""
    rows: list[tuple[int, int, str]] = []
    for position, model in enumerate(NUMBERED):
        key = _key(model)
        rows += [(seq, position, row_id) for row_id, seq in session.execute(
            select(key, model.seq).where(model.area_code.in_(areas)))]
    if not rows:
        return 0
    rows.sort()
    first = allocate(session, province, len(rows))
    for position, model in enumerate(NUMBERED):
        params = [{"row_id": row_id, "new_seq": first + i}
                  for i, (_, p, row_id) in enumerate(rows) if p == position]
        if params:
            session.execute(update(model.__table__).where(
                _key(model) == bindparam("row_id")).values(seq=bindparam("new_seq")), params)
    return len(rows)


def _key(model: Any) -> Any:
    return model.__table__.c.old_id if model is Alias else model.__table__.c.id


def _update(session: Session, model: Any, which: Any, values: dict[str, Any]) -> int:
    result = session.execute(
        update(model).where(model.area_code == OrgUnitMove.__table__.c.code, which)
        .values(values).execution_options(synchronize_session=False))
    return result.rowcount or 0


def _offsets(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(old province, new province) → what to add to the numbers of rows moving so.

    The old ranges ``0..counter`` are laid end to end above the new province's
    counter (a row never numbered, 0, lands on the range's first number), and the
    counter is moved past them. Counters are locked in code order.
    """
    provinces = sorted({p for pair in pairs for p in pair})
    current = {p: allocate(session, p, 0) - 1 for p in provinces}
    offsets: dict[tuple[str, str], int] = {}
    for new in sorted({n for _, n in pairs}):
        top = current[new]
        for old in sorted(o for o, n in pairs if n == new):
            offsets[(old, new)] = top + 1
            top += current[old] + 1
        allocate(session, new, top - current[new])
    return offsets

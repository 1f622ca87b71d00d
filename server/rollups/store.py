"""Write roll-up cells: areas and every unit above them, in full or by difference.

An area's ancestors come from the org-unit tree (``path`` holds the codes from
the root, so one query gives the levels: village, commune, district where the
tree has one, province). Every chain ends in the national unit ``VN``. An area
the tree does not know (register data ahead of the tree) hangs under its commune
and province codes from the register.

Counts add, so the incremental path adds ``new − old`` of each recomputed area
cell to each ancestor's cell; the derived ratios are recomputed per cell.
Ancestor rows are locked (``SELECT … FOR UPDATE`` in a fixed order) so two
batches of one commune never lose each other's update.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models.base import chunks, utcnow
from server.models.orgunits import LEVEL_AREA, LEVEL_COMMUNE, LEVEL_PROVINCE, OrgUnit
from server.models.register import Household
from server.models.rollups import RollupCell
from server.orgunits.queries import current_tree
from server.rollups.indicators import add_into, with_derived

NATIONAL_CODE, NATIONAL_LEVEL = "VN", "national"
DEFAULT_TREE = "register"  # used when no org-unit list has been imported


@dataclass(frozen=True)
class Unit:
    code: str
    level: str
    province_code: str
    commune_code: str | None


NATIONAL = Unit(NATIONAL_CODE, NATIONAL_LEVEL, "", None)


def tree_name(session: Session) -> str:
    return current_tree(session) or DEFAULT_TREE


def expected_areas(session: Session, tree: str) -> set[str]:
    """Areas a report is expected from: area units of the tree and areas holding data."""
    areas = set(session.scalars(select(OrgUnit.code).where(
        OrgUnit.tree == tree, OrgUnit.level == LEVEL_AREA, OrgUnit.active)))
    areas |= set(session.scalars(select(Household.area_code).where(~Household.deleted)
                                 .distinct()))
    return areas


def ancestry(session: Session, tree: str, areas: Iterable[str]) -> dict[str, list[Unit]]:
    """Each area's chain of units, itself first, national last."""
    areas = sorted(set(areas))
    found: dict[str, OrgUnit] = {}
    for chunk in chunks(areas, 500):
        for unit in session.scalars(select(OrgUnit).where(OrgUnit.tree == tree,
                                                          OrgUnit.code.in_(chunk))):
            found[unit.code] = unit
    missing = [a for a in areas if a not in found]
    place: dict[str, tuple[str, str]] = {}
    for chunk in chunks(missing, 500):
        for area, province, commune in session.execute(
                select(Household.area_code, Household.province_code, Household.commune_code)
                .where(Household.area_code.in_(chunk)).distinct()):
            place[area] = (province, commune)
    communes = {c for _, c in place.values()}
    for chunk in chunks(sorted(communes), 500):
        for unit in session.scalars(select(OrgUnit).where(OrgUnit.tree == tree,
                                                          OrgUnit.code.in_(chunk))):
            found[unit.code] = unit
    path_codes = {c for u in found.values() for c in u.path.strip("/").split("/")}
    units = {}
    for chunk in chunks(sorted(path_codes), 500):
        for unit in session.scalars(select(OrgUnit).where(OrgUnit.tree == tree,
                                                          OrgUnit.code.in_(chunk))):
            units[unit.code] = Unit(unit.code, unit.level, unit.province_code,
                                    unit.commune_code)

    def chain_of(unit: OrgUnit) -> list[Unit]:
        codes = unit.path.strip("/").split("/")
        return [units[c] for c in reversed(codes) if c in units]

    out: dict[str, list[Unit]] = {}
    for area in areas:
        if area in found:
            out[area] = [*chain_of(found[area]), NATIONAL]
            continue
        province, commune = place.get(area, ("", ""))
        own = Unit(area, LEVEL_AREA, province, commune or None)
        if commune in found:
            out[area] = [own, *chain_of(found[commune]), NATIONAL]
        else:
            out[area] = [own, Unit(commune, LEVEL_COMMUNE, province, commune),
                         Unit(province, LEVEL_PROVINCE, province, None), NATIONAL]
    return out


def aggregate(cells: Mapping[str, Mapping[str, Mapping[str, float]]],
              chains: Mapping[str, list[Unit]]) -> dict[tuple[Unit, str], dict[str, float]]:
    """Sum area cells into every unit of their chains: (unit, month) → counts.

    Level by level (each unit into its parent once), not area by area into every
    ancestor: the work is the number of units, not areas times depth.
    """
    parent: dict[Unit, Unit | None] = {}
    depth: dict[Unit, int] = {}
    for chain in chains.values():
        for i, unit in enumerate(chain):
            parent[unit] = chain[i + 1] if i + 1 < len(chain) else None
            depth[unit] = len(chain) - i
    by_unit: dict[Unit, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for area, by_month in cells.items():
        unit = chains[area][0]
        for month, values in by_month.items():
            add_into(by_unit[unit][month], values)
    for unit in sorted(parent, key=lambda u: -depth[u]):
        up = parent[unit]
        if up is None or unit not in by_unit:
            continue
        for month, values in by_unit[unit].items():
            add_into(by_unit[up][month], values)
    return {(unit, month): values for unit, by_month in by_unit.items()
            for month, values in by_month.items()}


def replace_all(session: Session, tree: str, months: Iterable[str],
                totals: Mapping[tuple[Unit, str], Mapping[str, float]]) -> int:
    """Replace every cell of ``months`` (a full recompute)."""
    months = sorted(set(months))
    session.execute(delete(RollupCell).where(RollupCell.tree == tree,
                                             RollupCell.month.in_(months)))
    now = utcnow()
    rows = [{"tree": tree, "unit_code": unit.code, "level": unit.level, "month": month,
             "province_code": unit.province_code, "commune_code": unit.commune_code,
             "area_code": unit.code if unit.level == LEVEL_AREA else None,
             "values": with_derived(values), "computed_at": now}
            for (unit, month), values in totals.items()]
    for i in range(0, len(rows), 5000):
        session.execute(insert(RollupCell.__table__), rows[i:i + 5000])
    return len(rows)


def apply_area_cells(session: Session, tree: str,
                     cells: Mapping[str, Mapping[str, Mapping[str, float]]],
                     chains: Mapping[str, list[Unit]]) -> int:
    """Store recomputed area cells and add their differences to every ancestor."""
    keys = sorted({(unit, month) for area, by_month in cells.items()
                   for month in by_month for unit in chains[area]},
                  key=lambda k: (k[0].code, k[1]))
    if not keys:
        return 0
    current = _locked(session, tree, keys)
    missing = [k for k in keys if (k[0].code, k[1]) not in current.ids]
    if missing:  # a new area or month: insert its cells (in key order), then lock them
        _ensure(session, tree, missing)
        added = _locked(session, tree, missing)
        current.update(added)
        current.ids.update(added.ids)
    now = utcnow()
    changed: dict[tuple[str, str], dict[str, float]] = {}
    for area, by_month in cells.items():
        for month, values in by_month.items():
            old = current[(area, month)]
            delta = dict(values)
            add_into(delta, old, -1)
            if not delta:
                continue
            for unit in chains[area]:
                counts = changed.setdefault((unit.code, month), dict(current[(unit.code, month)]))
                add_into(counts, delta)
    table = RollupCell.__table__
    updates = [{"b_id": current.ids[key], "v": with_derived(counts), "t": now}
               for key, counts in changed.items()]
    if updates:
        session.execute(update(table).where(table.c.id == bindparam("b_id"))
                        .values(values=bindparam("v"), computed_at=bindparam("t")), updates)
    return len(updates)


class _Cells(dict):
    """Counts of locked cells by (unit code, month), with their row ids."""

    ids: dict[tuple[str, str], int]


def _ensure(session: Session, tree: str, keys: list[tuple[Unit, str]]) -> None:
    dialect = session.get_bind().dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    rows = [{"tree": tree, "unit_code": unit.code, "level": unit.level, "month": month,
             "province_code": unit.province_code, "commune_code": unit.commune_code,
             "area_code": unit.code if unit.level == LEVEL_AREA else None,
             "values": {}, "computed_at": now} for unit, month in keys]
    # the table, not the entity: the same statement without the ORM's bulk machinery
    session.execute(insert_(RollupCell.__table__).on_conflict_do_nothing(
        index_elements=["tree", "unit_code", "month"]), rows)


def _locked(session: Session, tree: str, keys: list[tuple[Unit, str]]) -> _Cells:
    """The cells of ``keys``, locked. Looked up by units and months (the unique index
    serves both lists; a list of pairs made SQLite read every cell of the tree), so a
    cell of a listed unit and a listed month is locked too when not wanted."""
    out = _Cells()
    out.ids = {}
    wanted = {(unit.code, month) for unit, month in keys}
    months = sorted({month for _, month in wanted})
    for chunk in chunks(sorted({code for code, _ in wanted}), 400):
        for row in session.execute(
                select(RollupCell.id, RollupCell.unit_code, RollupCell.month, RollupCell.values)
                .where(RollupCell.tree == tree, RollupCell.unit_code.in_(chunk),
                       RollupCell.month.in_(months))
                .order_by(RollupCell.unit_code, RollupCell.month).with_for_update()):
            key = (row.unit_code, row.month)
            if key in wanted:
                out[key] = row.values or {}
                out.ids[key] = row.id
    return out


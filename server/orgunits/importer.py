"""Write an official list or local units into the org-unit tree, idempotently.

Re-importing the same file changes nothing; a changed name or parent is updated
in place (ids stay, so everything pointing at a unit keeps pointing at it); a unit
that disappeared from the list is marked inactive, never deleted, because old
records still refer to it. The caller owns the transaction: all or nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.base import utcnow
from server.models.orgunits import LEVEL_COMMUNE, LOCAL_LEVELS, OrgTree, OrgUnit
from server.orgunits.formats import OfficialList, UnitSpec, iter_levels

_COMPARED = ("level", "name", "full_name", "name_en", "unit_type", "parent_id", "active")


@dataclass
class ImportResult:
    tree: str
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _upsert(session: Session, tree: str, specs: Iterable[UnitSpec], by_code: dict[str, OrgUnit],
            official: bool, result: ImportResult) -> None:
    for spec in specs:
        parent = by_code.get(spec.parent_code) if spec.parent_code else None
        if spec.parent_code and parent is None:
            raise A0Error("orgunit_unknown", record=spec.parent_code)
        values = {"level": spec.level, "name": spec.name, "full_name": spec.full_name,
                  "name_en": spec.name_en, "unit_type": spec.unit_type,
                  "parent_id": parent.id if parent else None, "active": True}
        unit = by_code.get(spec.code)
        if unit is None:
            unit = OrgUnit(tree=tree, code=spec.code, official=official, depth=0, path="",
                           province_code=spec.province_code, **values)
            session.add(unit)
            by_code[spec.code] = unit
            result.created += 1
        elif any(getattr(unit, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(unit, k, v)
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()  # children of the next level need these ids


def _recompute_paths(units: Iterable[OrgUnit]) -> None:
    """Path, depth, province and commune codes follow the parent chain."""
    units = list(units)
    children: dict[int | None, list[OrgUnit]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit)

    def walk(unit: OrgUnit, path: str, depth: int, province: str | None,
             commune: str | None) -> None:
        path = f"{path}{unit.code}/"
        province = province or unit.code
        if unit.level == LEVEL_COMMUNE:
            commune = unit.code
        for attr, value in (("path", path), ("depth", depth), ("province_code", province),
                            ("commune_code", commune)):
            if getattr(unit, attr) != value:
                setattr(unit, attr, value)
        for child in children.get(unit.id, []):
            walk(child, path, depth + 1, province, commune)

    for root in children.get(None, []):
        walk(root, "/", 0, None, None)


def _load_tree(session: Session, tree: str) -> dict[str, OrgUnit]:
    return {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.tree == tree))}


def import_official(session: Session, official: OfficialList, source: str,
                    tree: str | None = None, make_current: bool = False) -> ImportResult:
    name = tree or official.tree
    result = ImportResult(name)
    record = session.get(OrgTree, name)
    current = session.scalar(select(OrgTree.name).where(OrgTree.current))
    has_current = current is not None
    if make_current and current not in (None, name) and session.scalar(
            select(OrgUnit.id).where(OrgUnit.tree == current,
                                     OrgUnit.level.in_(LOCAL_LEVELS)).limit(1)) is not None:
        # the register's villages hang under the current list: switching lists alone
        # would strand them (and every record under them) under communes no one uses
        raise A0Error("orgunit_migration_required", record=current, target=name)
    if record is None:
        record = OrgTree(name=name, current=False)
        session.add(record)
    record.title, record.levels = official.title, official.levels
    record.source, record.data_date, record.imported_at = source, official.data_date, utcnow()
    if make_current or not has_current:
        session.execute(update(OrgTree).where(OrgTree.name != name).values(current=False))
        record.current = True
    session.flush()

    by_code = _load_tree(session, name)
    for level_specs in iter_levels(official.units, official.levels):
        _upsert(session, name, level_specs, by_code, True, result)
    listed = {u.code for u in official.units}
    for unit in by_code.values():
        if unit.official and unit.active and unit.code not in listed:
            unit.active = False
            result.deactivated += 1
    _recompute_paths(by_code.values())
    session.flush()
    result.counts = level_counts(session, name)
    return result


def upsert_local_units(session: Session, tree: str, specs: list[UnitSpec]) -> ImportResult:
    """Villages and collaborator areas under a commune (not in any official list)."""
    result = ImportResult(tree)
    by_code = _load_tree(session, tree)
    for level in LOCAL_LEVELS:
        _upsert(session, tree, [s for s in specs if s.level == level], by_code, False, result)
    _recompute_paths(by_code.values())
    session.flush()
    return result


def level_counts(session: Session, tree: str) -> dict[str, int]:
    """Active units per level name, in tree order (province first)."""
    from sqlalchemy import func

    rows = session.execute(
        select(OrgUnit.level, func.count(), func.min(OrgUnit.depth))
        .where(OrgUnit.tree == tree, OrgUnit.active)
        .group_by(OrgUnit.level)
    ).all()
    return {level: count for level, count, _ in sorted(rows, key=lambda r: r[2])}

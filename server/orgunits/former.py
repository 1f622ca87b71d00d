"""Figures of a province grouped by former district (the tree before the 2025 reform had
districts; the current one has none). No Flask.

Read from the roll-ups' area cells of the current tree — an area's figures do not
depend on the tree — summed by the district each area lay in before the reform
migration that moved it (:class:`~server.models.orgunits.OrgUnitMove`). An area
made after the reform belongs to the former district all its commune's
predecessors lay in, or to none (shown apart) when they lay in several. The
roll-up computation itself is not touched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.orgunits import (
    LEVEL_AREA,
    LEVEL_DISTRICT,
    MIGRATION_APPLIED,
    OrgLineage,
    OrgMigration,
    OrgUnit,
    OrgUnitMove,
)
from server.models.rollups import RollupCell
from server.orgunits.queries import current_tree
from server.rollups.indicators import add_into, with_derived
from server.security.scope import Scope


@dataclass
class FormerDistrict:
    code: str | None          # None: areas no single former district holds
    name: str | None
    areas: int = 0
    communes: set[str] = field(default_factory=set)
    values: dict[str, Any] = field(default_factory=dict)


def district_of_areas(session: Session, tree: str, areas: dict[str, str]
                      ) -> dict[str, str | None]:
    """area → former district code; ``areas``: area → its commune now."""
    moves = dict(session.execute(
        select(OrgUnitMove.code, OrgUnitMove.old_district_code)
        .join(OrgMigration, OrgMigration.id == OrgUnitMove.migration_id)
        .where(OrgMigration.status == MIGRATION_APPLIED, OrgMigration.to_tree == tree,
               OrgUnitMove.level == LEVEL_AREA, OrgUnitMove.old_district_code.is_not(None))
        .order_by(OrgUnitMove.id)).all())
    rest = {c for a, c in areas.items() if not moves.get(a)}
    by_commune: dict[str, set[str]] = defaultdict(set)
    if rest:
        parents = {u.id: u for u in session.scalars(select(OrgUnit).where(
            OrgUnit.level == LEVEL_DISTRICT))}
        for new, parent_id in session.execute(
                select(OrgLineage.new_code, OrgUnit.parent_id)
                .join(OrgUnit, (OrgUnit.tree == OrgLineage.old_tree)
                      & (OrgUnit.code == OrgLineage.old_code))
                .where(OrgLineage.new_tree == tree, OrgLineage.new_code.in_(sorted(rest)))):
            if parent_id in parents:
                by_commune[new].add(parents[parent_id].code)
    out: dict[str, str | None] = {}
    for area, commune in areas.items():
        if moves.get(area):
            out[area] = moves[area]
        else:
            found = by_commune.get(commune, set())
            out[area] = next(iter(found)) if len(found) == 1 else None
    return out


def by_former_district(session: Session, scope: Scope, province: str, month: str
                       ) -> tuple[list[FormerDistrict], dict[str, Any]]:
    """The province's figures of ``month`` per former district (in code order, the
    unattributed last) and their total; only the areas the scope covers."""
    tree = current_tree(session)
    cells = session.execute(select(RollupCell.unit_code, RollupCell.commune_code,
                                   RollupCell.values).where(
        RollupCell.tree == tree, RollupCell.level == LEVEL_AREA, RollupCell.month == month,
        RollupCell.province_code == province, scope.where_rollup(RollupCell))).all()
    districts = district_of_areas(session, tree or "", {a: c for a, c, _ in cells})
    names = dict(session.execute(select(OrgUnit.code, OrgUnit.full_name).where(
        OrgUnit.level == LEVEL_DISTRICT,
        OrgUnit.code.in_(sorted({d for d in districts.values() if d})))).all())
    groups: dict[str | None, FormerDistrict] = {}
    total: dict[str, Any] = {}
    for area, commune, values in cells:
        code = districts.get(area)
        group = groups.setdefault(code, FormerDistrict(code, names.get(code) if code else None))
        group.areas += 1
        group.communes.add(commune)
        add_into(group.values, values)
        add_into(total, values)
    for group in groups.values():
        group.values = with_derived(group.values)
    ordered = sorted(groups.values(), key=lambda g: (g.code is None, g.code or ""))
    return ordered, with_derived(total)

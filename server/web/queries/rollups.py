"""What the roll-up pages read: one unit's cells over months, the units below it.

No Flask. Who may see a unit is decided by :meth:`Scope.covers_unit` (the national
unit ``VN``: national scope only); a unit not covered is returned as ``None`` so
the page answers 404, exactly like an unknown code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.orgunits import OrgUnit
from server.models.rollups import RollupCell
from server.rollups.store import NATIONAL_CODE, NATIONAL_LEVEL, tree_name
from server.security.scope import Scope

NATIONAL_NAME = "Toàn quốc"


@dataclass(frozen=True)
class UnitView:
    """An org unit as the pages show it (the national unit has no org-unit row)."""
    code: str
    level: str
    name: str
    id: int | None = None
    parent_code: str | None = None


def _view(unit: OrgUnit, parent_code: str | None) -> UnitView:
    return UnitView(unit.code, unit.level, unit.full_name or unit.name, unit.id, parent_code)


def home_code(scope: Scope) -> str | None:
    """The unit a user's roll-up pages open on."""
    if scope.level == "national":
        return NATIONAL_CODE
    return scope.code if scope.level in ("province", "district", "commune") else None


def find_unit(session: Session, scope: Scope, code: str) -> UnitView | None:
    """The unit ``code`` of the current tree if the scope covers it, else ``None``."""
    tree = tree_name(session)
    if code == NATIONAL_CODE:
        return UnitView(NATIONAL_CODE, NATIONAL_LEVEL, NATIONAL_NAME) \
            if scope.level == "national" else None
    unit = session.scalar(select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.code == code))
    if unit is None or scope.level == "none" or not scope.covers_unit(unit):
        return None
    parent = session.get(OrgUnit, unit.parent_id) if unit.parent_id else None
    parent_code = parent.code if parent is not None and scope.covers_unit(parent) else None
    if parent is None and scope.level == "national":
        parent_code = NATIONAL_CODE
    return _view(unit, parent_code)


def children(session: Session, scope: Scope, unit: UnitView) -> list[UnitView]:
    """The units directly below ``unit`` that the scope covers, by code."""
    tree = tree_name(session)
    stmt = select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.active)
    if unit.id is None:
        stmt = stmt.where(OrgUnit.parent_id.is_(None))
    else:
        stmt = stmt.where(OrgUnit.parent_id == unit.id)
    return [_view(u, unit.code) for u in session.scalars(stmt.order_by(OrgUnit.code))
            if scope.covers_unit(u)]


def months_of(session: Session, code: str) -> list[str]:
    """Months holding a cell for the unit, newest first."""
    return list(session.scalars(select(RollupCell.month).distinct().where(
        RollupCell.tree == tree_name(session), RollupCell.unit_code == code)
        .order_by(RollupCell.month.desc())))


def cells(session: Session, codes: Sequence[str], months: Sequence[str]
          ) -> dict[tuple[str, str], dict[str, Any]]:
    """``(unit code, month) → values`` for the given units and months."""
    if not codes or not months:
        return {}
    rows = session.execute(select(RollupCell.unit_code, RollupCell.month, RollupCell.values)
                           .where(RollupCell.tree == tree_name(session),
                                  RollupCell.unit_code.in_(list(codes)),
                                  RollupCell.month.in_(list(months))))
    return {(code, month): dict(values or {}) for code, month, values in rows}

"""Read queries over the org-unit tree (SQL lives here, not in views)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_COMMUNE, LEVEL_VILLAGE, OrgTree, OrgUnit
from server.models.rollups import RollupCell


def current_tree(session: Session) -> str | None:
    return session.scalar(select(OrgTree.name).where(OrgTree.current))


def latest_tree(session: Session) -> str | None:
    """The list imported most recently (what ``orgunits stats`` reports by default)."""
    return session.scalar(select(OrgTree.name).order_by(OrgTree.imported_at.desc()).limit(1))


def unit_by_code(session: Session, code: str, tree: str | None = None) -> OrgUnit | None:
    tree = tree or current_tree(session)
    return session.scalar(select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.code == code))


def overview(session: Session) -> list[dict[str, Any]]:
    """Communes holding register data, with households and population of the latest
    month (the landing page). Read from the roll-ups, so it costs the same for a
    village as for a million persons; a commune shows once its roll-ups exist (after
    its first batch, the nightly recompute, or ``a0sync rollup``)."""
    tree = current_tree(session)
    month = session.scalar(select(func.max(RollupCell.month)).where(
        RollupCell.tree == tree, RollupCell.level == LEVEL_COMMUNE))
    cells = {code: values for code, values in session.execute(
        select(RollupCell.unit_code, RollupCell.values).where(
            RollupCell.tree == tree, RollupCell.level == LEVEL_COMMUNE,
            RollupCell.month == month)) if values.get("population")}
    if not cells:
        return []
    villages = dict(session.execute(
        select(OrgUnit.commune_code, func.count()).where(
            OrgUnit.tree == tree, OrgUnit.level == LEVEL_VILLAGE,
            OrgUnit.commune_code.in_(cells)).group_by(OrgUnit.commune_code)).all())
    communes = list(session.scalars(select(OrgUnit).where(
        OrgUnit.tree == tree, OrgUnit.level == LEVEL_COMMUNE, OrgUnit.code.in_(cells))
        .order_by(OrgUnit.code)))
    provinces = dict(session.execute(select(OrgUnit.code, OrgUnit.full_name).where(
        OrgUnit.tree == tree, OrgUnit.code.in_({c.province_code for c in communes}))).all())
    return [{"code": c.code, "full_name": c.full_name, "province": provinces.get(c.province_code),
             "villages": villages.get(c.code, 0), "month": month,
             "households": cells[c.code].get("households", 0),
             "members": cells[c.code].get("population", 0)} for c in communes]

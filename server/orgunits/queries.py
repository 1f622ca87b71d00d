"""Read queries over the org-unit tree (SQL lives here, not in views)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_VILLAGE, OrgTree, OrgUnit


def current_tree(session: Session) -> str | None:
    return session.scalar(select(OrgTree.name).where(OrgTree.current))


def latest_tree(session: Session) -> str | None:
    """The list imported most recently (what ``orgunits stats`` reports by default)."""
    return session.scalar(select(OrgTree.name).order_by(OrgTree.imported_at.desc()).limit(1))


def unit_by_code(session: Session, code: str, tree: str | None = None) -> OrgUnit | None:
    tree = tree or current_tree(session)
    return session.scalar(select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.code == code))


def villages_for_area(session: Session, area_code: str) -> list[dict[str, str]]:
    """The villages a collaborator of area ``area_code`` may file a household under, by
    name: the area's own village first, then the commune's other active villages."""
    area = unit_by_code(session, area_code)
    if area is None or area.commune_code is None:
        return []
    rows = session.execute(select(OrgUnit.code, OrgUnit.name).where(
        OrgUnit.tree == area.tree, OrgUnit.level == LEVEL_VILLAGE, OrgUnit.active,
        OrgUnit.commune_code == area.commune_code).order_by(OrgUnit.code)).all()
    own = area.parent.code if area.parent is not None else None
    rows.sort(key=lambda r: r.code != own)
    return [{"code": r.code, "name": r.name} for r in rows]

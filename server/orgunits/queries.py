"""Read queries over the org-unit tree (SQL lives here, not in views)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import and_, bindparam, literal, null, select, union_all
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


@functools.cache
def _place_statement() -> Any:
    """:func:`place_names`' statement, built once: every pull page runs it. Rows of
    ``part`` 0 are the area, commune and province found in the current tree; rows of
    ``part`` 1 the active villages of the area's commune in that tree, by code."""
    unit, parent = OrgUnit.__table__, OrgUnit.__table__.alias("parent")
    area, village = OrgUnit.__table__.alias("area"), OrgUnit.__table__.alias("village")
    current = select(OrgTree.__table__.c.name).where(OrgTree.__table__.c.current)
    names = (select(literal(0).label("part"), unit.c.code, unit.c.full_name.label("name"),
                    unit.c.tree, unit.c.commune_code, parent.c.code.label("parent_code"))
             .select_from(unit.outerjoin(parent, parent.c.id == unit.c.parent_id))
             .where(unit.c.tree == current.scalar_subquery(),
                    unit.c.code.in_([bindparam("area"), bindparam("commune"),
                                     bindparam("province")])))
    villages = (select(literal(1), village.c.code, village.c.name, null(), null(), null())
                .select_from(area.join(village, and_(village.c.tree == area.c.tree,
                                                     village.c.commune_code
                                                     == area.c.commune_code)))
                .where(area.c.tree == current.scalar_subquery(),
                       area.c.code == bindparam("area"), village.c.level == LEVEL_VILLAGE,
                       village.c.active))
    both = union_all(names, villages).subquery()
    return select(both).order_by(both.c.part, both.c.code)


def place_names(session: Session, area_code: str, commune_code: str,
                province_code: str) -> dict[str, Any]:
    """Where an area is, for every pull page: ``{area, commune, province}`` as
    ``{"code", "name"}`` and the ``villages`` :func:`villages_for_area` gives, in one
    statement (looked up one by one it took eleven, a third of a pull page's trips
    to the database)."""
    rows = session.connection().execute(_place_statement(), {
        "area": area_code, "commune": commune_code, "province": province_code}).all()
    found = {r.code: r for r in rows if r.part == 0}
    out: dict[str, Any] = {
        key: {"code": code, "name": found[code].name if code in found else code}
        for key, code in (("area", area_code), ("commune", commune_code),
                          ("province", province_code))}
    area = found.get(area_code)
    villages: list[dict[str, str]] = []
    if area is not None and area.commune_code is not None:
        listed = [r for r in rows if r.part == 1]
        listed.sort(key=lambda r: r.code != area.parent_code)
        villages = [{"code": r.code, "name": r.name} for r in listed]
    out["villages"] = villages
    return out

"""Read queries over the org-unit tree (SQL lives here, not in views)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_COMMUNE, LEVEL_VILLAGE, OrgTree, OrgUnit
from server.models.register import Household, Member


def current_tree(session: Session) -> str | None:
    return session.scalar(select(OrgTree.name).where(OrgTree.current))


def latest_tree(session: Session) -> str | None:
    """The list imported most recently (what ``orgunits stats`` reports by default)."""
    return session.scalar(select(OrgTree.name).order_by(OrgTree.imported_at.desc()).limit(1))


def unit_by_code(session: Session, code: str, tree: str | None = None) -> OrgUnit | None:
    tree = tree or current_tree(session)
    return session.scalar(select(OrgUnit).where(OrgUnit.tree == tree, OrgUnit.code == code))


def overview(session: Session) -> list[dict[str, Any]]:
    """Communes that hold register data, with their counts (the landing page)."""
    households = dict(session.execute(
        select(Household.commune_code, func.count()).where(~Household.deleted,
                                                           Household.merged_into.is_(None))
        .group_by(Household.commune_code)).all())
    if not households:
        return []
    members = dict(session.execute(
        select(Member.commune_code, func.count()).where(~Member.deleted,
                                                        Member.merged_into.is_(None))
        .group_by(Member.commune_code)).all())
    tree = current_tree(session)
    out = []
    for commune in session.scalars(select(OrgUnit).where(
            OrgUnit.tree == tree, OrgUnit.level == LEVEL_COMMUNE,
            OrgUnit.code.in_(households))):
        villages = session.scalar(select(func.count()).where(
            OrgUnit.tree == tree, OrgUnit.level == LEVEL_VILLAGE,
            OrgUnit.commune_code == commune.code))
        province = session.scalar(select(OrgUnit.full_name).where(
            OrgUnit.tree == tree, OrgUnit.code == commune.province_code))
        out.append({"code": commune.code, "full_name": commune.full_name, "province": province,
                    "villages": villages, "households": households[commune.code],
                    "members": members.get(commune.code, 0)})
    return out

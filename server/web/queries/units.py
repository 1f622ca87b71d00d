"""What the village and area pages read: communes to choose, villages to move an area to,
and where a code (an old one too) is now. No Flask."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_COMMUNE, LEVEL_VILLAGE, LOCAL_LEVELS, OrgUnit
from server.orgunits.queries import current_tree
from server.security.scope import COMMUNE, Scope

COMMUNE_CHOICES = 300


def communes(session: Session, scope: Scope) -> list[tuple[str, str]] | None:
    """(code, name) of the communes to choose from: a commune officer's own; for wider
    scopes those holding villages, or ``None`` past :data:`COMMUNE_CHOICES` (a code box)."""
    tree = current_tree(session)
    if scope.level == COMMUNE:
        codes = {scope.code}
    else:
        codes = set(session.scalars(select(OrgUnit.commune_code).where(
            OrgUnit.tree == tree, OrgUnit.level.in_(LOCAL_LEVELS), scope.where(OrgUnit))
            .distinct().limit(COMMUNE_CHOICES + 1)))
        if len(codes) > COMMUNE_CHOICES:
            return None
    return [(u.code, u.full_name) for u in session.scalars(select(OrgUnit).where(
        OrgUnit.tree == tree, OrgUnit.level == LEVEL_COMMUNE, OrgUnit.code.in_(codes))
        .order_by(OrgUnit.code))]


def commune(session: Session, scope: Scope, code: str) -> OrgUnit | None:
    """The commune ``code`` of the current tree if the scope covers it."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.tree == current_tree(session),
                                                OrgUnit.level == LEVEL_COMMUNE,
                                                OrgUnit.code == code))
    return unit if unit is not None and scope.covers_unit(unit) else None


def villages(session: Session, scope: Scope, commune_code: str) -> list[OrgUnit]:
    """Active villages of a commune (where an area can move to)."""
    return list(session.scalars(select(OrgUnit).where(
        OrgUnit.tree == current_tree(session), OrgUnit.level == LEVEL_VILLAGE, OrgUnit.active,
        OrgUnit.commune_code == commune_code, scope.where(OrgUnit)).order_by(OrgUnit.code)))

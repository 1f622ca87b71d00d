"""Former districts as groups of communes of the current list. No Flask.

A reform migration makes the groups of the districts it carried
(:func:`server.orgunits.reform.apply_plan`). A server that starts on the new list
never migrates, yet its provinces still have staff for a former district: their
group is then read from the conversion table (lineage) the first time an account
asks for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.orgunits import (
    GROUP_FORMER_DISTRICT,
    LEVEL_COMMUNE,
    LEVEL_DISTRICT,
    OrgGroup,
    OrgLineage,
    OrgUnit,
)
from server.orgunits.queries import current_tree


def former_district(session: Session, code: str) -> OrgGroup | None:
    """The group of former district ``code`` in the current tree: the stored one, else
    one built from the lineage (new, not yet added to the session), else ``None``."""
    tree = current_tree(session)
    stored = session.scalar(select(OrgGroup).where(
        OrgGroup.tree == tree, OrgGroup.kind == GROUP_FORMER_DISTRICT, OrgGroup.code == code))
    if stored is not None:
        return stored
    district = session.scalar(select(OrgUnit).where(
        OrgUnit.level == LEVEL_DISTRICT, OrgUnit.code == code, OrgUnit.tree != tree)
        .order_by(OrgUnit.tree.desc()).limit(1))
    if district is None:
        return None
    old_communes = select(OrgUnit.code).where(OrgUnit.parent_id == district.id,
                                              OrgUnit.level == LEVEL_COMMUNE)
    new_communes = select(OrgLineage.new_code).where(
        OrgLineage.old_tree == district.tree, OrgLineage.new_tree == tree,
        OrgLineage.old_code.in_(old_communes))
    province_of = dict(session.execute(select(OrgUnit.code, OrgUnit.province_code).where(
        OrgUnit.tree == tree, OrgUnit.level == LEVEL_COMMUNE, OrgUnit.active,
        OrgUnit.code.in_(new_communes))).all())
    return group_of(tree, district, province_of)


def group_of(tree: str, district: OrgUnit, province_of: Mapping[str, str],
             migration_id: int | None = None) -> OrgGroup | None:
    """The group of ``district`` given the new communes its communes went into, each
    with its province (``province_of``): those within the province most of them are in
    (a tie: the lowest code). One rule for a migration and for a server that started on
    the new list."""
    if not province_of:
        return None
    province = min(Counter(province_of.values()).items(), key=lambda pc: (-pc[1], pc[0]))[0]
    return OrgGroup(tree=tree, kind=GROUP_FORMER_DISTRICT, code=district.code,
                    name=district.full_name, province_code=province, migration_id=migration_id,
                    communes=sorted(c for c, p in province_of.items() if p == province))

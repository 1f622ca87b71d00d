"""The org-unit tree: data, not code (DESIGN §1).

Official lists (provinces, districts before the 2025 reform, communes) and the
local units under a commune (villages, collaborator areas) share one table of any
depth. Several official lists can live side by side, each a *tree* (e.g. the
2025-03 three-level list and the 2025-07 two-level one); ``org_tree.current``
marks the one the register uses. ``path`` holds the codes from the root
(``/01/001/00001/``) so "everything below X" is one indexed prefix query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, utcnow

LEVEL_PROVINCE = "province"
LEVEL_DISTRICT = "district"
LEVEL_COMMUNE = "commune"
LEVEL_VILLAGE = "village"
LEVEL_AREA = "area"
LOCAL_LEVELS = (LEVEL_VILLAGE, LEVEL_AREA)


class OrgTree(Base):
    __tablename__ = "org_tree"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    levels: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(500))
    data_date: Mapped[str | None] = mapped_column(String(10))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    current: Mapped[bool] = mapped_column(default=False)


class OrgUnit(Base):
    __tablename__ = "org_unit"
    __table_args__ = (
        UniqueConstraint("tree", "code"),
        Index("ix_org_unit_tree_path", "tree", "path"),
        Index("ix_org_unit_tree_level", "tree", "level"),
        Index("ix_org_unit_parent", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tree: Mapped[str] = mapped_column(String(32), ForeignKey("org_tree.name"))
    code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    depth: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(250))
    name_en: Mapped[str | None] = mapped_column(String(200))
    unit_type: Mapped[str | None] = mapped_column(String(40))  # Tỉnh, Xã, Phường, Thôn…
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    path: Mapped[str] = mapped_column(String(200))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str | None] = mapped_column(String(8))
    official: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    # the Vietnam day a village or area was added locally (None: older, or official);
    # an area is expected to report from that month (server.rollups.compute.area_starts)
    created_on: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "name": self.name,
                "full_name": self.full_name, "parent": self.parent.code if self.parent else None}


# ------------------------------------------------------------ the 2025 reform
# Added with issue 13: which old commune went where, and the migrations that carry
# registers (villages, areas and everything under them) from one tree to another.


class OrgLineage(Base):
    """One link of an official conversion table: old commune → a new commune it went into.

    An old commune merged whole into one new commune has one link; one split among
    several new communes (``partly``) has one link per new commune, in the table's
    order (``rank``). A code the other tree does not hold is kept all the same, so
    the migration plan can report it instead of silently dropping it.
    """

    __tablename__ = "org_lineage"
    __table_args__ = (
        UniqueConstraint("old_tree", "old_code", "new_tree", "new_code"),
        Index("ix_org_lineage_new", "new_tree", "new_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    old_tree: Mapped[str] = mapped_column(String(32))
    old_code: Mapped[str] = mapped_column(String(32))
    new_tree: Mapped[str] = mapped_column(String(32))
    new_code: Mapped[str] = mapped_column(String(32))
    partly: Mapped[bool] = mapped_column(default=False)
    rank: Mapped[int] = mapped_column(default=0)
    effective_date: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(500))


MIGRATION_APPLIED = "applied"
MIGRATION_UNDONE = "undone"
KIND_REFORM = "reform"  # a whole plan: every village of an old list into a new one
KIND_MOVE = "move"      # a village or area moved by hand (a0sync areas move)
GROUP_FORMER_DISTRICT = "former_district"


class OrgMigration(Base):
    """One move of local units (and all they hold) to other parents, undoable.

    ``kind`` is ``reform`` (a whole plan: every village of the old tree into the new
    one, which becomes current) or ``move`` (``a0sync areas move``). What each unit
    was before is in :class:`OrgUnitMove`; what each web account was before is in
    ``users``; ``rows`` is the plan as applied, ``summary`` its totals.
    """

    __tablename__ = "org_migration"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_tree: Mapped[str | None] = mapped_column(String(32))
    to_tree: Mapped[str] = mapped_column(String(32))
    previous_current: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default=MIGRATION_APPLIED)
    applied_by: Mapped[str] = mapped_column(String(80))
    applied_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    undone_by: Mapped[str | None] = mapped_column(String(80))
    undone_at: Mapped[dt.datetime | None]
    rows: Mapped[list[Any]] = mapped_column(JSON, default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    users: Mapped[list[Any]] = mapped_column(JSON, default=list)


class OrgUnitMove(Base):
    """A village or area as it was before a migration moved it, and where it went.

    Also the lineage of local units: an area's former commune and district stay
    known (grouping by former district, old codes in search). ``unit_id`` is empty
    for an area that only the register knows (no org unit). ``seq_offset`` and
    ``undo_seq_offset``: what the move added to the change sequence of the area's
    rows, so every moved row is delivered once more and no two rows share a number.
    """

    __tablename__ = "org_unit_move"
    __table_args__ = (
        Index("ix_org_unit_move_migration", "migration_id", "level", "code"),
        Index("ix_org_unit_move_code", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    migration_id: Mapped[int] = mapped_column(ForeignKey("org_migration.id"))
    unit_id: Mapped[int | None]
    code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    village_code: Mapped[str | None] = mapped_column(String(32))
    old_tree: Mapped[str | None] = mapped_column(String(32))
    old_parent_id: Mapped[int | None]
    old_path: Mapped[str | None] = mapped_column(String(200))
    old_depth: Mapped[int | None]
    old_province_code: Mapped[str] = mapped_column(String(8))
    old_district_code: Mapped[str | None] = mapped_column(String(8))
    old_commune_code: Mapped[str] = mapped_column(String(8))
    new_parent_id: Mapped[int | None]
    new_province_code: Mapped[str] = mapped_column(String(8))
    new_commune_code: Mapped[str] = mapped_column(String(8))
    seq_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    undo_seq_offset: Mapped[int] = mapped_column(BigInteger, default=0)


class MigrationChoice(Base):
    """A person's choice of new commune for a village (or a register-only area) of a
    split or unmapped old commune, made on the dashboard before the plan is applied."""

    __tablename__ = "migration_choice"

    to_tree: Mapped[str] = mapped_column(String(32), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    new_commune: Mapped[str] = mapped_column(String(8))
    chosen_by: Mapped[str] = mapped_column(String(80))
    chosen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OrgGroup(Base):
    """A named set of communes of one province: a former district, after the reform.

    Province staff bound to a group (the district staff of before) see its communes
    only (:class:`server.security.scope.Scope`).
    """

    __tablename__ = "org_group"
    __table_args__ = (UniqueConstraint("tree", "kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tree: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(24))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(250))
    province_code: Mapped[str] = mapped_column(String(8))
    communes: Mapped[list[str]] = mapped_column(JSON, default=list)
    migration_id: Mapped[int | None] = mapped_column(ForeignKey("org_migration.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

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

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
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
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "name": self.name,
                "full_name": self.full_name, "parent": self.parent.code if self.parent else None}

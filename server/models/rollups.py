"""Roll-up cells and job locks (DESIGN §5).

One :class:`RollupCell` holds every indicator of one org unit for one month, as a
flat JSON object ``{"population.female.15-19": 41, "births.male": 2, ...}``. One
row per (unit, month) rather than one per value keeps a full recompute of a
million persons to a few tens of thousands of rows written; exports flatten it.
The cell carries ``province_code`` like every large table (national: ``""``).

:class:`JobLock` is the SQLite stand-in for PostgreSQL's advisory locks: a row per
job, taken with a conditional UPDATE and released (or expiring) afterwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, utcnow


class RollupCell(Base):
    __tablename__ = "rollup_cell"
    __table_args__ = (
        UniqueConstraint("tree", "unit_code", "month"),
        Index("ix_rollup_cell_level_month", "tree", "level", "month"),
        Index("ix_rollup_cell_province_month", "province_code", "month"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tree: Mapped[str] = mapped_column(String(32))
    unit_code: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str | None] = mapped_column(String(8))
    area_code: Mapped[str | None] = mapped_column(String(32))  # area cells: so Scope.where applies
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobLock(Base):
    __tablename__ = "job_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime | None]
    last_slot: Mapped[str | None] = mapped_column(String(40))  # the scheduled run last done
    last_run_at: Mapped[dt.datetime | None]

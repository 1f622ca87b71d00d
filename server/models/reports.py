"""The monthly P0 slips collaborators close (DESIGN §5: reporting follows the law's calendar).

One row per slip as sent: a correction of a closed month is a new slip with its
own id, and the latest by ``(hlc, device_id)`` is the one that counts; the first
one received decides timeliness. ``counts`` holds, per P0 section, how many
entries dated in the month the device held when it closed the slip; the server
compares them with what it holds (:mod:`server.reporting`). Like every register
table it carries its province, commune and area codes and a change sequence.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class P0Report(Base):
    __tablename__ = "p0_report"
    __table_args__ = (
        Index("ix_p0_report_area_month", "area_code", "month"),
        Index("ix_p0_report_commune_month", "commune_code", "month"),
        Index("ix_p0_report_province_seq", "province_code", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))
    month: Mapped[str] = mapped_column(String(7))        # YYYY-MM reported on
    closed_on: Mapped[str] = mapped_column(String(10))   # the collaborator's date
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)  # section → entries
    form_version: Mapped[int]
    hlc: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # by the server
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

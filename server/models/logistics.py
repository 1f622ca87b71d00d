"""Contraceptive logistics (LMIS): stock movements and the alerts the station reviews.

A :class:`StockMovement` is one record of a ``stock_*`` form, written by a
collaborator's device or by the commune health station (the server's own writer),
through the same sealed-batch ingestion as the register: append-only, voided rather
than edited, numbered by the province's change sequence so devices and district
systems pull it. ``area_code`` is the collaborator's side (empty for what concerns
the station alone); ``quantity`` is what the ledger adds or takes
(:mod:`a0core.stock`: counted − book balance for a count, the quantity received for a
confirmation), and ``payload`` the record as validated.

A :class:`StockFlag` is something the station should look at: a balance that went
below zero (movements delivered in any order are applied, never dropped), or a
transfer confirmed with another quantity, or confirmed after it was withdrawn. The
after-batch hook opens and clears them; staff mark them reviewed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, utcnow
from server.models.register import RegisterRow

OPEN, REVIEWED, CLEARED = "open", "reviewed", "cleared"


class StockMovement(RegisterRow, Base):
    __tablename__ = "stock_movement"
    __table_args__ = (
        Index("ix_stock_movement_area_seq", "area_code", "seq"),
        Index("ix_stock_movement_commune_day", "commune_code", "day"),
        Index("ix_stock_movement_province_seq", "province_code", "seq"),
        Index("ix_stock_movement_target", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[int]
    method: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int]
    day: Mapped[str] = mapped_column(String(10))  # the form's date (received, issued, …)
    lot: Mapped[str | None] = mapped_column(String(40))
    expiry: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str | None] = mapped_column(String(20))  # dispensed: free | … | sold
    unit_price: Mapped[int | None] = mapped_column(BigInteger)
    target_id: Mapped[str | None] = mapped_column(String(36))  # a confirmation's transfer
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    hlc: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    voided: Mapped[bool] = mapped_column(default=False)


class StockMonth(Base):
    """A holder's stored month for one method (:mod:`server.logistics.balances`): what
    the months after it carry on from, so that the work after a batch reads only the
    movements from the first month the batch touched. One row per month from the
    ledger's start to the last month computed; rewritten from a month on whenever a
    movement changes it (a full recompute rewrites them all)."""

    __tablename__ = "stock_month"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # ctv | station
    holder: Mapped[str] = mapped_column(String(32), primary_key=True)  # area | commune
    method: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closing: Mapped[int] = mapped_column(BigInteger)
    distributed: Mapped[int] = mapped_column(BigInteger)
    issued: Mapped[int] = mapped_column(BigInteger)
    in_transit: Mapped[int] = mapped_column(BigInteger)
    # the month's first day that ended below zero, its balance and the movement to look at
    negative_day: Mapped[str | None] = mapped_column(String(10))
    negative_balance: Mapped[int | None] = mapped_column(BigInteger)
    negative_movement: Mapped[str | None] = mapped_column(String(80))


class StockFlag(Base):
    __tablename__ = "stock_flag"
    __table_args__ = (
        Index("ix_stock_flag_commune_status", "commune_code", "status", "opened_at"),
        Index("ix_stock_flag_holder", "commune_code", "area_code", "method", "code", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))  # "" : the station's own stock
    method: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(48))  # stock_negative | stock_confirm_… (errors.json)
    movement_id: Mapped[str] = mapped_column(String(36))  # the movement to look at
    day: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=OPEN)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[dt.datetime | None]
    note: Mapped[str | None] = mapped_column(String(200))

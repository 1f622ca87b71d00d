"""What sync remembers: batches and their receipts, every operation's verdict,
each device's sequence state, conflicts for review, and aliases of merged records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, utcnow

APPLIED = "applied"
DUPLICATE = "duplicate"
WAITING = "waiting"
CONFLICT = "conflict"
REJECTED = "rejected"
VERDICTS = (APPLIED, DUPLICATE, WAITING, CONFLICT, REJECTED)

# Conditions of the ledger's partial indexes. Queries use these very clauses (not a
# bound parameter) so both databases can prove the index applies.
WAITING_ONLY = text("status = 'waiting'")
UPSERTS_ONLY = text("type = 'upsert'")


class SyncBatch(Base):
    """One sealed batch received, by network or by hand, and the receipt it got."""

    __tablename__ = "sync_batch"
    __table_args__ = (Index("ix_sync_batch_device", "device_id", "received_at"),
                      Index("ix_sync_batch_commune", "commune_code", "received_at"),
                      # an area's batches by month (roll-ups: synced, first month)
                      Index("ix_sync_batch_area", "area_code", "received_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    op_count: Mapped[int]
    body_hash: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str] = mapped_column(String(8))  # https | file
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    clock_skew_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)


class SyncOp(Base):
    """An operation stored once per (device, seq): the exactly-once ledger."""

    __tablename__ = "sync_op"
    __table_args__ = (
        # partial: only these rows are ever looked up this way (migration 0008)
        Index("ix_sync_op_entity", "entity_id", sqlite_where=UPSERTS_ONLY,
              postgresql_where=UPSERTS_ONLY),
        Index("ix_sync_op_waiting", "waiting_on", sqlite_where=WAITING_ONLY,
              postgresql_where=WAITING_ONLY),
        Index("ix_sync_op_device_status", "device_id", "status"),
    )

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    op_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(36))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))
    hlc: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    form: Mapped[str | None] = mapped_column(String(32))
    form_version: Mapped[int | None]
    entity_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(12))
    code: Mapped[str | None] = mapped_column(String(48))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    waiting_on: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # verdict change, for pull


class DeviceSync(Base):
    """A device's sequence state as the server sees it: what arrived, what is missing."""

    __tablename__ = "device_sync"

    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), primary_key=True)
    highest_contiguous_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[first, last], ...]
    last_batch_at: Mapped[dt.datetime | None]
    last_pull_at: Mapped[dt.datetime | None]
    pull_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_clock_skew_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hlc: Mapped[int] = mapped_column(BigInteger, default=0)


class Conflict(Base):
    """Two concurrent writes of one field with different values, kept for review.

    ``a`` is the write with the smaller stamp, ``b`` the larger (the one applied),
    so the same pair always makes the same row whatever order it arrived in.
    """

    __tablename__ = "conflict"
    __table_args__ = (
        UniqueConstraint("entity_id", "field", "a_hlc", "a_device", "b_hlc", "b_device"),
        Index("ix_conflict_commune_status", "commune_code", "status"),
        Index("ix_conflict_area_seq", "area_code", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(36))
    field: Mapped[str] = mapped_column(String(48))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))
    a_hlc: Mapped[int] = mapped_column(BigInteger)
    a_device: Mapped[str] = mapped_column(String(36))
    a_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    b_hlc: Mapped[int] = mapped_column(BigInteger)
    b_device: Mapped[str] = mapped_column(String(36))
    b_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|resolved|superseded
    resolved_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[dt.datetime | None]
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Alias(Base):
    """A merged duplicate: operations on ``old_id`` land on ``survivor_id``."""

    __tablename__ = "alias"
    __table_args__ = (Index("ix_alias_survivor", "survivor_id"),
                      Index("ix_alias_area_seq", "area_code", "seq"))

    old_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(String(36))
    entity: Mapped[str] = mapped_column(String(16))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)  # False once a merge is undone
    merged_by: Mapped[str | None] = mapped_column(String(80))
    merged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class FollowUp(Base):
    """Work a batch leaves for after its commit (roll-ups, duplicate detection): queued in
    the batch's own transaction, so it is there exactly when the batch is, and done by
    :mod:`server.sync.followups` without the device waiting for it."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_kind", "kind", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # rollups | duplicates | …
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)  # failed runs; set aside from MAX_ATTEMPTS
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

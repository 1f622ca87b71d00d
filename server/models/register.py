"""The register: households, members, events and distributions (DESIGN §2).

Entities (households, members) hold their merged form fields in ``data`` and, for
each field, the ``(hlc, device)`` of the write that won in ``clocks``: that is
what field-level last-writer-wins merging needs. The columns beside them are
materialised for queries: the fields people search and count by, and the
person's state folded from events (:mod:`a0core.projection`).

Every table carries its province and commune codes (DESIGN §7), so it can be
partitioned or distributed by province later, and ``seq``: the server change
sequence that devices and district systems pull from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow
from server.models.clocks import PackedClocks


class RegisterRow:
    """Columns every register table carries: place, change sequence, timestamps."""

    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(8))
    area_code: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MergedEntity(RegisterRow):
    """Entities that merge field by field and can be merged into a duplicate."""

    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # per field, the stamp of the write that won it; packed by stamp (server.models.clocks)
    clocks: Mapped[dict[str, Any]] = mapped_column(PackedClocks, default=dict)
    deleted: Mapped[bool] = mapped_column(default=False)       # tombstone
    merged_into: Mapped[str | None] = mapped_column(String(36))  # surviving id after a merge


class Household(MergedEntity, Base):
    __tablename__ = "household"
    __table_args__ = (
        Index("ix_household_area_seq", "area_code", "seq"),
        Index("ix_household_commune", "commune_code", "area_code", "number"),
        Index("ix_household_province_seq", "province_code", "seq"),
        Index("ix_household_merged_into", "merged_into"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    village_code: Mapped[str | None] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(12))
    address: Mapped[str | None] = mapped_column(String(200))
    head_member_id: Mapped[str | None] = mapped_column(String(36))


class Member(MergedEntity, Base):
    __tablename__ = "member"
    __table_args__ = (
        Index("ix_member_household", "household_id"),
        Index("ix_member_area_seq", "area_code", "seq"),
        # duplicate blocking: ids straight from the index (server.sync.duplicates.detect)
        Index("ix_member_block_initials", "block_initials", "commune_code", "id"),
        Index("ix_member_block_pair", "block_pair", "commune_code", "id"),
        Index("ix_member_block_sound", "block_sound", "commune_code", "id"),
        Index("ix_member_block_date", "block_date", "commune_code", "id"),
        Index("ix_member_id_number", "id_number", "commune_code", "id"),
        Index("ix_member_block_card", "block_card", "commune_code", "id"),
        Index("ix_member_mother", "mother_id"),
        Index("ix_member_province_seq", "province_code", "seq"),

        # covers the roll-up scans (server.rollups.compute): the index, not the wide rows
        # (household second: persons per household are counted in index order, unsorted)
        Index("ix_member_rollup", "area_code", "household_id", "birth_date", "sex",
              "residence_status", "marital_status", "current_method", "registered_on",
              "recorded_on", "deleted", "merged_into", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"))
    full_name: Mapped[str] = mapped_column(String(100))
    # duplicate blocking keys (server.sync.duplicates.scoring.block_columns)
    block_initials: Mapped[str | None] = mapped_column(String(120))
    block_pair: Mapped[str | None] = mapped_column(String(120))
    block_sound: Mapped[str | None] = mapped_column(String(120))
    block_date: Mapped[str | None] = mapped_column(String(120))
    # the personal identification number (member form v2, or a card that carries it)
    id_number: Mapped[str | None] = mapped_column(String(12))
    block_card: Mapped[str | None] = mapped_column(String(10))  # social-insurance number
    relation: Mapped[str | None] = mapped_column(String(24))
    sex: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD or YYYY
    birth_year: Mapped[int]
    ethnicity: Mapped[str | None] = mapped_column(String(32))
    bhyt_number: Mapped[str | None] = mapped_column(String(15))
    mother_id: Mapped[str | None] = mapped_column(String(36))
    # state folded from the member's facts (a0core.projection.STATE_FIELDS)
    residence_status: Mapped[str | None] = mapped_column(String(16))
    marital_status: Mapped[str | None] = mapped_column(String(16))
    current_method: Mapped[str | None] = mapped_column(String(32))
    method_start: Mapped[str | None] = mapped_column(String(10))
    living_children: Mapped[int | None]
    pregnant: Mapped[bool] = mapped_column(default=False)
    expected_date: Mapped[str | None] = mapped_column(String(10))
    death_date: Mapped[str | None] = mapped_column(String(10))
    moved_out_on: Mapped[str | None] = mapped_column(String(10))
    # dates of the member's own records, for roll-ups (server.rollups): since when known
    registered_on: Mapped[str | None] = mapped_column(String(10))
    recorded_on: Mapped[str | None] = mapped_column(String(10))


class Event(RegisterRow, Base):
    """An append-only fact from the change slip. A correction voids it; never edited."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_member", "member_id", "event_date"),
        Index("ix_event_household", "household_id"),
        Index("ix_event_commune_date", "commune_code", "event_date"),
        Index("ix_event_area_seq", "area_code", "seq"),
        Index("ix_event_province_seq", "province_code", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form: Mapped[str] = mapped_column(String(32))
    form_version: Mapped[int]
    household_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str] = mapped_column(String(36))
    event_date: Mapped[str] = mapped_column(String(10))
    hlc: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    voided: Mapped[bool] = mapped_column(default=False)


class Distribution(RegisterRow, Base):
    """Contraceptives handed out by a collaborator; append-only like events."""

    __tablename__ = "distribution"
    __table_args__ = (
        Index("ix_distribution_commune_date", "commune_code", "distributed_on"),
        Index("ix_distribution_area_seq", "area_code", "seq"),
        Index("ix_distribution_province_seq", "province_code", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[str | None] = mapped_column(String(36))
    method: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int]
    distributed_on: Mapped[str] = mapped_column(String(10))
    # free | social_marketing | sold (code list distribution_source); None before form v2
    source: Mapped[str | None] = mapped_column(String(20))
    # the price per unit when socially marketed or sold (VND; form v3); None otherwise
    unit_price: Mapped[int | None] = mapped_column(BigInteger)
    form_version: Mapped[int]
    hlc: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    voided: Mapped[bool] = mapped_column(default=False)


class ChangeCounter(Base):
    """The change sequence of one province: what devices and district systems pull by.

    A batch reserves its numbers with one row update that holds the row lock until
    commit, so numbers become visible in order and a cursor never skips a change
    that commits late. One counter per province keeps provinces independent.
    """

    __tablename__ = "change_counter"

    province_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

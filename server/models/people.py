"""Who acts on the register: web users, collaborators, their devices; and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, BigId, utcnow
from server.models.orgunits import OrgGroup, OrgUnit

ROLE_COMMUNE = "commune_staff"
ROLE_DISTRICT = "district_staff"
ROLE_PROVINCE = "province_staff"
ROLE_ADMIN = "admin"
ROLES = (ROLE_COMMUNE, ROLE_DISTRICT, ROLE_PROVINCE, ROLE_ADMIN)


class User(Base):
    """A web user (commune, district, province staff, administrator), bound to an org unit."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(24))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    # province staff limited to a group of communes (a former district, issue 13)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("org_group.id"))
    # the scope ("district:180") before the last reform migration moved the account:
    # district API cursors made under it go on (server.district.feeds)
    former_scope: Mapped[str | None] = mapped_column(String(64))
    # sealed under the TOTP key kept outside the database (server/security/at_rest.py)
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    # district/province staff see roll-ups; person-level records only when granted
    person_access: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    org_unit: Mapped[OrgUnit | None] = relationship()
    group: Mapped[OrgGroup | None] = relationship()


class Collaborator(Base):
    """A village population collaborator (CTV) responsible for one area."""

    __tablename__ = "collaborator"
    # the sync status list's order within a commune, and within a province
    __table_args__ = (Index("ix_collaborator_list", "commune_code", "area_code", "full_name", "id"),
                      Index("ix_collaborator_province_list", "province_code", "commune_code",
                            "area_code", "full_name", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str] = mapped_column(String(8))
    province_code: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    devices: Mapped[list[Device]] = relationship(back_populates="collaborator")


class Device(Base):
    """A phone or tablet enrolled for one collaborator and one area; its keys sign its batches."""

    __tablename__ = "device"
    __table_args__ = (Index("ix_device_commune", "commune_code"),
                      Index("ix_device_province", "province_code"),
                      Index("ix_device_collaborator", "collaborator_id"))  # the status list's join

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collaborator_id: Mapped[int] = mapped_column(ForeignKey("collaborator.id"))
    area_code: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str] = mapped_column(String(8))
    province_code: Mapped[str] = mapped_column(String(8))
    sign_public_key: Mapped[str] = mapped_column(String(64))  # Ed25519, base64
    box_public_key: Mapped[str] = mapped_column(String(64))   # X25519, base64
    label: Mapped[str | None] = mapped_column(String(120))
    enrolled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]

    collaborator: Mapped[Collaborator] = relationship(back_populates="devices")

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class EnrolmentCode(Base):
    """A single-use, short-lived code that binds a new device to one collaborator and area.

    Only a hash of the code is stored: a database reader cannot enrol a device.
    """

    __tablename__ = "enrolment_code"
    __table_args__ = (Index("ix_enrolment_code_commune", "commune_code", "created_at"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    collaborator_id: Mapped[int] = mapped_column(ForeignKey("collaborator.id"))
    area_code: Mapped[str] = mapped_column(String(32))
    commune_code: Mapped[str] = mapped_column(String(8))
    province_code: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(36))
    # what the device sent, so that a retry after a lost answer gets the same answer
    used_with: Mapped[str | None] = mapped_column(String(64))

    collaborator: Mapped[Collaborator] = relationship()


class AuditLog(Base):
    """Who did what to whose data: enrolments, logins, reviews, merges, exports, reads."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_commune_at", "commune_code", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(16))  # user | device | system
    actor_id: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str | None] = mapped_column(String(200))
    province_code: Mapped[str | None] = mapped_column(String(8))
    commune_code: Mapped[str | None] = mapped_column(String(8))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    row_count: Mapped[int | None] = mapped_column(BigInteger)

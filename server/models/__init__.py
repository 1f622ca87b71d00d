"""SQLAlchemy models. Import from here so Alembic sees every table."""

from server.models.base import Base, db
from server.models.orgunits import OrgTree, OrgUnit
from server.models.people import AuditLog, Collaborator, Device, EnrolmentCode, User
from server.models.register import (
    ChangeCounter,
    Distribution,
    Event,
    Household,
    Member,
)
from server.models.sync import Alias, Conflict, DeviceSync, SyncBatch, SyncOp

__all__ = [
    "Alias", "AuditLog", "Base", "ChangeCounter", "Collaborator", "Conflict", "Device",
    "DeviceSync", "Distribution", "EnrolmentCode", "Event", "Household", "Member", "OrgTree",
    "OrgUnit", "SyncBatch", "SyncOp", "User", "db",
]
import server.models.rollups  # noqa: F401  (roll-up tables, for Alembic)

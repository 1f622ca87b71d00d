"""SQLAlchemy models. Import from here so Alembic sees every table."""

from server.models.accounts import LoginAttempt
from server.models.base import Base, db
from server.models.duplicates import DuplicateCandidate
from server.models.logistics import StockFlag, StockMovement
from server.models.orgunits import (
    MigrationChoice,
    OrgGroup,
    OrgLineage,
    OrgMigration,
    OrgTree,
    OrgUnit,
    OrgUnitMove,
)
from server.models.people import AuditLog, Collaborator, Device, EnrolmentCode, User
from server.models.register import (
    ChangeCounter,
    Distribution,
    Event,
    Household,
    Member,
)
from server.models.reports import P0Report
from server.models.rollups import JobLock, RollupCell
from server.models.sync import Alias, Conflict, DeviceSync, FollowUp, SyncBatch, SyncOp
from server.models.tokens import ApiToken

__all__ = [
    "Alias",
    "ApiToken",
    "AuditLog",
    "Base",
    "ChangeCounter",
    "Collaborator",
    "Conflict",
    "Device",
    "DeviceSync",
    "Distribution",
    "DuplicateCandidate",
    "EnrolmentCode",
    "Event",
    "FollowUp",
    "Household",
    "JobLock",
    "LoginAttempt",
    "Member",
    "MigrationChoice",
    "OrgGroup",
    "OrgLineage",
    "OrgMigration",
    "OrgTree",
    "OrgUnit",
    "OrgUnitMove",
    "P0Report",
    "RollupCell",
    "StockFlag",
    "StockMovement",
    "SyncBatch",
    "SyncOp",
    "User",
    "db",
]

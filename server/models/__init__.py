"""SQLAlchemy models. Import from here so Alembic sees every table."""

from server.models.accounts import LoginAttempt
from server.models.base import Base, db
from server.models.duplicates import DuplicateCandidate
from server.models.orgunits import OrgTree, OrgUnit
from server.models.people import AuditLog, Collaborator, Device, EnrolmentCode, User
from server.models.register import (
    ChangeCounter,
    Distribution,
    Event,
    Household,
    Member,
)
from server.models.rollups import JobLock, RollupCell
from server.models.sync import Alias, Conflict, DeviceSync, SyncBatch, SyncOp
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
    "Household",
    "JobLock",
    "LoginAttempt",
    "Member",
    "OrgTree",
    "OrgUnit",
    "RollupCell",
    "SyncBatch",
    "SyncOp",
    "User",
    "db",
]

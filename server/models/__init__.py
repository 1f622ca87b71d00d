"""SQLAlchemy models. Import from here so Alembic sees every table."""

from server.models.base import Base, db
from server.models.orgunits import OrgTree, OrgUnit
from server.models.people import AuditLog, Collaborator, Device, User
from server.models.register import (
    ChangeCounter,
    Distribution,
    Event,
    Household,
    Member,
)

__all__ = [
    "AuditLog", "Base", "ChangeCounter", "Collaborator", "Device", "Distribution", "Event",
    "Household", "Member", "OrgTree", "OrgUnit", "User", "db",
]

"""API tokens: how district systems (machines) act as a web user over the JSON API.

Only a SHA-256 hash of the token is stored. The token itself is 32 random bytes
(256 bits), so a fast hash is enough: nobody can guess a preimage, and a
database reader learns nothing they could send. The token acts with its user's
role and org unit; revoking it (or deactivating the user) stops it at the next
request.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, utcnow
from server.models.people import User


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    label: Mapped[str] = mapped_column(String(120))
    hint: Mapped[str] = mapped_column(String(12))  # first characters, to tell tokens apart
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

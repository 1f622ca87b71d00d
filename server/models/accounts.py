"""Web account security state kept in the database, so every gunicorn worker sees it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, BigId, utcnow


class LoginAttempt(Base):
    """One login attempt (password or TOTP step), successful or not.

    Throttling counts recent failures per username and per client address from
    this table; ``totp_step`` of a successful TOTP login stops a code being
    replayed within its validity window.
    """

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(80))  # as typed, normalised; may not exist
    ip: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None]
    success: Mapped[bool] = mapped_column(default=False)
    step: Mapped[str] = mapped_column(String(12))  # password | totp
    totp_step: Mapped[int | None] = mapped_column(BigInteger)


class WebSession(Base):
    """A dashboard login, so it can end on the server, not only in the browser.

    The session cookie carries a random token; only its SHA-256 is kept here, so
    the table leaking does not let anyone in. Logging out, a new password, a TOTP
    reset or deactivating the account revoke the sessions at once, whatever copy
    of the cookie is still around.
    """

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_user", "user_id"),
                      Index("ix_web_session_expires", "expires_at"))

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))

"""Dashboard logins kept on the server (:class:`~server.models.accounts.WebSession`).

No Flask here: the login form (:mod:`server.security.session`), the users' CLI and
account changes in :mod:`server.security.users` all end sessions through these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.models.accounts import WebSession
from server.models.base import utcnow
from server.models.people import User

DEFAULT_LIFETIME = dt.timedelta(hours=8)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(dbs: Session, user: User, lifetime: dt.timedelta = DEFAULT_LIFETIME,
                 ip: str | None = None) -> str:
    """Record a new login of ``user``; return the token its cookie carries."""
    token = secrets.token_urlsafe(32)
    dbs.add(WebSession(token_hash=_hash(token), user_id=user.id, ip=ip,
                       expires_at=utcnow() + lifetime))
    dbs.flush()
    return token


def session_user(dbs: Session, token: object) -> User | None:
    """The active user of a live session ``token``, or ``None``."""
    if not isinstance(token, str) or len(token) > 100:
        return None
    user = dbs.scalar(select(User).join(WebSession, WebSession.user_id == User.id).where(
        WebSession.token_hash == _hash(token), WebSession.revoked_at.is_(None),
        WebSession.expires_at > utcnow()))
    return user if user is not None and user.active else None


def end_session(dbs: Session, token: object) -> None:
    if isinstance(token, str):
        _revoke(dbs, WebSession.token_hash == _hash(token))


def end_sessions_of(dbs: Session, user_id: int) -> int:
    """Revoke every live session of a user (new password, TOTP reset, deactivation)."""
    return _revoke(dbs, WebSession.user_id == user_id)


def _revoke(dbs: Session, *where: Any) -> int:
    return dbs.execute(update(WebSession).where(*where, WebSession.revoked_at.is_(None))
                       .values(revoked_at=utcnow())).rowcount or 0


def purge_sessions(dbs: Session, older_than: dt.timedelta,
                   now: dt.datetime | None = None) -> int:
    """Forget sessions that ended (expired or revoked) more than ``older_than`` ago."""
    cutoff = (now or utcnow()) - older_than
    return dbs.execute(delete(WebSession).where(
        (WebSession.expires_at < cutoff) | (WebSession.revoked_at < cutoff))).rowcount or 0

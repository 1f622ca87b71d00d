"""API tokens for district systems: create, revoke, authenticate. No Flask.

A district system is a machine, not a person at a browser: it sends
``Authorization: Bearer <token>`` and acts as the web user the token was made
for, with that user's role and org unit (:meth:`Scope.for_user`). The token is
shown once, when made; only its SHA-256 hash is kept (see
:mod:`server.models.tokens`). Creation and revocation are audited; use is
recorded as ``last_used_at`` (at most once a minute, so reading does not turn
every page into a write).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.base import utcnow
from server.models.people import User
from server.models.tokens import ApiToken
from server.security import audit
from server.security.users import find_user

PREFIX = "a0t_"
MAX_LABEL = 120
MAX_TOKEN_CHARS = 200
TOUCH_EVERY = dt.timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def create_token(session: Session, username: str, label: str, *,
                 created_by: str) -> tuple[str, ApiToken]:
    """A new token for an active user: ``(token, row)``; the token is never stored."""
    user = find_user(session, username)
    if user is None or not user.active:
        raise A0Error("user_unknown", record=str(username)[:80])
    clean = " ".join(label.split()) if isinstance(label, str) else ""
    if not clean:
        raise A0Error("field_required", field="label", label_vi="Nhãn", label_en="Label")
    if len(clean) > MAX_LABEL:
        raise A0Error("field_too_long", field="label", label_vi="Nhãn", label_en="Label",
                      max_length=MAX_LABEL)
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=token_hash(token), user_id=user.id, label=clean,
                   hint=token[:len(PREFIX) + 4], created_by=created_by[:80],
                   created_at=utcnow())
    session.add(row)
    session.flush()
    unit = user.org_unit
    audit.record(session, created_by, "api_token.create", target=f"user:{user.username}",
                 province_code=unit.province_code if unit is not None else None,
                 commune_code=unit.commune_code if unit is not None else None,
                 details={"token_id": row.id, "label": clean})
    return token, row


def revoke_token(session: Session, token_id: int, *, by: str) -> ApiToken:
    """Revoke at once; revoking a revoked token changes nothing (and is not an error)."""
    row = session.get(ApiToken, token_id) if type(token_id) is int else None
    if row is None:
        raise A0Error("api_token_unknown", record=str(token_id)[:40])
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, by, "api_token.revoke", target=f"user:{row.user.username}",
                     details={"token_id": row.id, "label": row.label})
    return row


def list_tokens(session: Session, username: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if username is not None:
        user = find_user(session, username)
        if user is None:
            raise A0Error("user_unknown", record=str(username)[:80])
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header, or ``api_token_missing``."""
    if not header:
        raise A0Error("api_token_missing")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise A0Error("api_token_missing")
    return value.strip()


def authenticate_token(session: Session, token: str, now: dt.datetime | None = None) -> ApiToken:
    """The live token row for ``token``; refuses an unknown, malformed or revoked one."""
    if not token.startswith(PREFIX) or len(token) > MAX_TOKEN_CHARS:
        raise A0Error("api_token_invalid")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or not row.user.active:
        raise A0Error("api_token_invalid")
    if row.revoked:
        raise A0Error("api_token_revoked")
    now = now or utcnow()
    if row.last_used_at is None or now - _aware(row.last_used_at) >= TOUCH_EVERY:
        row.last_used_at = now
    return row


def token_summary(row: ApiToken) -> dict[str, object]:
    def iso(value: dt.datetime | None) -> str | None:
        return _aware(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None

    return {"id": row.id, "username": row.user.username, "label": row.label,
            "hint": row.hint, "created_at": iso(row.created_at),
            "last_used_at": iso(row.last_used_at), "revoked_at": iso(row.revoked_at),
            "status": "revoked" if row.revoked else "active"}

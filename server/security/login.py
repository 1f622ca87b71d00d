"""The web login flow: throttling, password, optional TOTP, audit. No Flask.

Throttling lives in the database (``login_attempt``) so that every gunicorn
worker counts the same failures:

* per account: :data:`ACCOUNT_FAILURES` failures within :data:`WINDOW` since its
  last successful login lock the account until the oldest of them leaves the
  window (``user_account.locked_until`` shows it);
* per client address: :data:`IP_FAILURES` failures within :data:`WINDOW`, whatever
  usernames they tried, lock that address the same way.

The password asked again of a logged-in user (before turning TOTP off) counts
as an attempt of that account and address too (:func:`recheck_password`), and
the enrolment of a device with a one-time code is throttled on the same table
(:mod:`server.security.enrolment`).

A throttled attempt is refused with ``login_throttled`` before any password is
checked (so a locked account cannot be probed), and is itself audited. Unknown
usernames are counted like known ones, so throttling does not reveal which
accounts exist. Every success and failure writes an audit row.

Unlike other refusals, a failed login *does* change something: the attempt is
recorded. The caller commits after a refusal of :func:`check_password` or
:func:`check_totp`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.models.accounts import LoginAttempt
from server.models.base import utcnow
from server.models.people import User
from server.security import audit, totp
from server.security.at_rest import SecretBox
from server.security.users import authenticate, normalise_username

WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FAILURES = 5
IP_FAILURES = 30
TOTP_PENDING = dt.timedelta(minutes=5)  # time allowed between password and code
RECHECK = "recheck"  # the password asked again of a logged-in user


@dataclass(frozen=True)
class Policy:
    window: dt.timedelta = WINDOW
    account_failures: int = ACCOUNT_FAILURES
    ip_failures: int = IP_FAILURES


def policy_from(config: Mapping[str, Any]) -> Policy:
    """Throttling limits; ``A0SYNC_LOGIN_*`` configuration keys override the defaults."""
    return Policy(
        window=dt.timedelta(seconds=config.get("A0SYNC_LOGIN_WINDOW_S", WINDOW.total_seconds())),
        account_failures=config.get("A0SYNC_LOGIN_ACCOUNT_FAILURES", ACCOUNT_FAILURES),
        ip_failures=config.get("A0SYNC_LOGIN_IP_FAILURES", IP_FAILURES))


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _key(username: object) -> str:
    """What attempts are counted under: the normalised name, or the raw text cut short."""
    name = normalise_username(username)
    if name is not None:
        return name
    return (username.strip().lower() if isinstance(username, str) else "")[:80]


def _locked_until(session: Session, column, value: str, limit: int, since: dt.datetime,
                  window: dt.timedelta) -> dt.datetime | None:
    failures = list(session.scalars(
        select(LoginAttempt.at).where(column == value, LoginAttempt.success.is_(False),
                                      LoginAttempt.at > since)
        .order_by(LoginAttempt.at.desc()).limit(limit)))
    if len(failures) < limit:
        return None
    return _utc(failures[-1]) + window  # the oldest of the last `limit` failures


def throttled_until(session: Session, username: object, ip: str, now: dt.datetime,
                    policy: Policy = Policy()) -> dt.datetime | None:
    """When this account or address may try again, if it is throttled now."""
    since = now - policy.window
    name = _key(username)
    last_ok = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == name, LoginAttempt.success.is_(True)))
    account_since = max(since, _utc(last_ok)) if last_ok is not None else since
    candidates = [
        _locked_until(session, LoginAttempt.username, name, policy.account_failures,
                      account_since, policy.window),
        _locked_until(session, LoginAttempt.ip, ip[:64], policy.ip_failures, since,
                      policy.window),
    ]
    until = max((c for c in candidates if c is not None and c > now), default=None)
    return until


def _record(session: Session, username: str, ip: str, user: User | None, success: bool,
            step: str, now: dt.datetime, totp_step: int | None = None) -> None:
    session.add(LoginAttempt(at=now, username=username, ip=ip[:64],
                             user_id=user.id if user else None, success=success, step=step,
                             totp_step=totp_step))
    unit = user.org_unit if user is not None else None
    kind = "password.recheck" if step == RECHECK else "login"
    audit.record(session, f"user:{username}" if username else "anonymous",
                 f"{kind}.success" if success else f"{kind}.failure",
                 target=f"user:{username}", ip=ip[:64], at=now,
                 province_code=unit.province_code if unit else None,
                 commune_code=unit.commune_code if unit else None,
                 details={"step": step})


def refuse_if_throttled(session: Session, key: str, ip: str, now: dt.datetime,
                        policy: Policy, code: str = "login_throttled",
                        action: str = "login.throttled") -> None:
    """Refuse with ``code`` (audited as ``action``) while the account ``key`` or the
    address ``ip`` is throttled."""
    until = throttled_until(session, key, ip, now, policy)
    if until is None:
        return
    user = session.scalar(select(User).where(User.username == key)) if key else None
    if user is not None:
        user.locked_until = until
    audit.record(session, f"user:{key}" if user is not None else "anonymous", action,
                 target=f"user:{key}" if user is not None else key or None, ip=ip[:64],
                 at=now, details={"until": until.isoformat()})
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    raise A0Error(code, minutes=minutes)


def check_password(session: Session, username: object, password: object, ip: str,
                   now: dt.datetime | None = None, policy: Policy = Policy()) -> User:
    """Step one. Returns the user; the caller then asks for a TOTP code if
    ``user.totp_secret`` is set, else logs the user in (:func:`finish`)."""
    now = now or utcnow()
    name = _key(username)
    refuse_if_throttled(session, name, ip, now, policy)
    user = authenticate(session, username, password)
    if user is None:
        known = session.scalar(select(User).where(User.username == name)) if name else None
        if known is not None:
            known.failed_logins = (known.failed_logins or 0) + 1
        _record(session, name, ip, known, False, "password", now)
        raise A0Error("login_failed")
    if not user.totp_secret:
        _record(session, name, ip, user, True, "password", now)
        _succeeded(user, now)
    return user


def check_totp(session: Session, user_id: int, code: object, ip: str,
               started_at: dt.datetime, box: SecretBox, now: dt.datetime | None = None,
               policy: Policy = Policy()) -> User:
    """Step two for a user with TOTP: the code of the current window, not used before."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or not user.active or not user.totp_secret:
        raise A0Error("totp_pending_expired")
    if now - started_at > TOTP_PENDING:
        raise A0Error("totp_pending_expired")
    refuse_if_throttled(session, user.username, ip, now, policy)
    try:
        secret: str | None = box.open(user.totp_secret, user.id)
    except ValueError:  # sealed under another key (a lost TOTP key): a TOTP reset helps
        secret = None
    step = totp.matching_step(secret, code, now) if secret else None
    last = session.scalar(select(func.max(LoginAttempt.totp_step)).where(
        LoginAttempt.user_id == user.id, LoginAttempt.success.is_(True)))
    if step is None or (last is not None and step <= last):
        user.failed_logins = (user.failed_logins or 0) + 1
        _record(session, user.username, ip, user, False, "totp", now)
        raise A0Error("totp_invalid")
    _record(session, user.username, ip, user, True, "totp", now, totp_step=step)
    _succeeded(user, now)
    return user


def _succeeded(user: User, now: dt.datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now


def reset_throttle(session: Session, user: User, by: str, now: dt.datetime | None = None) -> None:
    """An administrator's unlock: the account's failure count restarts now (the
    per-address count is left alone)."""
    now = now or utcnow()
    session.add(LoginAttempt(at=now, username=user.username, ip=by[:64], user_id=user.id,
                             success=True, step="reset"))
    user.failed_logins = 0
    user.locked_until = None


def last_totp_step(session: Session, user: User) -> int | None:
    return session.scalar(select(func.max(LoginAttempt.totp_step)).where(
        LoginAttempt.user_id == user.id, LoginAttempt.success.is_(True)))


def enable_totp(session: Session, user: User, secret: str, code: object, box: SecretBox,
                now: dt.datetime | None = None) -> None:
    """Turn TOTP on once the user proved their app holds ``secret``; stored sealed; audited."""
    now = now or utcnow()
    if not totp.confirm_enrolment(secret, code, now):
        raise A0Error("totp_invalid")
    user.totp_secret = box.seal(secret, user.id)
    audit.record(session, f"user:{user.username}", "user.totp_enable",
                 target=f"user:{user.username}", at=now)


def recheck_password(session: Session, user: User, password: object, ip: str,
                     now: dt.datetime | None = None, policy: Policy = Policy()) -> None:
    """The password asked again before a sensitive change: throttled per account and per
    address together with logins, and audited either way. Like a failed login, a
    refusal records the attempt: the caller commits."""
    from server.security import passwords

    now = now or utcnow()
    refuse_if_throttled(session, user.username, ip, now, policy)
    ok = passwords.verify_password(user.password_hash, password)
    _record(session, user.username, ip, user, ok, RECHECK, now)
    if not ok:
        user.failed_logins = (user.failed_logins or 0) + 1
        raise A0Error("login_failed")


def disable_totp(session: Session, user: User, password: object, ip: str,
                 now: dt.datetime | None = None, policy: Policy = Policy()) -> None:
    """Turn TOTP off; needs the password again (a borrowed session is not enough)."""
    now = now or utcnow()
    recheck_password(session, user, password, ip, now, policy)
    user.totp_secret = None
    audit.record(session, f"user:{user.username}", "user.totp_disable",
                 target=f"user:{user.username}", at=now)

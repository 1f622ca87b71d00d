"""Nightly housekeeping: what the server keeps only for a while.

* tombstones of deleted households and members, once every device of their area
  has pulled past them (DESIGN §3.7) and the retention period for district systems
  has passed (they keep their cursors themselves: ``docs/district-api.md``);
* login attempts, which only throttling reads (its window is minutes; logins stay
  in the audit log);
* ended dashboard sessions;
* the audit log: login records (logins, throttling, password re-checks, refused
  enrolments: about staff and strangers, with their addresses) sooner, everything
  else (who read and changed whose data) after years (Decree 356/2025 asks for a
  stated retention; docs/deploy.md).

Runs once a night across server processes (:mod:`server.scheduler`), or by hand:
``a0sync housekeeping``. Configuration (days): ``A0SYNC_TOMBSTONE_DAYS`` (90),
``A0SYNC_LOGIN_ATTEMPT_DAYS`` (90), ``A0SYNC_SESSION_DAYS`` (30),
``A0SYNC_LOGIN_AUDIT_DAYS`` (365), ``A0SYNC_AUDIT_DAYS`` (1825);
``A0SYNC_HOUSEKEEPING_CRON`` (crontab, default ``0 2 * * *``, UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import click
from sqlalchemy import delete
from sqlalchemy.orm import Session

from server.models.accounts import LoginAttempt
from server.models.base import utcnow
from server.models.people import AuditLog
from server.security.web_sessions import purge_sessions
from server.sync.pull import purge_tombstones

JOB_NAME = "housekeeping"
RETENTION = {"A0SYNC_TOMBSTONE_DAYS": 90, "A0SYNC_LOGIN_ATTEMPT_DAYS": 90,
             "A0SYNC_SESSION_DAYS": 30, "A0SYNC_LOGIN_AUDIT_DAYS": 365,
             "A0SYNC_AUDIT_DAYS": 5 * 365}
# audit actions that record logins (of staff, or attempts by anyone), not data
LOGIN_ACTIONS = ("login.success", "login.failure", "login.throttled", "logout",
                 "password.recheck.success", "password.recheck.failure",
                 "device.enrol_failure", "device.enrol_throttled")


def init_app(app: Any) -> None:
    for key, days in RETENTION.items():
        app.config.setdefault(key, int(os.environ.get(key, days)))
    app.config.setdefault("A0SYNC_HOUSEKEEPING_CRON",
                          os.environ.get("A0SYNC_HOUSEKEEPING_CRON", "0 2 * * *"))
    app.cli.add_command(housekeeping_command)


def tidy(session: Session, config: Any, now: dt.datetime | None = None) -> dict[str, int]:
    """Remove what is past its retention; the caller commits. Returns what went, by kind."""
    now = now or utcnow()

    def days(key: str) -> dt.timedelta:
        return dt.timedelta(days=int(config[key]))

    return {
        "tombstones": purge_tombstones(session, before=now - days("A0SYNC_TOMBSTONE_DAYS")),
        "login_attempts": session.execute(delete(LoginAttempt).where(
            LoginAttempt.at < now - days("A0SYNC_LOGIN_ATTEMPT_DAYS"))).rowcount or 0,
        "web_sessions": purge_sessions(session, days("A0SYNC_SESSION_DAYS"), now),
        "login_audit": session.execute(delete(AuditLog).where(
            AuditLog.action.in_(LOGIN_ACTIONS),
            AuditLog.at < now - days("A0SYNC_LOGIN_AUDIT_DAYS"))).rowcount or 0,
        "audit": session.execute(delete(AuditLog).where(
            AuditLog.at < now - days("A0SYNC_AUDIT_DAYS"))).rowcount or 0,
    }


def run_scheduled(app: Any, slot: str | None = None) -> str:
    """The nightly job body, once per slot (the UTC date) across processes."""
    from server.rollups.lock import run_in_app

    return run_in_app(app, JOB_NAME, lambda session: tidy(session, app.config), slot)


@click.command("housekeeping")
def housekeeping_command() -> None:
    """Dọn dữ liệu hết hạn lưu / remove what is past its retention (tombstones, login
    attempts, ended sessions, old audit rows)."""
    from flask import current_app

    from server.extensions import db

    removed = tidy(db.session, current_app.config)
    db.session.commit()
    click.echo(json.dumps(removed))

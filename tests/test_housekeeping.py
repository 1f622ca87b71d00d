"""Nightly housekeeping: tombstones once pulled and past retention, old login attempts,
ended sessions; once a night across processes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from server.extensions import db
from server.housekeeping import JOB_NAME, run_scheduled, tidy
from server.models.accounts import LoginAttempt, WebSession
from server.models.register import Member
from server.rollups.lock import DONE, RAN
from server.security.users import create_user
from server.security.web_sessions import end_session, open_session
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

NOW = dt.datetime.now(dt.UTC)


def _deleted_members(client, device: SimDevice, n: int) -> list[str]:
    hh, ids = new_id(), [new_id() for _ in range(n + 1)]
    device.upsert("household", hh, household(device.area))
    for mid in ids:
        device.upsert("member", mid, member(hh))
    for mid in ids[:n]:  # the last one stays
        device._op("delete", "member", mid, {})
    body = device.send(client, device.seal())
    assert {v["verdict"] for v in body["receipt"]["verdicts"]} == {"applied"}
    return ids


def _members() -> set[str]:
    return set(db.session.scalars(select(Member.id)))


def _age(ids: list[str], days: int) -> None:
    db.session.execute(update(Member).where(Member.id.in_(ids))
                       .values(updated_at=NOW - dt.timedelta(days=days)))
    db.session.commit()


def test_a_tombstone_goes_once_pulled_by_every_device_and_past_retention(app, client) -> None:
    device, other = SimDevice(app), SimDevice(app)  # two devices of one area
    old, recent, live = _deleted_members(client, device, 2)
    _age([old, live], 120)
    assert tidy(db.session, app.config)["tombstones"] == 0  # nobody pulled: all kept
    for _ in range(2):  # a cursor tells what a device holds when it asks from there
        device.pull(client)
    assert tidy(db.session, app.config)["tombstones"] == 0  # the other device has not
    for _ in range(2):
        other.pull(client)
    assert tidy(db.session, app.config)["tombstones"] == 1
    db.session.commit()
    assert _members() == {recent, live}  # the recent deletion waits for district systems
    _age([recent], 91)
    tidy(db.session, app.config)
    db.session.commit()
    assert _members() == {live}


def test_old_login_attempts_and_ended_sessions_go(app) -> None:
    user = create_user(db.session, "lan.tran", "Trần Thị Lan", "một mật khẩu thật dài",
                       "admin", None)
    for days in (1, 200):
        db.session.add(LoginAttempt(at=NOW - dt.timedelta(days=days), username="lan.tran",
                                    ip="1.2.3.4", success=False, step="password"))
    _live, long_ago, today = (open_session(db.session, user) for _ in range(3))
    end_session(db.session, long_ago)
    db.session.execute(update(WebSession).where(WebSession.revoked_at.is_not(None))
                       .values(revoked_at=NOW - dt.timedelta(days=45)))
    end_session(db.session, today)
    db.session.commit()
    removed = tidy(db.session, app.config)
    db.session.commit()
    assert (removed["login_attempts"], removed["web_sessions"]) == (1, 1)
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 1
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 2


def test_the_nightly_job_runs_once_per_night(app) -> None:
    assert run_scheduled(app, "2026-12-01") == RAN
    assert run_scheduled(app, "2026-12-01") == DONE  # another worker, the same night
    assert run_scheduled(app, "2026-12-02") == RAN
    assert JOB_NAME == "housekeeping"
    result = app.test_cli_runner().invoke(args=["housekeeping"])
    assert result.exit_code == 0 and '"tombstones": 0' in result.output


def test_audit_and_login_records_go_after_their_retention(app) -> None:
    """Login records (a year by default) go sooner than the log of who read and changed
    whose data (five years); both are settings."""
    from server.models.people import AuditLog

    ages = {("login.failure", 30): True, ("login.failure", 400): False,
            ("device.enrol_failure", 400): False, ("export.persons", 400): True,
            ("export.persons", 2000): False, ("person.erase", 1000): True}
    for (action, days), _kept in ages.items():
        db.session.add(AuditLog(at=NOW - dt.timedelta(days=days), actor_type="user",
                                actor_id="lan", action=action, details={}))
    db.session.commit()
    removed = tidy(db.session, app.config)
    db.session.commit()
    assert (removed["login_audit"], removed["audit"]) == (2, 1)
    left = set(db.session.execute(select(AuditLog.action, AuditLog.at)).all())
    assert len(left) == sum(ages.values())
    shorter = {**app.config, "A0SYNC_AUDIT_DAYS": 365}
    assert tidy(db.session, shorter)["audit"] == 2  # 400 and 1000 days old

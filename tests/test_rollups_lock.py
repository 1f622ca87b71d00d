"""The scheduled full recompute runs once across processes (two real processes race).

Each gunicorn worker fires the nightly job; :func:`server.rollups.lock.run_once`
must let exactly one of them run it: a PostgreSQL advisory lock, or on SQLite a
lock row with a lease, plus the slot already done.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, update

from server.extensions import db
from server.models.rollups import JobLock, RollupCell
from server.rollups import JOB_NAME, run_scheduled
from server.rollups.lock import BUSY, DONE, RAN
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

A0SYNC = str(Path(sys.executable).parent / "a0sync")


def _seed(app) -> None:
    device = SimDevice(app, area="12619.01.1")
    hh, wife = new_id(), new_id()
    device.upsert("household", hh, household("12619.01.1"))
    device.upsert("member", wife, member(hh))
    device.send(app.test_client(), device.seal())


def _start(url: str, instance: Path, slot: str, hold: float) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "A0SYNC_INSTANCE": str(instance)}
    return subprocess.Popen([A0SYNC, "rollup", "--scheduled", slot, "--hold-lock", str(hold),
                             "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _result(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])["job"]


def test_two_processes_run_the_nightly_job_once(app, db_url, tmp_path):
    _seed(app)
    db.session.commit()
    racers = [_start(db_url, tmp_path / "instance", "2026-11-23", hold=4) for _ in range(2)]
    assert sorted(_result(p) for p in racers) == [BUSY, RAN]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(RollupCell)) > 0
    row = db.session.get(JobLock, JOB_NAME)
    assert row.last_slot == "2026-11-23"
    assert row.holder is None  # released (the SQLite row; PostgreSQL never sets it)

    # a worker firing after the winner finished does not run the same night again
    assert _result(_start(db_url, tmp_path / "instance", "2026-11-23", hold=0)) == DONE
    assert _result(_start(db_url, tmp_path / "instance", "2026-11-24", hold=0)) == RAN


def test_sqlite_lock_row_lease(sqlite_app):
    """A live holder blocks; a holder whose lease ran out (a crashed worker) does not."""
    _seed(sqlite_app)
    db.session.add(JobLock(name=JOB_NAME, holder="other-host:1",
                           expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
    db.session.commit()
    assert run_scheduled(sqlite_app, "s1") == BUSY
    db.session.execute(update(JobLock).values(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    db.session.commit()
    assert run_scheduled(sqlite_app, "s1") == RAN
    assert run_scheduled(sqlite_app, "s1") == DONE


def test_scheduler_runs_the_nightly_job(sqlite_app, tmp_path):
    """With A0SYNC_SCHEDULER each worker schedules the job; firing it goes through run_once."""
    from server import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_app.config["SQLALCHEMY_DATABASE_URI"],
                      "INSTANCE_PATH": str(tmp_path / "worker"), "A0SYNC_SCHEDULER": True,
                      "A0SYNC_ROLLUP_CRON": "15 2 * * *"})
    scheduler = app.extensions["a0sync.scheduler"]
    try:
        job = scheduler.get_job(JOB_NAME)
        assert (job.next_run_time.hour, job.next_run_time.minute) == (2, 15)
        _seed(sqlite_app)
        job.func(*job.args)  # what the scheduler calls at 02:15
        db.session.remove()
        assert db.session.get(JobLock, JOB_NAME).last_slot == dt.datetime.now(dt.UTC).strftime(
            "%Y-%m-%d")
        assert job.func(*job.args) == DONE  # a second worker the same night does nothing
    finally:
        scheduler.shutdown(wait=False)


def test_rollup_command_months(sqlite_app):
    _seed(sqlite_app)
    runner = sqlite_app.test_cli_runner()
    result = runner.invoke(args=["rollup", "--month", "2025-06", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["months"] == ["2025-06"]
    db.session.remove()
    months = set(db.session.scalars(select(RollupCell.month).distinct()))
    assert "2025-06" in months
    assert runner.invoke(args=["rollup", "--month", "June"]).exit_code == 2
    said = runner.invoke(args=["rollup", "--month", "2025-06", "--month", "2025-05"]).output
    assert "months: 05/2025, 06/2025\n" in said and "[" not in said

"""The nightly jobs: ``a0sync scheduler`` runs them in a process of its own (what
docs/deploy.md sets up), or an APScheduler runs in every server process that sets
``A0SYNC_SCHEDULER=1``; either way each job's lock
(:func:`server.rollups.lock.run_once`) makes one process do a night's work."""

from __future__ import annotations

import os
from typing import Any

EXTENSION = "a0sync.scheduler"


def init_app(app: Any) -> None:
    app.config.setdefault("A0SYNC_SCHEDULER", os.environ.get("A0SYNC_SCHEDULER", "0") == "1")
    if app.config["A0SYNC_SCHEDULER"]:
        start(app)


def start(app: Any, blocking: bool = False) -> Any:
    """Schedule the jobs in a background thread, or (``blocking``) run them in this
    thread until the process is stopped."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    from server import housekeeping, rollups

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for name, body, cron in ((rollups.JOB_NAME, rollups.run_scheduled, "A0SYNC_ROLLUP_CRON"),
                             (housekeeping.JOB_NAME, housekeeping.run_scheduled,
                              "A0SYNC_HOUSEKEEPING_CRON")):
        scheduler.add_job(body, CronTrigger.from_crontab(app.config[cron], timezone="UTC"),
                          args=[app], id=name, coalesce=True, max_instances=1,
                          misfire_grace_time=3600)
    # work a stopped server process left queued after its batches (server.sync.followups)
    scheduler.add_job(drain_followups, "interval", args=[app], id="followups",
                      seconds=float(os.environ.get("A0SYNC_FOLLOWUP_POLL_S", 30)),
                      coalesce=True, max_instances=1)
    app.extensions[EXTENSION] = scheduler
    scheduler.start()
    return scheduler


def drain_followups(app: Any) -> None:
    from server.extensions import db
    from server.sync.runtime import followups_for

    with app.app_context():
        followups_for(app).drain(db.engine)

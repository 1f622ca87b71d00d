"""The nightly jobs: an APScheduler in every server process that sets
``A0SYNC_SCHEDULER=1`` (e.g. every gunicorn worker); each job's lock
(:func:`server.rollups.lock.run_once`) makes one process do a night's work."""

from __future__ import annotations

import os
from typing import Any

EXTENSION = "a0sync.scheduler"


def init_app(app: Any) -> None:
    app.config.setdefault("A0SYNC_SCHEDULER", os.environ.get("A0SYNC_SCHEDULER", "0") == "1")
    if app.config["A0SYNC_SCHEDULER"]:
        start(app)


def start(app: Any) -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    from server import housekeeping, rollups

    scheduler = BackgroundScheduler(timezone="UTC")
    for name, body, cron in ((rollups.JOB_NAME, rollups.run_scheduled, "A0SYNC_ROLLUP_CRON"),
                             (housekeeping.JOB_NAME, housekeeping.run_scheduled,
                              "A0SYNC_HOUSEKEEPING_CRON")):
        scheduler.add_job(body, CronTrigger.from_crontab(app.config[cron], timezone="UTC"),
                          args=[app], id=name, coalesce=True, max_instances=1,
                          misfire_grace_time=3600)
    scheduler.start()
    app.extensions[EXTENSION] = scheduler
    return scheduler

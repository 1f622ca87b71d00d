"""Roll-ups: every indicator of DESIGN §5 per month and org unit (see ``indicators``).

* ``compute`` — area cells from the register (set-based SQL, a fold for changers);
* ``store`` — cells of every level: full replacement or differences to ancestors;
* ``jobs`` — the full recompute and the after-batch hook;
* ``lock`` — a job runs once across server processes;
* this module — wiring into the app: the hook, the ``a0sync rollup`` command and
  the nightly job's body (scheduled by :mod:`server.scheduler`; the lock makes one
  process do the work).

Configuration: ``A0SYNC_ROLLUP_CRON`` (crontab, default ``30 1 * * *``, UTC),
``A0SYNC_ROLLUP_MAX_MONTHS`` (how far back a full recompute goes, default 36),
``A0SYNC_ROLLUP_WORKERS`` (processes a full recompute uses, default the number of
cores, at most 8).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

import click

from server import formats
from server.rollups.jobs import (
    DEFAULT_MAX_MONTHS,
    DEFAULT_WORKERS,
    SETTINGS,
    full_recompute,
)

JOB_NAME = "rollup-full"


def init_app(app: Any) -> None:
    from server.rollups.jobs import QUEUE, drain_queued, queue_after_batch
    from server.sync.runtime import add_after_batch_hook, followups_for

    app.config.setdefault("A0SYNC_ROLLUP_CRON", os.environ.get("A0SYNC_ROLLUP_CRON",
                                                               "30 1 * * *"))
    app.config.setdefault("A0SYNC_ROLLUP_MAX_MONTHS", int(os.environ.get(
        "A0SYNC_ROLLUP_MAX_MONTHS", DEFAULT_MAX_MONTHS)))
    app.config.setdefault("A0SYNC_ROLLUP_WORKERS", int(os.environ.get(
        "A0SYNC_ROLLUP_WORKERS", DEFAULT_WORKERS)))
    SETTINGS["max_months"] = app.config["A0SYNC_ROLLUP_MAX_MONTHS"]
    queue = followups_for(app)
    queue.handle(QUEUE, drain_queued)
    add_after_batch_hook(app, queue_after_batch(queue))
    app.cli.add_command(rollup_command)


def options(app: Any) -> dict[str, int]:
    """The configured window and workers of a full recompute."""
    return {"max_months": app.config["A0SYNC_ROLLUP_MAX_MONTHS"],
            "workers": app.config["A0SYNC_ROLLUP_WORKERS"]}


def run_scheduled(app: Any, slot: str | None = None, hold_s: float = 0) -> str:
    """The nightly job body: one full recompute per slot (the UTC date) across processes."""
    from server.rollups.lock import run_in_app

    def job(session: Any) -> None:
        full_recompute(session, **options(app))
        if hold_s:
            time.sleep(hold_s)

    return run_in_app(app, JOB_NAME, job, slot)


@click.command("rollup")
@click.option("--month", "months", multiple=True, metavar="YYYY-MM",
              help="Month(s) to recompute (default: the whole window).")
@click.option("--scheduled", "slot", metavar="SLOT",
              help="Run as the scheduled job for SLOT, once across processes.")
@click.option("--hold-lock", type=float, default=0, hidden=True,
              help="Keep the job lock this many seconds longer (tests, diagnostics).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on the last line.")
def rollup_command(months: tuple[str, ...], slot: str | None, hold_lock: float,
                   as_json: bool) -> None:
    """Tính lại số liệu tổng hợp / recompute the roll-ups."""
    from flask import current_app

    from server.extensions import db

    for month in months:
        try:
            dt.datetime.strptime(month, "%Y-%m")
        except ValueError:
            raise click.BadParameter(f"{month}: tháng phải là YYYY-MM / month must be "
                                     "YYYY-MM", param_hint="--month") from None
    started = time.perf_counter()
    if slot:
        result: dict[str, Any] = {"job": run_scheduled(current_app, slot, hold_lock)}
    else:
        result = full_recompute(db.session, list(months) or None, **options(current_app))
    result["seconds"] = round(time.perf_counter() - started, 3)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            if key == "months":  # 11/2026, 12/2026, not a Python list
                value = ", ".join(formats.month(m, "vi") for m in value) or "—"
            click.echo(f"{key}: {value}")

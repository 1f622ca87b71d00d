"""Wire the sync domain to a running app: keys, forms, clock, limits, after-batch hooks.

Takes the app as a plain object (``config`` and ``extensions``) so this package
still does not import Flask; the HTTPS endpoint and the CLI share it.
"""

from __future__ import annotations

import os
from typing import Any

from server.forms import formset
from server.security.keys import keystore_for
from server.sync import refold
from server.sync.clock import server_clock
from server.sync.followups import FollowUps
from server.sync.ingest import AfterBatch, IngestContext

HOOKS_KEY = "a0sync.after_batch"
FOLLOWUPS_KEY = "a0sync.followups"


def add_after_batch_hook(app: Any, hook: AfterBatch) -> None:
    """Run ``hook(session, touched)`` inside every batch's transaction (roll-ups, duplicates)."""
    app.extensions.setdefault(HOOKS_KEY, []).append(hook)


def ingest_context(app: Any) -> IngestContext:
    return IngestContext(
        keys=keystore_for(app),
        forms=formset(),
        clock=server_clock(app),
        max_batch_bytes=app.config["A0SYNC_MAX_BATCH_BYTES"],
        max_clock_ahead_ms=app.config["A0SYNC_MAX_CLOCK_AHEAD_S"] * 1000,
        hooks=tuple(app.extensions.get(HOOKS_KEY, ())),
        followups=followups_for(app),
    )


def followups_for(app: Any) -> FollowUps:
    """The app's queue of work that follows a batch (``server.sync.followups``):
    ``A0SYNC_FOLLOWUPS`` ``inline`` (default) or ``thread`` (``a0sync serve``), with
    ``A0SYNC_FOLLOWUP_DELAY_S``, ``A0SYNC_FOLLOWUP_POLL_S`` and
    ``A0SYNC_FOLLOWUP_MAX_DELAY_S``."""
    queue = app.extensions.get(FOLLOWUPS_KEY)
    if queue is None:
        config, env = app.config, os.environ

        def seconds(name: str, default: float) -> float:
            return float(config.get(name, env.get(name, default)))

        queue = FollowUps(config.get("A0SYNC_FOLLOWUPS", env.get("A0SYNC_FOLLOWUPS", "inline")),
                          seconds("A0SYNC_FOLLOWUP_DELAY_S", 1),
                          seconds("A0SYNC_FOLLOWUP_POLL_S", 30),
                          seconds("A0SYNC_FOLLOWUP_MAX_DELAY_S", 15))
        # persons refolded after their batch: part of every ingestion, not a hook
        queue.handle(refold.QUEUE, refold.drainer(lambda: app.extensions.get(HOOKS_KEY, ())))
        app.extensions[FOLLOWUPS_KEY] = queue
    return queue

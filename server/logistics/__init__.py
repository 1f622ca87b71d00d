"""Contraceptive logistics (LMIS): stock from the commune health station to the
collaborator, balances, stock-outs and the monthly logistics report (issue 17).

* :mod:`a0core.stock` — the ledger rule, shared with the app;
* ``movements`` — who may record what, applied by the sync ingestion;
* ``ledger`` — movements from the database; ``cells`` — balances in the roll-up
  cells (one registration with :mod:`server.rollups.sources`);
* ``flags`` — alerts for the station's review; ``hook`` — the work after a batch
  (queued by it, done after its commit);
* ``station`` — what the station records on the dashboard (its own writer);
* ``views`` — the station page and the logistics report (no Flask).

:func:`init_app` is the one call in ``create_app``. Configuration:
``A0SYNC_STOCK_LOW_MONTHS_CTV`` (default 1) and
``A0SYNC_STOCK_LOW_MONTHS_STATION`` (default 2): below that many months of stock a
holder is "low"; ``A0SYNC_STOCK_EXPIRY_DAYS`` (default 90): a lot expiring within
that many days is "near expiry".
"""

from __future__ import annotations

import os
from typing import Any

DEFAULTS = {"A0SYNC_STOCK_LOW_MONTHS_CTV": 1.0, "A0SYNC_STOCK_LOW_MONTHS_STATION": 2.0,
            "A0SYNC_STOCK_EXPIRY_DAYS": 90}


def init_app(app: Any) -> None:
    from server.logistics.cells import StockSource
    from server.logistics.hook import QUEUE, drain_queued, queue_after_batch
    from server.rollups import sources
    from server.sync.runtime import add_after_batch_hook, followups_for

    for name, default in DEFAULTS.items():
        app.config.setdefault(name, type(default)(os.environ.get(name, default)))
    sources.register(StockSource())
    queue = followups_for(app)
    queue.handle(QUEUE, drain_queued)
    add_after_batch_hook(app, queue_after_batch(queue))

"""The server's hybrid logical clock: one per application, shared by every request.

Every answer to a device carries ``server_hlc`` from here, and every stamp the
server accepts is absorbed into it (docs/protocol.md, "Merge"). The clock lives
in ``app.extensions`` so each worker process has exactly one; after a restart
it starts again from the wall clock, which is never behind a stamp it issued
unless a device's accepted future stamp (at most ``A0SYNC_MAX_CLOCK_AHEAD_S``)
pushed it there.
"""

from __future__ import annotations

from typing import Any

from a0core.hlc import HybridClock

EXTENSION = "a0sync_clock"


def server_clock(app: Any) -> HybridClock:
    """The application's clock (created on first use; ``dict.setdefault`` is atomic)."""
    clock = app.extensions.get(EXTENSION)
    if clock is None:
        clock = app.extensions.setdefault(EXTENSION, HybridClock())
    return clock

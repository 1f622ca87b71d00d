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

from a0core.errors import A0Error
from a0core.hlc import HybridClock, ahead_by

EXTENSION = "a0sync_clock"


def check_ahead(stamp: int, now_ms: int, max_ahead_ms: int) -> None:
    """Refuse a stamp further ahead of the server's wall clock than the tolerance, with
    ``hlc_future`` carrying the server's time and the tolerance: operations, batch
    headers and enrolments alike. The device learns from it when its clock is sane
    again (docs/protocol.md, "Clocks")."""
    if ahead_by(stamp, now_ms) > max_ahead_ms:
        raise A0Error("hlc_future", limit=f"{max_ahead_ms // 3_600_000} h",
                      server_time_ms=now_ms, max_ahead_ms=max_ahead_ms)


def server_clock(app: Any) -> HybridClock:
    """The application's clock (created on first use; ``dict.setdefault`` is atomic)."""
    clock = app.extensions.get(EXTENSION)
    if clock is None:
        clock = app.extensions.setdefault(EXTENSION, HybridClock())
    return clock

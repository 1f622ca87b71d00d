"""Reporting by the law's calendar: the monthly P0 slips and their status.

The slip's sections and the calendar are shared with the app (:mod:`a0core.p0`);
here is what only the server knows: the deadline it applies, what it holds for
an area and month, and each area's status for a month (:mod:`.status`).

``A0SYNC_REPORT_DEADLINE_DAY`` (default 5): the slip for month M is on time when
received by the end of that day of M+1, Vietnam time. Read from the environment
on use, so the roll-ups (which run without Flask, also in worker processes) and
the dashboard apply the same day.
"""

from __future__ import annotations

import os

from a0core.p0 import DEFAULT_DEADLINE_DAY

DEADLINE_ENV = "A0SYNC_REPORT_DEADLINE_DAY"


def deadline_day() -> int:
    """The configured deadline day (1–28; a value outside that is a configuration error)."""
    value = int(os.environ.get(DEADLINE_ENV) or DEFAULT_DEADLINE_DAY)
    if not 1 <= value <= 28:
        raise ValueError(f"{DEADLINE_ENV} must be a day from 1 to 28, not {value}")
    return value

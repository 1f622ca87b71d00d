"""Vietnam's time, as forms and the P0 slip judge dates by it.

Its own module, without marshmallow: the app's first screen needs the day in Vietnam
long before it validates a form (:mod:`a0core.forms` re-exports these).

"Today" may be corrected by an offset to a trusted clock, in the current context
only (a :class:`~contextvars.ContextVar`): the app applies the offset between its
clock and the server's that its last sync measured (a phone that restarted days
behind), so its defaults and "not in the future" checks follow the real day. The
server never sets one: its clock is the reference, and a server running in the same
process as an app (tests) is not affected. Only dates follow it; the hybrid logical
clock (:mod:`a0core.hlc`) reads the wall clock as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

VN_TZ = dt.timezone(dt.timedelta(hours=7))
# A date "in the future" is judged in Vietnam time with one day of slack for a
# device whose clock or time zone is off; the sync layer refuses clocks further out.
FUTURE_SLACK = dt.timedelta(days=1)
_correction: ContextVar[dt.timedelta] = ContextVar("vn_correction", default=dt.timedelta(0))


def correct(offset_ms: int) -> None:
    """From now on in this context, "today" is the wall clock plus ``offset_ms``."""
    _correction.set(dt.timedelta(milliseconds=offset_ms))


@contextmanager
def corrected(offset_ms: int) -> Iterator[None]:
    """"Today" is the wall clock plus ``offset_ms`` inside the block only."""
    token = _correction.set(dt.timedelta(milliseconds=offset_ms))
    try:
        yield
    finally:
        _correction.reset(token)


def day_at(ms: int, offset_ms: int = 0) -> dt.date:
    """The day in Vietnam at ``ms`` + ``offset_ms`` (ms since the epoch)."""
    return dt.datetime.fromtimestamp((ms + offset_ms) / 1000, VN_TZ).date()


def today_vn() -> dt.date:
    return (dt.datetime.now(VN_TZ) + _correction.get()).date()

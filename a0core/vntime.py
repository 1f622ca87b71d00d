"""Vietnam's time, as forms and the P0 slip judge dates by it.

Its own module, without marshmallow: the app's first screen needs the day in Vietnam
long before it validates a form (:mod:`a0core.forms` re-exports these).
"""

from __future__ import annotations

import datetime as dt

VN_TZ = dt.timezone(dt.timedelta(hours=7))
# A date "in the future" is judged in Vietnam time with one day of slack for a
# device whose clock or time zone is off; the sync layer refuses clocks further out.
FUTURE_SLACK = dt.timedelta(days=1)


def today_vn() -> dt.date:
    return dt.datetime.now(VN_TZ).date()

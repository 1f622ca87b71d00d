"""Monthly P0 slips for a synthetic area, as its collaborator would have closed them.

Pure Python like the rest of the package. For each month that has ended, the slip
counts the area's entries of the month per section (:func:`a0core.p0.count_entries`,
the rule the server checks by) and is received early in the next month: most
by the deadline, some late, a few never; now and then one section is one short
(an entry still on the phone). Seeded by the area, so the same arguments give
the same slips.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from typing import Any

from a0core import p0

VN = dt.timezone(dt.timedelta(hours=7))
MISSING, LATE, SHORT = 0.04, 0.10, 0.06  # shares of slips never sent, late, one short


def monthly_slips(area: Any, months: Sequence[str], seed: int,
                  now: dt.datetime) -> list[dict[str, Any]]:
    """Slips of ``area`` (an :class:`~server.synthetic.AreaRegister`) for ``months``,
    each with the time it reached the server (UTC); none arrives after ``now``."""
    rng = random.Random(f"slips:{seed}:{area.area_code}")
    entries = [(e["form"], e["event_date"]) for e in area.events]
    entries += [("distribution", d["distributed_on"]) for d in area.distributions]
    counts = p0.count_entries(entries)
    out = []
    for month in months:
        r = rng.random()
        if r < MISSING:
            continue
        first = p0.first_day(p0.shift(month, 1))
        day = rng.randint(6, 20) if r < MISSING + LATE else rng.randint(1, p0.DEFAULT_DEADLINE_DAY)
        received = dt.datetime.combine(first.replace(day=day), dt.time(rng.randint(7, 17)),
                                       tzinfo=VN)
        if received > now:
            continue
        slip = dict(counts.get(month, p0.empty_counts()))
        short = [name for name, n in slip.items() if n]
        if short and rng.random() < SHORT:
            slip[rng.choice(short)] -= 1
        out.append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "area_code": area.area_code, "month": month,
                    "closed_on": received.date().isoformat(), "counts": slip,
                    "received_at": received.astimezone(dt.UTC)})
    return out

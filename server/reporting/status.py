"""Each area's P0 slip for a month: sent or not, on time or late, matching or not.

The roll-ups count the same things per unit (``areas_reported``, ``areas_on_time``,
``areas_incomplete``); this module says it per area, for the sync-status page and
for the device, which learns on pull which of its months the server holds as
closed and whether they match. What "matches" means: for every section, the slip's
count equals the entries the server holds for the area and month (not voided;
:func:`a0core.p0.count_entries`'s rule). A difference usually means operations
still on a phone or waiting on the server; a correction re-closes the month.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.orm import Session

from a0core import p0
from server.models.base import chunks
from server.models.register import Distribution, Event
from server.models.reports import P0Report
from server.reporting import deadline_day
from server.rollups.compute import area_starts

ON_TIME, LATE, MISSING, DUE = "on_time", "late", "missing", "due"
BEFORE = "before"  # the area did not exist yet: no slip expected (as in the roll-ups)


@dataclass
class AreaMonth:
    """One area's slip for one month, as the server sees it now."""

    area_code: str
    month: str
    state: str  # on_time | late | missing (deadline passed, no slip) | due (not yet) | before
    slip: dict[str, int] | None = None  # the latest slip's counts
    slip_id: str | None = None
    closed_on: str | None = None
    received_at: dt.datetime | None = None  # the first slip's arrival
    slips: int = 0
    held: dict[str, int] = field(default_factory=dict)
    differing: list[str] = field(default_factory=list)

    @property
    def reported(self) -> bool:
        return self.slip is not None

    @property
    def incomplete(self) -> bool:
        return bool(self.differing)

    def to_dict(self) -> dict[str, Any]:
        """What a device is told on pull."""
        return {"month": self.month, "state": self.state, "slip_id": self.slip_id,
                "closed_on": self.closed_on, "incomplete": self.incomplete,
                "differing": self.differing, "held": self.held}


def held_counts(session: Session, areas: Collection[str],
                months: Sequence[str]) -> dict[tuple[str, str], dict[str, int]]:
    """(area, month) → section → entries the server holds (not voided)."""
    empty = p0.empty_counts()  # once: reading the slip form's fields is not free
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict(empty))
    if not areas or not months:
        return out
    sections = p0.section_map()
    first, last = f"{min(months)}-01", f"{max(months)}-31"
    e_month = func.substr(Event.event_date, 1, 7)
    d_month = func.substr(Distribution.distributed_on, 1, 7)
    for chunk in chunks(sorted(areas), 500):
        rows = session.execute(
            select(Event.area_code, e_month, Event.form, func.count())
            .where(Event.area_code.in_(chunk), ~Event.voided, Event.event_date >= first,
                   Event.event_date <= last)
            .group_by(Event.area_code, e_month, Event.form)).all()
        rows += session.execute(
            select(Distribution.area_code, d_month, literal("distribution"), func.count())
            .where(Distribution.area_code.in_(chunk), ~Distribution.voided,
                   Distribution.distributed_on >= first, Distribution.distributed_on <= last)
            .group_by(Distribution.area_code, d_month)).all()
        for area, month, form, n in rows:
            section = sections.get(form)
            if section is not None and month in months:
                counts = out[(area, month)]
                counts[section] = counts.get(section, 0) + n
    return out


def area_months(session: Session, areas: Collection[str], months: Sequence[str],
                now: dt.datetime | None = None) -> dict[tuple[str, str], AreaMonth]:
    """The status of every (area, month) asked for."""
    now = now or dt.datetime.now(dt.UTC)
    day = deadline_day()
    latest: dict[tuple[str, str], P0Report] = {}
    first: dict[tuple[str, str], dt.datetime] = {}
    count: dict[tuple[str, str], int] = defaultdict(int)
    for chunk in chunks(sorted(areas), 500):
        for slip in session.scalars(select(P0Report).where(
                P0Report.area_code.in_(chunk), P0Report.month.in_(list(months)))):
            key = (slip.area_code, slip.month)
            count[key] += 1
            if key not in latest or (slip.hlc, slip.device_id) > (latest[key].hlc,
                                                                  latest[key].device_id):
                latest[key] = slip
            received = _aware(slip.received_at)
            first[key] = min(first.get(key, received), received)
    held = held_counts(session, areas, months)
    starts: dict[str, str] = {}
    for chunk in chunks(sorted(areas), 500):
        starts.update(area_starts(session, chunk))
    out = {}
    for area in areas:
        for month in months:
            key = (area, month)
            due = p0.deadline_utc(month, day)
            state = BEFORE if month < starts.get(area, "") else MISSING if now >= due else DUE
            row = AreaMonth(area, month, state, held=held[key])
            slip = latest.get(key)
            if slip is not None:
                row.state = ON_TIME if first[key] < due else LATE
                row.slip, row.slip_id = {k: int(v) for k, v in slip.counts.items()}, slip.id
                row.closed_on, row.received_at, row.slips = slip.closed_on, first[key], count[key]
                row.differing = p0.differing(row.slip, row.held)
            out[key] = row
    return out


# every pull page asks (built once: building it cost more than running it)
_MONTHS_HELD = select(P0Report.__table__.c.month).where(
    P0Report.__table__.c.area_code == bindparam("area"),
    P0Report.__table__.c.month >= bindparam("since"))


def device_months(session: Session, area: str, now: dt.datetime | None = None,
                  back: int = 12) -> list[dict[str, Any]]:
    """The slips the server holds for an area over the last ``back`` months (a pull
    tells the device which of its months are closed, and whether they match)."""
    now = now or dt.datetime.now(dt.UTC)
    newest = p0.last_closed_month(p0.vn_day(now))
    months = set(session.connection().scalars(_MONTHS_HELD, {
        "area": area, "since": p0.shift(newest, 1 - back)}))
    if not months:  # no slip held: nothing more to read (every pull page asks)
        return []
    rows = area_months(session, [area], sorted(months), now)
    return [rows[(area, m)].to_dict() for m in sorted(months)]


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive UTC datetimes."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

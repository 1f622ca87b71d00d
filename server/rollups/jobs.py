"""Full and incremental roll-up runs (no Flask here).

* :func:`full_recompute` recomputes every area and unit for a window of months
  and replaces their cells, in one transaction. It first takes the roll-up table
  for itself (PostgreSQL ``LOCK TABLE … EXCLUSIVE``; on SQLite the write lock), so
  a batch committing meanwhile waits and then applies its difference on top.
* :func:`after_batch` is the sync hook: inside the batch's transaction it
  recomputes only the areas the batch touched, for the months from the earliest
  one touched (stocks at the end of a month depend on everything before, so a
  fact dated in March changes every later month) to the current month, and adds
  the differences to their ancestors. An area whose people or households were
  edited is recomputed over the whole window (a corrected birth date moves a
  person between age groups in every month).

The window: from the first month holding any dated fact (at most ``max_months``
back) to the current month. A new area gets cells for the whole window at once.
Known gap: a fact dated before the first month of the stored window updates only
its own area's (new, earlier) cells until the next full recompute fills that
month for every area.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from server.models.base import chunks
from server.models.register import Distribution, Event, Household, Member
from server.models.rollups import JobLock, RollupCell
from server.rollups import store
from server.rollups.compute import Cells, compute_areas
from server.rollups.indicators import index_month, month_index
from server.rollups.parallel import compute_all
from server.sync.applier import Touched

DEFAULT_MAX_MONTHS = 36
DEFAULT_WORKERS = min(os.cpu_count() or 1, 8)  # processes of a full recompute


def this_month(today: dt.date | None = None) -> str:
    return (today or dt.datetime.now(dt.UTC).date()).strftime("%Y-%m")


def month_range(first: str, last: str) -> list[str]:
    return [index_month(i) for i in range(month_index(first), month_index(last) + 1)]


def window(session: Session, today: dt.date | None = None,
           max_months: int = DEFAULT_MAX_MONTHS) -> list[str]:
    """Months a full recompute covers: first dated fact (capped) to the current month."""
    current = this_month(today)
    firsts = [session.scalar(select(func.min(Event.event_date))),
              session.scalar(select(func.min(Distribution.distributed_on)))]
    first = min([f[:7] for f in firsts if f] + [current])
    earliest = index_month(month_index(current) - max_months + 1)
    return month_range(max(first, earliest), max(current, first))


def take_table(session: Session) -> None:
    """Hold the roll-up table against concurrent writers until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE rollup_cell IN EXCLUSIVE MODE"))
    else:  # a write as the first statement takes SQLite's write lock before any read
        session.execute(update(JobLock).where(JobLock.name == "").values(holder=None))


def _with_expected(cells: Cells, areas: Iterable[str], months: list[str]) -> Cells:
    for area in areas:
        for month in months:
            cells[area][month]["areas_expected"] = 1
    return cells


def full_recompute(session: Session, months: list[str] | None = None,
                   today: dt.date | None = None, max_months: int = DEFAULT_MAX_MONTHS,
                   workers: int = 1) -> dict[str, Any]:
    """Recompute and replace every cell of ``months`` (default: the window), on up to
    ``workers`` processes (:mod:`server.rollups.parallel`); commits."""
    session.commit()
    take_table(session)
    tree = store.tree_name(session)
    months = sorted(set(months or window(session, today, max_months)))
    cells = compute_all(session, months, workers)
    areas = store.expected_areas(session, tree) | set(cells)
    _with_expected(cells, areas, months)
    chains = store.ancestry(session, tree, areas)
    written = store.replace_all(session, tree, months, store.aggregate(cells, chains))
    session.commit()
    return {"tree": tree, "months": months, "areas": len(areas), "cells": written}


def after_batch(session: Session, touched: Touched) -> None:
    """The after-batch hook: recompute the touched areas and re-aggregate their ancestors."""
    current = this_month()
    first_of: dict[str, str] = {}
    for area, month in touched.months:
        first_of[area] = min(first_of.get(area, month), month)
    for area in touched.synced:  # a batch arrived from it: the area synced this month
        first_of.setdefault(area, current)
    edited = _areas_of(session, touched)
    if not first_of and not edited:
        return
    tree = store.tree_name(session)
    start = session.scalar(select(func.min(RollupCell.month)).where(
        RollupCell.tree == tree, RollupCell.level == store.NATIONAL_LEVEL))
    starts = list(first_of.values()) + ([start] if start else [current])
    window_start = min(starts)
    for area in edited:
        first_of[area] = window_start
    known = set(session.scalars(select(RollupCell.unit_code).where(
        RollupCell.tree == tree, RollupCell.month == window_start,
        RollupCell.unit_code.in_(sorted(first_of)))))
    for area in set(first_of) - known:  # a new area is expected in every month of the window
        first_of[area] = window_start
    last = max([current, *(m for _, m in touched.months)])
    by_start: dict[str, set[str]] = {}
    for area, first in first_of.items():
        by_start.setdefault(first, set()).add(area)
    chains = store.ancestry(session, tree, first_of)
    for first, areas in sorted(by_start.items()):
        months = month_range(first, last)
        cells = _with_expected(compute_areas(session, months, areas), areas, months)
        store.apply_area_cells(session, tree, cells, chains)


def refresh(session: Session, *, members: Iterable[str] = (), households: Iterable[str] = (),
            months: Iterable[tuple[str, str]] = ()) -> None:
    """Update the roll-ups after a change made outside a sync batch (a duplicate merge or
    its undo, a review): the areas of these members and households, in the caller's
    transaction, exactly as after a batch."""
    after_batch(session, Touched(members=set(members), households=set(households),
                                 months=set(months)))


# The member and household fields the roll-ups read: a batch that wrote only others (a
# name, an education, a BHYT number, an address) leaves every month's figures as they were.
COUNTED_FIELDS = {
    "member": frozenset({"household_id", "sex", "birth_date", "residence_status",
                       "marital_status", "registered_on", "recorded_on", "current_method",
                       "method_start", "living_children", "mother_id"}),
    "household": frozenset({"area_code"}),
}


def _areas_of(session: Session, touched: Touched) -> set[str]:
    """Areas of the members and households whose counted fields the batch wrote."""
    areas: set[str] = set()
    for kind, model in (("member", Member), ("household", Household)):
        for chunk in chunks(sorted(touched.changed(kind, COUNTED_FIELDS[kind])), 500):
            areas.update(session.scalars(select(model.area_code)
                                         .where(model.id.in_(chunk)).distinct()))
    return areas

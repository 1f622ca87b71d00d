"""Full and incremental roll-up runs (no Flask here).

* :func:`full_recompute` recomputes every area and unit for a window of months
  and replaces their cells, in one transaction. It first takes the roll-up table
  for itself (PostgreSQL ``LOCK TABLE … EXCLUSIVE``; on SQLite the write lock), so
  a batch committing meanwhile waits and then applies its difference on top.
* :func:`after_batch` recomputes only the areas a batch touched, for the months
  from the earliest one touched (stocks at the end of a month depend on everything
  before, so a fact dated in March changes every later month) to the current
  month, and adds the differences to their ancestors. An area whose people or
  households were edited is recomputed over the whole window (a corrected birth
  date moves a person between age groups in every month). An area touched without
  an event or an edited person (hand-outs, stock movements, slips) keeps its stored
  population stocks: only its other figures are recomputed.
* A batch does not wait for that (issue 19): its hook (:func:`queue_after_batch`)
  queues what it touched in its own transaction, and :func:`drain_queued` runs
  :func:`after_batch` once for everything queued meanwhile, after the commits
  (:mod:`server.sync.followups`). One drain runs at a time (the ``rollups`` lock):
  the province and national cells it adds to are shared by every area anyway, and
  one drain of many batches recomputes each area once. The recompute reads the
  register as committed, so doing it twice changes nothing; what a batch queued
  is deleted only by the drain that read it, so a batch committing during a drain
  is done again by the next one. :func:`refresh` (a merge, a review) and
  :func:`full_recompute` take the same lock.

The window: from the first month in which anyone was registered or anything
dated happened (at most ``max_months`` back) to the current month, quiet months
included. A new area gets cells for the whole window at once. A fact or a
registration dated before the stored window's first month extends the window:
the earlier months are computed for every area then, as a full recompute would.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from a0core import collector
from server.models.base import chunks, in_values
from server.models.register import Distribution, Event, Household, Member
from server.models.reports import P0Report
from server.models.rollups import JobLock, RollupCell
from server.models.sync import SyncBatch
from server.rollups import sources, store
from server.rollups.compute import Cells, area_starts, compute_areas
from server.rollups.indicators import index_month, month_index
from server.rollups.parallel import compute_all
from server.rollups.queries import month_of_timestamp
from server.sync.applier import Touched
from server.sync.followups import FollowUps, Queued
from server.sync.locks import hold

DEFAULT_MAX_MONTHS = 36
QUEUE = "rollups"  # the follow-up kind, and the lock one drain holds
DEFAULT_WORKERS = min(os.cpu_count() or 1, 8)  # processes of a full recompute
# how far back the after-batch hook extends the window: the server sets it from
# A0SYNC_ROLLUP_MAX_MONTHS (server.rollups.init_app), as the full recompute's
SETTINGS = {"max_months": DEFAULT_MAX_MONTHS}


def this_month(today: dt.date | None = None) -> str:
    return (today or dt.datetime.now(dt.UTC).date()).strftime("%Y-%m")


def month_range(first: str, last: str) -> list[str]:
    return [index_month(i) for i in range(month_index(first), month_index(last) + 1)]


def earliest_month(current: str, max_months: int) -> str:
    return index_month(month_index(current) - max_months + 1)


def window(session: Session, today: dt.date | None = None,
           max_months: int = DEFAULT_MAX_MONTHS) -> list[str]:
    """Months a full recompute covers: from the first month in which anyone was
    registered (a person without a registration date: their batch's month), a
    woman's status recorded or anything dated happened, at most ``max_months`` back,
    to the current month (the months a batch's own roll-ups reach back to)."""
    current = this_month(today)
    dialect = session.get_bind().dialect.name
    firsts = [session.scalar(select(func.min(Member.registered_on))),
              session.scalar(select(func.min(Member.recorded_on))),
              session.scalar(select(func.min(Event.event_date))),
              session.scalar(select(func.min(Distribution.distributed_on))),
              session.scalar(select(func.min(P0Report.month))),
              session.scalar(select(month_of_timestamp(dialect,
                                                       func.min(SyncBatch.received_at)))),
              *sources.first_months(session)]
    first = min([f[:7] for f in firsts if f] + [current])
    return month_range(max(first, earliest_month(current, max_months)), max(current, first))


def take_table(session: Session) -> None:
    """Hold the roll-up table against concurrent writers until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE rollup_cell IN EXCLUSIVE MODE"))
    else:  # a write as the first statement takes SQLite's write lock before any read
        session.execute(update(JobLock).where(JobLock.name == "").values(holder=None))


def _complete(session: Session, cells: Cells, areas: Iterable[str], months: list[str]
              ) -> Cells:
    """A cell for every area and month (an empty one too: the incremental path then
    clears what a correction took away), and an area expected in none of ``months``
    expected from its start on (:func:`server.rollups.compute.area_starts`: the
    month it was added or its first data; neither: every month)."""
    idle = {a for a in areas if not any(cells[a].get(m, {}).get("areas_expected")
                                        for m in months)}
    starts: dict[str, str] = {}
    for chunk in chunks(sorted(idle), 500):
        starts.update(area_starts(session, chunk))
    for area in areas:
        by_month = cells[area]
        for month in months:
            cell = by_month[month]  # made when missing (a defaultdict)
            if area in idle and month >= starts.get(area, ""):
                cell["areas_expected"] = 1
    return cells


def full_recompute(session: Session, months: list[str] | None = None,
                   today: dt.date | None = None, max_months: int = DEFAULT_MAX_MONTHS,
                   workers: int = 1) -> dict[str, Any]:
    """Recompute and replace every cell of ``months`` (default: the window), on up to
    ``workers`` processes (:mod:`server.rollups.parallel`); commits."""
    session.commit()
    hold(session, QUEUE)
    take_table(session)
    tree = store.tree_name(session)
    months = sorted(set(months or window(session, today, max_months)))
    with collector.paused():  # the workers' cells, the sums and the rows: many small objects
        cells = compute_all(session, months, workers)
        areas = store.expected_areas(session, tree) | set(cells)
        areas |= sources.add_area_values(session, cells, months)
        _complete(session, cells, areas, months)
        chains = store.ancestry(session, tree, areas)
        leaves, leaf_chains = sources.leaf_cells(session, tree, months)
        cells.update(leaves)
        chains.update(leaf_chains)
        written = store.replace_all(session, tree, months, store.aggregate(cells, chains))
    session.commit()
    return {"tree": tree, "months": months, "areas": len(areas), "cells": written}


def after_batch(session: Session, touched: Touched) -> None:
    """Recompute the touched areas and re-aggregate their ancestors (under the roll-up
    lock, held until the caller's transaction ends)."""
    hold(session, QUEUE)
    current = this_month()
    first_of: dict[str, str] = {}
    for area, month in touched.months:
        first_of[area] = min(first_of.get(area, month), month)
    for area in touched.synced:  # a batch arrived from it: the area synced this month
        first_of.setdefault(area, current)
    edited, registered, entered = _areas_of(session, touched)
    if not first_of and not edited and not entered:
        return
    tree = store.tree_name(session)
    stored = session.scalar(select(func.min(RollupCell.month)).where(
        RollupCell.tree == tree, RollupCell.level == store.NATIONAL_LEVEL)) or current
    earliest = earliest_month(current, SETTINGS["max_months"])
    window_start = max(min([stored, *first_of.values(), *registered]), earliest)
    for area in edited:
        first_of[area] = window_start
    for area, month in entered.items():  # only new persons: from the first one's entry
        if area not in edited:
            start = max(month or window_start, window_start)
            first_of[area] = min(first_of.get(area, start), start)
    first_of = {area: max(first, window_start) for area, first in first_of.items()}
    known = set(session.scalars(select(RollupCell.unit_code).where(
        RollupCell.tree == tree, RollupCell.month == stored,
        RollupCell.unit_code.in_(sorted(first_of)))))
    for area in set(first_of) - known:  # a new area is expected in every month of the window
        first_of[area] = window_start
    last = max([current, *(m for _, m in touched.months)])
    by_start: dict[str, set[str]] = {}
    for area, first in first_of.items():
        by_start.setdefault(first, set()).add(area)
    if window_start < stored:  # the window grows back: those months for every area
        _extend(session, tree, month_range(window_start, index_month(month_index(stored) - 1)),
                {area for area, first in first_of.items() if first == window_start})
    chains = store.ancestry(session, tree, first_of)
    for first, areas in sorted(by_start.items()):
        months = month_range(first, last)
        quiet = (set() if touched.events is None
                 else areas - edited - entered.keys() - touched.events)
        kept = _stored_stocks(session, tree, quiet, months)
        cells = compute_areas(session, months, areas, stocks_of=areas - set(kept))
        for area, by_month in kept.items():
            for month, values in by_month.items():
                cells[area][month].update(values)
        sources.add_area_values(session, cells, months, areas)
        store.apply_area_cells(session, tree, _complete(session, cells, areas, months), chains)


STOCK_FAMILIES = ("population", "households", "women_married_15_49", "users", "pregnant")


def _is_stock(name: str) -> bool:
    return name.split(".", 1)[0] in STOCK_FAMILIES


def _stored_stocks(session: Session, tree: str, areas: set[str], months: list[str]
                   ) -> dict[str, dict[str, dict[str, float]]]:
    """The population stocks stored for these areas (a batch without an event or an
    edited person leaves them as they are: a hand-out, a stock movement, a slip), for
    the areas with a cell for every month (the others' are computed)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for chunk in chunks(sorted(areas), 500):
        found: dict[str, dict[str, dict[str, float]]] = {}
        for area, month, values in session.execute(
                select(RollupCell.unit_code, RollupCell.month, RollupCell.values).where(
                    RollupCell.tree == tree, RollupCell.level == "area",
                    RollupCell.unit_code.in_(chunk), RollupCell.month.in_(months))):
            found.setdefault(area, {})[month] = {k: v for k, v in values.items()
                                                 if _is_stock(k)}
        out.update({a: by_month for a, by_month in found.items()
                    if len(by_month) == len(months)})
    return out


def _extend(session: Session, tree: str, months: list[str], done: set[str]) -> None:
    """Cells of ``months`` (before the stored window) for every area not in ``done``."""
    cells = compute_areas(session, months, mapped=True)
    sources.add_area_values(session, cells, months)
    areas = (store.expected_areas(session, tree) | set(cells)) - done
    cells = _complete(session, cells, areas, months)
    chains = store.ancestry(session, tree, areas)
    store.apply_area_cells(session, tree, {a: cells[a] for a in areas}, chains)
    store.apply_area_cells(session, tree, *sources.leaf_cells(session, tree, months))


def queue_after_batch(queue: FollowUps) -> Callable[[Session, Touched], None]:
    """The after-batch hook: queue what the batch touched that the roll-ups count (the
    members and households whose counted fields it wrote, the months its facts change,
    and this month for the area that synced)."""

    def hook(session: Session, touched: Touched) -> None:
        current = this_month()
        work = {"members": sorted(touched.changed("member", COUNTED_FIELDS["member"])),
                "households": sorted(touched.changed("household",
                                                     COUNTED_FIELDS["household"])),
                "months": sorted({*touched.months, *((a, current) for a in touched.synced)})}
        if any(work.values()):
            work["events"] = None if touched.events is None else sorted(touched.events)
            work["created"] = sorted(touched.created.intersection(
                [*work["members"], *work["households"]]))
            place = touched.place
            queue.enqueue(session, QUEUE, work,
                          province_code=place.province_code if place else "",
                          commune_code=place.commune_code if place else "")
    return hook


def drain_queued(session: Session, rows: list[Queued]) -> None:
    """Do the queued work of many batches at once (the follow-up handler)."""
    touched = Touched()
    edited: set[str] = set()  # written by a batch that did not create them
    for row in rows:
        created = set(row.payload.get("created", ()))
        touched.created |= created
        for key in ("members", "households"):
            ids = row.payload.get(key, ())
            getattr(touched, key).update(ids)
            edited.update(i for i in ids if i not in created)
    # created in one batch, edited in another of this drain: an edit (whole window)
    touched.created -= edited
    for row in rows:
        touched.months.update((area, month) for area, month in row.payload.get("months", ()))
        if row.payload.get("events") is None:  # not known (or queued before the key)
            touched.events = None
        elif touched.events is not None:
            touched.events.update(row.payload["events"])
    after_batch(session, touched)


def refresh(session: Session, *, members: Iterable[str] = (), households: Iterable[str] = (),
            months: Iterable[tuple[str, str]] = ()) -> None:
    """Update the roll-ups after a change made outside a sync batch (a duplicate merge or
    its undo, a review): the areas of these members and households, in the caller's
    transaction, exactly as after a batch."""
    after_batch(session, Touched(members=set(members), households=set(households),
                                 months=set(months), events=None))


# The member and household fields the roll-ups read: a batch that wrote only others (a
# name, an education, a BHYT number, an address) leaves every month's figures as they were.
COUNTED_FIELDS = {
    "member": frozenset({"household_id", "sex", "birth_date", "residence_status",
                       "marital_status", "registered_on", "recorded_on", "current_method",
                       "method_start", "living_children", "mother_id"}),
    "household": frozenset({"area_code"}),
}


def _areas_of(session: Session, touched: Touched
              ) -> tuple[set[str], set[str], dict[str, str]]:
    """Areas of the members and households whose counted fields the batch wrote, the
    months those members were registered in (the window may have to grow), and, for
    the areas whose only such members are new, the month the first of them enters
    the register ("" when one has no registration date: the whole window).

    A new person had no part in any stored figure and counts from their entry (their
    registration, or their birth when later) on: the months before are as stored. A
    new household counts only through its members, so it moves nothing by itself."""
    areas: set[str] = set()
    registered: set[str] = set()
    entered: dict[str, str] = {}
    members = sorted(touched.changed("member", COUNTED_FIELDS["member"]))
    for chunk in chunks(members):  # one statement of one parameter per chunk (in_values)
        for member_id, area, day in session.execute(
                select(Member.id, Member.area_code, Member.registered_on)
                .where(in_values(session, Member.id, chunk))):
            if day:
                registered.add(day[:7])
            if member_id in touched.created:
                month = day[:7] if day else ""
                entered[area] = min(entered.get(area, month), month)
            else:
                areas.add(area)
    households = touched.changed("household", COUNTED_FIELDS["household"]) - touched.created
    for chunk in chunks(sorted(households), 500):
        areas.update(session.scalars(select(Household.area_code)
                                     .where(Household.id.in_(chunk)).distinct()))
    return areas, registered, {a: m for a, m in entered.items() if a not in areas}

"""The work after a batch: stock alerts and the stations' roll-up leaves.

A batch only queues the holders it touched (:func:`queue_after_batch`, in its own
transaction); the work is done after its commit (:mod:`server.sync.followups`, kind
:data:`QUEUE`), like the roll-ups', so no batch holds a commune's or a province's
roll-up rows (issue 19). The station's own writes call :func:`after_batch` in their
transaction. For the stations touched (``Touched.stations``, and those of the areas
that synced when a new month began) it

1. takes a lock per station (PostgreSQL: a transaction-scoped advisory lock; SQLite
   has one writer), so two batches of one commune never compute a station from each
   other's half-written state — and nothing wider than the stations is held;
2. recomputes each station's stored months (:mod:`server.logistics.balances`) and its
   leaf from the first month touched to the current one, and adds the difference to
   its commune and every unit above (:func:`server.rollups.store.apply_area_cells`);
3. makes its alerts match its ledger (:mod:`server.logistics.flags`).

An area's stock is in the area's own cell, which the roll-ups' hook recomputes for
the same months, with the area's stored months and alerts
(:meth:`server.logistics.cells.StockSource.area_values`): done once per batch.

Everything is computed from the movements from the first month touched on, carried on
from the stored months before it (:mod:`server.logistics.balances`), so running it
again changes nothing (a durable queue of hooks may replay it).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.logistics import balances, flags, ledger
from server.logistics.cells import STATION, STATION_LEVEL, figures, station_code
from server.models.base import id_list, in_param, list_param
from server.models.logistics import StockMovement
from server.models.rollups import RollupCell
from server.rollups import jobs, store
from server.rollups.indicators import index_month, month_index
from server.rollups.sources import Leaf, leaf_chains
from server.sync.applier import Touched
from server.sync.followups import FollowUps, Queued, queued_if
from server.sync.locks import hold

QUEUE = "stock"  # the follow-up kind


@functools.cache
def _if_stock(dialect: str) -> Any:
    """Queue the row only if one of the ``areas`` has a stock movement."""
    table = StockMovement.__table__
    return queued_if(select(table.c.id).where(in_param(
        table.c.area_code, dialect, list_param("areas", table.c.area_code, dialect)))
        .exists())


def queue_after_batch(queue: FollowUps) -> Callable[[Session, Touched], None]:
    """The after-batch hook: queue the stations the batch touched and the area that
    synced (nothing for a batch of an area that never kept stock: the database decides,
    as it would write the row). The months of the batch's facts are not the stock's
    business: an area's stock is in its own roll-up cell, which the roll-ups' hook
    recounts; so a refold after the batch (:mod:`server.sync.refold`), which only
    hands on months, queues nothing here."""

    def hook(session: Session, touched: Touched) -> None:
        when = None
        if not touched.stations:
            if not touched.synced:
                return
            dialect = session.get_bind().dialect.name
            when = (_if_stock(dialect), {"areas": id_list(dialect, sorted(touched.synced))})
        place = touched.place
        queue.enqueue(session, QUEUE, {"stations": sorted(touched.stations),
                                       "synced": sorted(touched.synced)},
                      province_code=place.province_code if place else "",
                      commune_code=place.commune_code if place else "", when=when)
    return hook


def drain_queued(session: Session, rows: list[Queued]) -> None:
    """Do the queued work of many batches at once, under the roll-ups' lock (the
    stations' leaves add up into the same commune and province cells)."""
    hold(session, jobs.QUEUE)
    touched = Touched()
    for row in rows:
        touched.stations.update((c, m) for c, m in row.payload.get("stations", ()))
        touched.synced.update(row.payload.get("synced", ()))
    after_batch(session, touched)


def after_batch(session: Session, touched: Touched) -> None:
    stations: dict[str, str] = {}
    for commune, month in touched.stations:
        stations[commune] = min(stations.get(commune, month), month)
    _keep_current(session, stations, ledger.areas_with_stock(session, touched.synced))
    if stations:
        lock(session, [f"station:{c}" for c in stations])
        flags.refresh(session, stations=update_leaves(session, stations))


def lock(session: Session, holders: Iterable[str]) -> None:
    """One lock per stock holder, in a fixed order, until the transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the batch holds the database's one write lock already
    for holder in sorted(set(holders)):
        digest = hashlib.sha256(f"a0sync:stock:{holder}".encode()).digest()
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                        {"k": int.from_bytes(digest[:8], "big", signed=True)})


def update_leaves(session: Session, stations: dict[str, str]) -> dict[str, balances.Computed]:
    """Recompute each station's months from the first one touched (stored, and in its
    leaf from there, a new leaf: the whole window, to the current month), and add the
    differences up the tree; returns what was computed."""
    tree = store.tree_name(session)
    current = jobs.this_month()
    earliest = jobs.earliest_month(current, jobs.SETTINGS["max_months"])
    stored = session.scalar(select(func.min(RollupCell.month)).where(
        RollupCell.tree == tree, RollupCell.level == store.NATIONAL_LEVEL))
    first = max(min(stations.values()), earliest)
    if stored is not None and first < stored:
        _grow_window(session, tree, first)
        stored = first
    start = max(min([first, stored or first]), earliest)
    known = set(session.scalars(select(RollupCell.unit_code).where(
        RollupCell.tree == tree, RollupCell.month == start,
        RollupCell.unit_code.in_([station_code(c) for c in stations]))))
    by_first: dict[str, list[str]] = {}
    for commune, month in stations.items():
        begin = max(month, start) if station_code(commune) in known else start
        by_first.setdefault(begin, []).append(commune)
    done: dict[str, balances.Computed] = {}
    for begin, communes in sorted(by_first.items()):
        months = jobs.month_range(begin, max(current, begin))
        # the stored months from the first one touched, even before the window
        computed = balances.stations(session, {c: min(stations[c], begin) for c in communes})
        done.update(computed)
        values = {Leaf(station_code(c), STATION_LEVEL, c, d.province_code):
                  figures(STATION, d.by_method, months) for c, d in computed.items()}
        cells = {leaf.code: {m: dict(by_month.get(m, {})) for m in months}
                 for leaf, by_month in values.items()}
        store.apply_area_cells(session, tree, cells, leaf_chains(session, tree, values))
    return done


def _grow_window(session: Session, tree: str, first: str) -> None:
    """A station's movement dated before the stored window: the window starts there now,
    for every unit, as a full recompute would have it (the roll-ups grow it)."""
    area = session.scalar(select(RollupCell.unit_code).where(
        RollupCell.tree == tree, RollupCell.level == "area").limit(1))
    if area is not None:
        jobs.refresh(session, months=[(area, first)])


def _keep_current(session: Session, stations: dict[str, str], synced: set[str]) -> None:
    """A batch from an area whose commune's station keeps stock: the station's leaf gets
    the months up to the current one if it lacks them (a new month began), so the
    commune's figures never miss its station's."""
    if not synced:
        return
    communes = set(session.scalars(select(StockMovement.commune_code).distinct().where(
        StockMovement.area_code.in_(sorted(synced))))) - set(stations)
    if not communes:
        return
    tree = store.tree_name(session)
    current = jobs.this_month()
    for commune in ledger.stations(session, communes):
        last = session.scalar(select(func.max(RollupCell.month)).where(
            RollupCell.tree == tree, RollupCell.unit_code == station_code(commune),
            RollupCell.level == STATION_LEVEL))
        if last is not None and last < current:
            stations[commune] = index_month(month_index(last) + 1)

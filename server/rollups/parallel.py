"""A full recompute on every core: the areas in shards, one worker process each.

An area's cells read only its own persons, events, distributions and batches, so
areas can be computed apart: they are dealt into shards of about equal numbers of
persons; the caller computes the first with
:func:`server.rollups.compute.compute_areas` while each other shard's worker
process opens its own connection, computes it and sends the cells back; the caller
stores them all in its own transaction. The caller holds the roll-up table meanwhile
(:func:`server.rollups.jobs.take_table`): a batch that changes a counted fact
waits, then applies its difference on top, as it does for a recompute in one
process.

A command (one thread) forks its workers. A server process has threads, and a
lock one of them holds at the fork would stay held in the worker for ever, so its
workers come from a fork server (a clean process started once, which forks each
worker). A worker never touches the caller's connections: it opens its own. An
in-memory SQLite database cannot be shared, so it is computed in the caller.
"""

from __future__ import annotations

import heapq
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import orjson
from sqlalchemy import URL, create_engine, func, select
from sqlalchemy.orm import Session

from server.models.register import Distribution, Event, Member
from server.models.reports import P0Report
from server.models.sync import SyncBatch
from server.rollups.compute import Cells, compute_areas


def compute_all(session: Session, months: Sequence[str], workers: int) -> Cells:
    """Every area's cells for ``months``, on up to ``workers`` processes."""
    url = session.get_bind().url
    shared = not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))
    parts = [p for p in shards(session, workers) if p] if workers > 1 and shared else []
    if len(parts) < 2:
        return compute_areas(session, months, mapped=True)
    context = _context()
    with ProcessPoolExecutor(len(parts) - 1, mp_context=context) as pool:
        others = [pool.submit(_compute_shard, url, list(months), part) for part in parts[1:]]
        cells = compute_areas(session, months, parts[0], mapped=True)  # the first shard
        for future in others:
            for area, by_month in future.result().items():
                cells[area].update(by_month)
    return cells


def _context() -> multiprocessing.context.BaseContext:
    """Fork when this process has one thread (a command): no other thread can hold a
    lock the worker would inherit; otherwise (a server) a fork server."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["server.rollups.compute"])
    return context


# of the persons: how far the first shard starts ahead of the others. Negative: the
# caller writes only once every worker has sent its cells, so the shards should end
# together, and a worker's start (fork, connection) and sending its cells back cost
# about 3 % of the persons' work (measured at a million persons: with 0.1 the caller
# waited 1.4–2.3 s for its worker, with -0.03 about 0.1 s)
CALLER_SHARE = -0.03


def shards(session: Session, n: int) -> list[list[str]]:
    """Every area holding data, dealt into ``n`` shards of about equal persons
    (largest area first, each to the lightest shard). The first shard, computed by
    the caller, starts :data:`CALLER_SHARE` of the persons ahead (behind, when
    negative: it takes more), so that every shard ends at about the same time."""
    sizes: dict[str, int] = dict(session.execute(
        select(Member.area_code, func.count()).group_by(Member.area_code)).all())
    for column in (Event.area_code, Distribution.area_code, SyncBatch.area_code,
                   P0Report.area_code):
        for area in session.scalars(select(column).where(column.is_not(None)).distinct()):
            sizes.setdefault(area, 0)
    heap = [(int(CALLER_SHARE * sum(sizes.values())) if i == 0 and n > 1 else 0, i)
            for i in range(n)]
    out: list[list[str]] = [[] for _ in range(n)]
    for area in sorted(sizes, key=lambda a: (-sizes[a], a)):
        load, i = heapq.heappop(heap)
        out[i].append(area)
        heapq.heappush(heap, (load + sizes[area], i))
    return out


def _compute_shard(url: URL, months: list[str], areas: list[str]) -> dict:
    """In a worker: the shard's cells (they travel by pickle, which takes the inner
    ``defaultdict(dict)`` but not the outer one's lambda)."""
    engine = create_engine(url, json_deserializer=orjson.loads)
    try:
        with Session(engine) as session:
            return dict(compute_areas(session, months, areas, mapped=True))
    finally:
        engine.dispose()

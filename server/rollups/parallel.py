"""A full recompute on every core: the areas in shards, one worker process each.

An area's cells read only its own persons, events, distributions and batches, so
areas can be computed apart: they are dealt into shards of about equal numbers of
persons, and each worker process opens its own connection, computes its shard with
:func:`server.rollups.compute.compute_areas` and sends the cells back; the caller
stores them in its own transaction. The caller holds the roll-up table meanwhile
(:func:`server.rollups.jobs.take_table`): a batch that changes a counted fact
waits, then applies its difference on top, as it does for a recompute in one
process.

The workers come from a fork server (a clean process started once, which forks
each worker), not from forking the caller: the caller may be a server process
with threads and open connections. An in-memory SQLite database cannot be shared,
so it is computed in the caller.
"""

from __future__ import annotations

import heapq
import multiprocessing
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

from sqlalchemy import URL, create_engine, func, select
from sqlalchemy.orm import Session

from server.models.register import Distribution, Event, Member
from server.models.sync import SyncBatch
from server.rollups.compute import Cells, compute_areas

_CONTEXT = "forkserver"


def compute_all(session: Session, months: Sequence[str], workers: int) -> Cells:
    """Every area's cells for ``months``, on up to ``workers`` processes."""
    url = session.get_bind().url
    if workers < 2 or (url.get_backend_name() == "sqlite" and url.database in (None, "",
                                                                               ":memory:")):
        return compute_areas(session, months)
    parts = [p for p in shards(session, workers) if p]
    if len(parts) < 2:
        return compute_areas(session, months)
    context = multiprocessing.get_context(_CONTEXT)
    context.set_forkserver_preload(["server.rollups.compute"])
    cells: Cells = defaultdict(lambda: defaultdict(dict))
    with ProcessPoolExecutor(len(parts), mp_context=context) as pool:
        for part in pool.map(_compute_shard, repeat(url), repeat(list(months)), parts):
            for area, by_month in part.items():
                cells[area].update(by_month)
    return cells


def shards(session: Session, n: int) -> list[list[str]]:
    """Every area holding data, dealt into ``n`` shards of about equal persons
    (largest area first, each to the lightest shard)."""
    sizes: dict[str, int] = dict(session.execute(
        select(Member.area_code, func.count()).group_by(Member.area_code)).all())
    for column in (Event.area_code, Distribution.area_code, SyncBatch.area_code):
        for area in session.scalars(select(column).where(column.is_not(None)).distinct()):
            sizes.setdefault(area, 0)
    heap = [(0, i) for i in range(n)]
    out: list[list[str]] = [[] for _ in range(n)]
    for area in sorted(sizes, key=lambda a: (-sizes[a], a)):
        load, i = heapq.heappop(heap)
        out[i].append(area)
        heapq.heappush(heap, (load + sizes[area], i))
    return out


def _compute_shard(url: URL, months: list[str], areas: list[str]) -> dict:
    """In a worker: the shard's cells as plain dicts (they travel by pickle)."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            cells = compute_areas(session, months, areas)
            return {area: {m: dict(v) for m, v in by_month.items()}
                    for area, by_month in cells.items()}
    finally:
        engine.dispose()

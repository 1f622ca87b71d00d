"""Sync ingestion throughput against a raw-insert floor, and a village's first download.

Seals ``--ops`` operations (default 10,000) from several devices, one per
collaborator area of a real commune, into batches, then ingests them through the
full path (open, verify, decrypt, validate, merge, ledger, receipt, commit). Two
kinds of realistic traffic (``--mix``):

* ``first`` (default): each area's first upload — households and members
  registered (A0 upserts), the woman/couple form, then half a year of change-slip
  events and distributions — in batches of ``--batch`` operations;
* ``monthly``: the steady state. The register is on the server already (bulk
  loaded before timing); each collaborator sends a year of changes as they
  happen, one batch per month: people arriving, woman records, events,
  distributions and A0 corrections (``server.synthetic.operations``). Batches are
  small (a village's month), so the per-batch cost shows.

In the same run, on a fresh database of the same kind (holding the same bulk
load), the rows the ingestion wrote — register rows inserted or updated, ledger
rows — are written again with one Core ``executemany`` per table and one commit:
``floor_ops_per_s``. ``raw_floor_ops_per_s`` writes them through the DBAPI
cursor alone, parameters made before the clock starts: what the database itself
costs. ``pull_village_ms`` is the server time of a device's first download of a
300-household area (every page, signed and sealed). Each figure is the median of
``--repeat`` runs, each on a fresh database.

    .venv/bin/python bench/ingest.py --json
    .venv/bin/python bench/ingest.py --mix monthly --json
    .venv/bin/python bench/ingest.py --db postgresql --json

With ``--json`` the last line is
``{"db", "mix", "ops", "batches", "hooks", "ops_per_s", "floor_ops_per_s", "ratio",
"raw_floor_ops_per_s", "pull_village_ms"}``.
By default each batch also runs the after-batch hooks of a real server (incremental
roll-ups, duplicate detection), as ``a0sync serve`` does: queued by the batch, done by
a thread of the process after the commits, and the clock stops only when the queue
is empty; ``--hooks`` picks some of them (``--hooks none``,
or ``--without-hooks``, measures the sync core alone), and ``--core-too`` also times
the sync core alone in the same run, on fresh databases between the hooked runs,
adding ``core_ops_per_s`` and ``hooks_share`` (hooked ÷ core throughput):

    .venv/bin/python bench/ingest.py --hooks duplicates --core-too --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import bindparam, func, insert, select

from a0core.envelope import DeviceKeys, open_from_server, sign_request
from a0core.hlc import HybridClock
from a0core.sync_client import seal
from server import MIGRATIONS_DIR, create_app
from server.extensions import db
from server.models.base import plan_many
from server.models.people import Collaborator, Device
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import DeviceSync, SyncOp
from server.register.bulk import Writer, load_area, refresh_statistics
from server.rollups.jobs import full_recompute
from server.security.keys import keystore_for
from server.sync.followups import THREAD
from server.sync.ingest import ingest_batch
from server.sync.runtime import HOOKS_KEY, followups_for, ingest_context
from server.synthetic import generate_area, generate_commune
from server.synthetic.operations import (
    area_operations,
    change_operations,
    record_day,
    register_at,
)

COMMUNE, PROVINCE, COMMUNE_NAME = "12619", "33", "Xã Diên Hà"
# periods end today, as real traffic does (what the after-batch roll-up recomputes runs
# from the earliest month a batch touched to the current month)
TODAY = dt.date.today()
PERIOD = (TODAY - dt.timedelta(days=182), TODAY)  # what a first upload brings
YEAR = (TODAY - dt.timedelta(days=365), TODAY)    # the monthly mix's year of changes
YEAR_START = YEAR[0].isoformat()
MONTHLY_HOUSEHOLDS = 8000  # a large commune of the 2025 list: enough areas for 10,000 changes
WRITTEN = (Household, Member, Event, Distribution, SyncOp)  # what the floor re-inserts
HOOKS = {"duplicates": "server.sync.duplicates", "rollups": "server.rollups"}  # module prefix


def keep_hooks(app: Any, chosen: str) -> None:
    """Leave only the after-batch hooks ``chosen`` (``all``, ``none`` or a :data:`HOOKS` key)."""
    if chosen == "all":
        return
    hooks = app.extensions.get(HOOKS_KEY, [])
    if chosen != "none" and not any(h.__module__.startswith(HOOKS[chosen]) for h in hooks):
        raise SystemExit(f"no {chosen} hook registered")
    hooks[:] = [h for h in hooks if chosen != "none" and h.__module__.startswith(HOOKS[chosen])]


class Databases:
    """Fresh, migrated databases of one kind, cloned from a template. PostgreSQL
    flushes every commit to disk, as a real server does (SQLite: ``synchronous=FULL``)."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder, self.n = kind, folder, 0
        self.pg = None
        if kind == "postgresql":
            from tests.support import postgres

            self.pg = postgres.start(durable=True)
            template = "a0_bench_template"
            self.template_url = self.pg.create_database(template)
            self.template = template
        else:
            self.template = str(folder / "template.sqlite")
            self.template_url = f"sqlite:///{self.template}"
        self._migrate(self.template_url)

    def _migrate(self, url: str) -> None:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(self.folder)})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
            db.engine.dispose()

    def preload(self, load: Callable[[], None]) -> None:
        """Run ``load`` in the template: every fresh database starts with it."""
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.template_url,
                          "INSTANCE_PATH": str(self.folder)})
        with app.app_context():
            load()
            refresh_statistics(db.session)  # as autovacuum would have long since
            db.session.commit()
            db.session.remove()
            db.engine.dispose()

    @contextmanager
    def fresh(self) -> Iterator[Any]:
        """An app on a new database; its keys are shared (one instance folder)."""
        self.n += 1
        if self.pg is not None:
            url = self.pg.create_database(f"a0_bench_{self.n}", self.template)
        else:
            path = self.folder / f"bench-{self.n}.sqlite"
            shutil.copy(self.template, path)
            url = f"sqlite:///{path}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(self.folder)})
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()

    def close(self) -> None:
        if self.pg is not None:
            self.pg.stop()


class BenchDevice:
    def __init__(self, area_code: str, commune: str = COMMUNE) -> None:
        self.id, self.area, self.keys = str(uuid.uuid4()), area_code, DeviceKeys.generate()
        self.commune = commune

    def register(self) -> None:
        collaborator = Collaborator(full_name="Nguyễn Thị Thu", area_code=self.area,
                                    commune_code=self.commune, province_code=PROVINCE)
        db.session.add(collaborator)
        db.session.flush()
        db.session.add(Device(id=self.id, collaborator_id=collaborator.id, area_code=self.area,
                              commune_code=self.commune, province_code=PROVINCE,
                              sign_public_key=self.keys.sign_public_key,
                              box_public_key=self.keys.box_public_key))
        db.session.flush()
        db.session.add(DeviceSync(device_id=self.id))


@dataclass
class Traffic:
    devices: list[BenchDevice]
    envelopes: list[bytes]
    preload: list[Any]  # areas bulk-loaded before the clock starts (monthly mix)


def first_uploads(app: Any, n_ops: int, batch: int, seed: int) -> Traffic:
    """``n_ops`` operations from the commune's areas, one device each, sealed in batches."""
    server_key = keystore_for(app).public()
    devices, envelopes, total = [], [], 0
    for area in generate_commune(seed, COMMUNE, COMMUNE_NAME, 4000, PERIOD):
        if total >= n_ops:
            break
        device = BenchDevice(area.area_code)
        clock = HybridClock()
        ops = list(area_operations(area, clock))[: n_ops - total]
        total += len(ops)
        devices.append(device)
        for start in range(0, len(ops), batch):
            envelopes.append(seal(ops[start:start + batch], device_id=device.id,
                                  keys=device.keys, server_key=server_key,
                                  hlc=clock.now()).envelope)
    if total < n_ops:
        raise SystemExit(f"only {total} operations generated")
    return Traffic(devices, envelopes, [])


def monthly_changes(app: Any, n_ops: int, seed: int, loader: Writer) -> Traffic:
    """A year of the commune's changes after its bulk-loaded register, a batch per
    device per month, sent month by month (every device's January, then February…)."""
    server_key = keystore_for(app).public()
    devices, preload, by_month, total = [], [], {}, 0
    for area in generate_commune(seed, COMMUNE, COMMUNE_NAME, MONTHLY_HOUSEHOLDS, YEAR):
        if total >= n_ops:
            break
        device = BenchDevice(area.area_code)
        clock = HybridClock()
        ops = list(change_operations(area, YEAR_START, clock, device.id,
                                     (loader.hlc, loader.device)))[: n_ops - total]
        total += len(ops)
        devices.append(device)
        preload.append(register_at(area, YEAR_START))
        month, months = "", {}
        for op in ops:  # an A0 correction (no date) goes with its change_info
            month = (record_day(op["form"], op["fields"]) or "")[:7] or month
            months.setdefault(month, []).append(op)
        for month, month_ops in months.items():
            by_month.setdefault(month, []).append(seal(
                month_ops, device_id=device.id, keys=device.keys, server_key=server_key,
                hlc=clock.now()).envelope)
    if total < n_ops:
        raise SystemExit(f"only {total} operations generated")
    return Traffic(devices, [e for month in sorted(by_month) for e in by_month[month]],
                   preload)


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


Rows = dict[Any, list[dict[str, Any]]]


def ingest_run(app: Any, devices: list[BenchDevice], envelopes: list[bytes],
               ) -> tuple[float, Rows]:
    """Ingest every envelope; return the seconds taken and the rows it wrote."""
    for device in devices:
        device.register()
    db.session.commit()
    ctx = ingest_context(app)
    before = {model: db.session.scalar(select(func.max(model.__table__.c.seq)))
              for model in WRITTEN if model is not SyncOp}

    queue = followups_for(app)
    queue.mode = THREAD  # as under a0sync serve: the work after batches in a thread

    def run() -> None:
        for envelope in envelopes:
            receipt = ingest_batch(db.session, envelope, ctx)
            bad = [v for v in receipt["receipt"]["verdicts"] if v["verdict"] == "rejected"]
            if bad:
                raise SystemExit(f"rejected operations: {bad[:3]}")
        queue.stop()
        queue.drain(db.engine)  # the clock stops when the roll-ups and duplicates are done

    seconds = timed(run)
    rows = {}
    for model in WRITTEN:
        table = model.__table__
        query = select(table)
        if before.get(model) is not None:  # only what the ingestion wrote
            query = query.where(table.c.seq > before[model])
        rows[model] = [dict(r._mapping) for r in db.session.execute(query)]
    return seconds, rows


def floor_run(devices: list[BenchDevice], rows: Rows, *, raw: bool = False) -> float:
    """The same rows written again, with one executemany per table and statement kind
    (insert; update for rows of the bulk load) and one commit: through Core, or
    (``raw``) through the DBAPI cursor with every parameter made beforehand."""
    for device in devices:
        device.register()
    db.session.commit()
    writes = []
    for model, table_rows in rows.items():
        table = model.__table__
        existing = set(db.session.scalars(select(table.c.id))) if "id" in table.c else set()
        for kind in ("insert", "update"):
            group = [r for r in table_rows if (r.get("id") in existing) == (kind == "update")]
            if group:
                writes.append((model, kind, group))
    db.session.commit()
    if raw:
        conn = db.engine.raw_connection()
        planned = [plan_many(db.engine.dialect, m.__table__, tuple(g[0]), k) for m, k, g in writes]
        statements = [(sql, params(group)) for (sql, params), (_, _, group)
                      in zip(planned, writes, strict=True)]

        def run() -> None:
            cursor = conn.cursor()
            for sql, params in statements:
                cursor.executemany(sql, params)
            conn.commit()
        try:
            return timed(run)
        finally:
            conn.close()

    def run_core() -> None:
        with db.engine.begin() as conn:
            for model, kind, group in writes:
                table = model.__table__
                if kind == "insert":
                    conn.execute(insert(table), group)
                else:
                    conn.execute(table.update().where(table.c.id == bindparam("b_id"))
                                 .values({c: bindparam(c) for c in group[0] if c != "id"}),
                                 [{**r, "b_id": r["id"]} for r in group])

    return timed(run_core)


def steady_state(areas: list[Any], loader: Writer) -> None:
    """Registers as a province has them between two month starts: loaded, rolled up
    (the nightly job's window: without it the first batches' follow-ups would extend
    every area's cells back to their months), and analysed."""
    for area in areas:
        load_area(db.session, area, PROVINCE, COMMUNE, loader)
    db.session.commit()
    full_recompute(db.session)


def pull_village(app: Any, seed: int, repeat: int) -> float:
    """Median server milliseconds of a first download of a 300-household area."""
    area_code = f"{COMMUNE}.99.1"
    area = generate_area(seed, area_code, f"{COMMUNE}.99", COMMUNE_NAME, 300, PERIOD)
    load_area(db.session, area, PROVINCE, COMMUNE, Writer("bench-loader", HybridClock().now()))
    device = BenchDevice(area_code)
    device.register()
    refresh_statistics(db.session)
    db.session.commit()
    server_key = keystore_for(app).public()
    client = app.test_client()
    times = []
    for _ in range(repeat):
        cursor, more, elapsed, changes = 0, True, 0.0, 0
        while more:
            path = f"/api/v1/sync/pull?cursor={cursor}&kid={server_key.kid}&clocks=packed"
            headers = sign_request("GET", path, b"", device.keys, device_id=device.id)
            start = time.perf_counter()
            resp = client.get(path, headers=headers)
            elapsed += time.perf_counter() - start
            page = open_from_server(resp.get_data(), device.keys, server_key,
                                    device_id=device.id)
            cursor, more = page["cursor"], page["more"]
            changes += len(page["changes"])
        if changes < 300:
            raise SystemExit(f"first download brought only {changes} changes")
        times.append(elapsed * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="operations per batch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    parser.add_argument("--hooks", choices=["all", "none", *HOOKS], default="all",
                        help="after-batch hooks to run (default: all, as a real server)")
    parser.add_argument("--without-hooks", dest="hooks", action="store_const", const="none",
                        help="the sync core alone: same as --hooks none")
    parser.add_argument("--core-too", action="store_true",
                        help="also time the sync core alone in the same run")
    parser.add_argument("--mix", choices=["first", "monthly"], default="first",
                        help="first uploads of whole areas, or a year of monthly changes")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="a0-bench-ingest-"))
    dbs = Databases(args.db, folder)
    try:
        with dbs.fresh() as app:
            if args.mix == "first":
                sent = first_uploads(app, args.ops, args.batch, args.seed)
            else:
                loader = Writer("bench-loader", HybridClock().now())
                sent = monthly_changes(app, args.ops, args.seed, loader)
        if sent.preload:
            dbs.preload(lambda: steady_state(sent.preload, loader))
        ingest_s, floor_s, raw_s, core_s = [], [], [], []
        for _ in range(args.repeat):
            with dbs.fresh() as app:
                keep_hooks(app, args.hooks)
                seconds, rows = ingest_run(app, sent.devices, sent.envelopes)
                ingest_s.append(seconds)
            with dbs.fresh():
                floor_s.append(floor_run(sent.devices, rows))
            with dbs.fresh():
                raw_s.append(floor_run(sent.devices, rows, raw=True))
            if args.core_too:
                with dbs.fresh() as app:
                    keep_hooks(app, "none")
                    core_s.append(ingest_run(app, sent.devices, sent.envelopes)[0])
        del rows  # a server does not hold the benchmark's copies while it serves a pull
        gc.collect()
        with dbs.fresh() as app:
            pull_ms = pull_village(app, args.seed, max(5, args.repeat))
    finally:
        dbs.close()
        shutil.rmtree(folder, ignore_errors=True)

    ops_per_s = args.ops / statistics.median(ingest_s)
    floor = args.ops / statistics.median(floor_s)
    result: dict[str, Any] = {
        "db": args.db, "mix": args.mix, "ops": args.ops, "batches": len(sent.envelopes),
        "hooks": args.hooks, "ops_per_s": round(ops_per_s), "floor_ops_per_s": round(floor),
        "ratio": round(ops_per_s / floor, 3),
        "raw_floor_ops_per_s": round(args.ops / statistics.median(raw_s)),
        "pull_village_ms": round(pull_ms, 1)}
    if core_s:
        core = args.ops / statistics.median(core_s)
        result.update(core_ops_per_s=round(core), hooks_share=round(ops_per_s / core, 3))
    if not args.json:
        print(f"batches: {len(sent.envelopes)}, devices: {len(sent.devices)}, "
              f"runs: {args.repeat}")
        for name, times in (("ingest", ingest_s), ("floor", floor_s), ("raw floor", raw_s),
                            ("core", core_s)):
            if times:
                print(f"{name} seconds:", [round(t, 3) for t in times])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

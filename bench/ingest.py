"""Sync ingestion throughput against a raw-insert floor, and a village's first download.

Seals ``--ops`` operations (default 10,000) of realistic traffic — households and
members registered, the woman/couple form, change-slip events, distributions — from
several devices into batches of ``--batch`` operations, then ingests them through
the full path (open, verify, decrypt, validate, merge, ledger, receipt, commit).
In the same run, on a fresh database of the same kind, a raw ``executemany`` of
exactly the rows the ingestion wrote (register rows and ledger rows) gives the
floor. ``pull_village_ms`` is the server time of a device's first download of a
300-household area (every page, signed and sealed). Each figure is the median of
``--repeat`` runs, each on a fresh database.

    .venv/bin/python bench/ingest.py --json
    .venv/bin/python bench/ingest.py --db postgresql --json

With ``--json`` the last line is
``{"db", "ops", "hooks", "ops_per_s", "floor_ops_per_s", "ratio", "pull_village_ms"}``.
By default each batch also runs the after-batch hooks of a real server (incremental
roll-ups, duplicate detection); ``--hooks`` picks some of them (``--hooks none``,
or ``--without-hooks``, measures the sync core alone), and ``--core-too`` also times
the sync core alone in the same run, on fresh databases between the hooked runs,
adding ``core_ops_per_s`` and ``hooks_share`` (hooked ÷ core throughput):

    .venv/bin/python bench/ingest.py --hooks duplicates --core-too --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import insert, select

from a0core.envelope import DeviceKeys, open_from_server, sign_request
from a0core.hlc import HybridClock
from a0core.sync_client import seal
from server import MIGRATIONS_DIR, create_app
from server.extensions import db
from server.models.people import Collaborator, Device
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import DeviceSync, SyncOp
from server.register.bulk import Writer, load_area
from server.security.keys import keystore_for
from server.sync.ingest import ingest_batch
from server.sync.runtime import HOOKS_KEY, ingest_context
from server.synthetic import generate_area, generate_commune
from server.synthetic.operations import area_operations

COMMUNE, PROVINCE, COMMUNE_NAME = "12619", "33", "Xã Diên Hà"
PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 6, 30))
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
    """Fresh, migrated databases of one kind, cloned from a template."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder, self.n = kind, folder, 0
        self.pg = None
        if kind == "postgresql":
            from tests.support import postgres

            self.pg = postgres.start()
            template = "a0_bench_template"
            self._migrate(self.pg.create_database(template))
            self.template = template
        else:
            self.template = str(folder / "template.sqlite")
            self._migrate(f"sqlite:///{self.template}")

    def _migrate(self, url: str) -> None:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(self.folder)})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
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
    def __init__(self, area_code: str) -> None:
        self.id, self.area, self.keys = str(uuid.uuid4()), area_code, DeviceKeys.generate()

    def register(self) -> None:
        collaborator = Collaborator(full_name="Nguyễn Thị Thu", area_code=self.area,
                                    commune_code=COMMUNE, province_code=PROVINCE)
        db.session.add(collaborator)
        db.session.flush()
        db.session.add(Device(id=self.id, collaborator_id=collaborator.id, area_code=self.area,
                              commune_code=COMMUNE, province_code=PROVINCE,
                              sign_public_key=self.keys.sign_public_key,
                              box_public_key=self.keys.box_public_key))
        db.session.flush()
        db.session.add(DeviceSync(device_id=self.id))


def traffic(app: Any, n_ops: int, batch: int, seed: int) -> tuple[list[BenchDevice], list[bytes]]:
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
    return devices, envelopes


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ingest_run(app: Any, devices: list[BenchDevice], envelopes: list[bytes],
               ) -> tuple[float, dict[Any, list[dict[str, Any]]]]:
    """Ingest every envelope; return the seconds taken and the rows it wrote."""
    for device in devices:
        device.register()
    db.session.commit()
    ctx = ingest_context(app)

    def run() -> None:
        for envelope in envelopes:
            receipt = ingest_batch(db.session, envelope, ctx)
            bad = [v for v in receipt["receipt"]["verdicts"] if v["verdict"] == "rejected"]
            if bad:
                raise SystemExit(f"rejected operations: {bad[:3]}")

    seconds = timed(run)
    rows = {model: [dict(r._mapping) for r in db.session.execute(select(model.__table__))]
            for model in WRITTEN}
    return seconds, rows


def floor_run(devices: list[BenchDevice], rows: dict[Any, list[dict[str, Any]]]) -> float:
    """The same rows, inserted with one executemany per table and one commit."""
    for device in devices:
        device.register()
    db.session.commit()

    def run() -> None:
        with db.engine.begin() as conn:
            for model, table_rows in rows.items():
                if table_rows:
                    conn.execute(insert(model.__table__), table_rows)

    return timed(run)


def pull_village(app: Any, seed: int, repeat: int) -> float:
    """Median server milliseconds of a first download of a 300-household area."""
    area_code = f"{COMMUNE}.99.1"
    area = generate_area(seed, area_code, f"{COMMUNE}.99", COMMUNE_NAME, 300, PERIOD)
    load_area(db.session, area, PROVINCE, COMMUNE, Writer("bench-loader", HybridClock().now()))
    device = BenchDevice(area_code)
    device.register()
    db.session.commit()
    server_key = keystore_for(app).public()
    client = app.test_client()
    times = []
    for _ in range(repeat):
        cursor, more, elapsed, changes = 0, True, 0.0, 0
        while more:
            path = f"/api/v1/sync/pull?cursor={cursor}&kid={server_key.kid}"
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
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="a0-bench-ingest-"))
    dbs = Databases(args.db, folder)
    try:
        with dbs.fresh() as app:
            devices, envelopes = traffic(app, args.ops, args.batch, args.seed)
        ingest_s, floor_s, core_s = [], [], []
        for _ in range(args.repeat):
            with dbs.fresh() as app:
                keep_hooks(app, args.hooks)
                seconds, rows = ingest_run(app, devices, envelopes)
                ingest_s.append(seconds)
            with dbs.fresh():
                floor_s.append(floor_run(devices, rows))
            if args.core_too:
                with dbs.fresh() as app:
                    keep_hooks(app, "none")
                    core_s.append(ingest_run(app, devices, envelopes)[0])
        with dbs.fresh() as app:
            pull_ms = pull_village(app, args.seed, max(5, args.repeat))
    finally:
        dbs.close()
        shutil.rmtree(folder, ignore_errors=True)

    ops_per_s = args.ops / statistics.median(ingest_s)
    floor = args.ops / statistics.median(floor_s)
    result: dict[str, Any] = {"db": args.db, "ops": args.ops, "hooks": args.hooks,
                              "ops_per_s": round(ops_per_s),
                              "floor_ops_per_s": round(floor), "ratio": round(ops_per_s / floor, 3),
                              "pull_village_ms": round(pull_ms, 1)}
    if core_s:
        core = args.ops / statistics.median(core_s)
        result.update(core_ops_per_s=round(core), hooks_share=round(ops_per_s / core, 3))
    if not args.json:
        print(f"batches: {len(envelopes)} of up to {args.batch} operations, "
              f"devices: {len(devices)}, runs: {args.repeat}")
        print("ingest seconds:", [round(s, 3) for s in ingest_s])
        print("floor seconds:", [round(s, 3) for s in floor_s])
        if core_s:
            print("core seconds:", [round(s, 3) for s in core_s])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

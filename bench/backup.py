"""Backup and restore of a million-person register while devices keep syncing (issue 18).

For each database (``--db``: sqlite, postgresql or both, the default):

1. the register of ``bench/rollup.py`` (``--persons``, default 1,000,000), built once
   into ``--keep`` / ``--keep-pg`` when given (SQLite file; PostgreSQL database on the
   server of ``A0SYNC_TEST_PG_URL``) and copied for the run;
2. the production server on it (``a0sync serve``: gunicorn, two workers) and
   ``--devices`` phones (default 4) sending sealed batches of about 35 operations
   (hand-outs and edits of their own area) as fast as it answers, over HTTP;
3. ``a0sync backup`` while they send — ``backup_s``; every answer that was not a
   receipt counts in ``ingest_errors`` (the whole run, not only the backup);
4. the phones stop, and ``a0sync restore`` loads the copy into an empty database —
   ``restore_s`` — where every batch acknowledged before the backup began must be.

One JSON line per database, and with ``--json`` a last line
``{"persons": N, "backup_s": s, "restore_s": s, "ingest_errors": n, ...}`` holding
the slower database's times (each database's under its name). Targets: backup
under 60 s, no ingest error.

    .venv/bin/python bench/backup.py --keep /tmp/backup-1m.sqlite --json
    .venv/bin/python bench/backup.py --db sqlite --persons 20000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench.rollup import prepared
from server import create_app
from server.extensions import db
from server.models.register import Household, Member
from server.models.sync import SyncBatch
from tests.support import live_server
from tests.support.sim import SimDevice

OPS_PER_BATCH = 35


class Phone(threading.Thread):
    """A collaborator's phone sending month-end batches of its own area, back to back."""

    def __init__(self, url: str, device: SimDevice, households: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.device, self.households = url, device, households
        self.acked: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def batch(self) -> bytes:
        device, today = self.device, time.strftime("%Y-%m-%d")
        for i in range(OPS_PER_BATCH):
            hh = self.households[(len(self.acked) * OPS_PER_BATCH + i) % len(self.households)]
            if i % 2:
                device.upsert("household", hh, {"address": f"Xóm {i} – {uuid.uuid4().hex[:6]}"})
            else:
                device.distribution({"id": str(uuid.uuid4()), "area_code": device.area,
                                     "household_id": hh, "method": "condom", "quantity": 10,
                                     "distributed_on": today})
        return device.seal()

    def run(self) -> None:
        while not self.stop.is_set():
            request = urllib.request.Request(f"{self.url}/api/v1/sync/batches",
                                             data=self.batch(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    receipt = json.loads(response.read())["receipt"]
            except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
                self.errors.append(repr(error)[:200])
                time.sleep(0.5)
                continue
            self.device.acknowledge(receipt)
            self.acked.append((time.monotonic(), receipt["batch"]))


def register_copy(args: argparse.Namespace, kind: str, pg: Any, tmp: Path) -> tuple[str, int]:
    """A fresh, migrated copy of the register ``bench/rollup.py`` builds (or keeps): its
    URL and persons."""
    keep = args.keep_pg if kind == "postgresql" else args.keep
    counts, _load_s = prepared(argparse.Namespace(keep=keep, persons=args.persons,
                                                  seed=args.seed),
                               pg if kind == "postgresql" else None, tmp)
    if kind == "postgresql":
        return pg.create_database(f"a0_bench_backup_{uuid.uuid4().hex[:8]}",
                                  template=keep or "a0_bench_rollup"), counts["persons"]
    shutil.copyfile(keep or tmp / "bench.sqlite", tmp / "live.sqlite")
    os.sync()
    return f"sqlite:///{tmp / 'live.sqlite'}", counts["persons"]


def phones(app: Any, count: int) -> list[tuple[SimDevice, list[str]]]:
    """``count`` enrolled phones, each in its own area of the register."""
    out = []
    with app.app_context():
        areas = db.session.execute(
            select(Household.area_code, Household.commune_code, Household.province_code)
            .group_by(Household.area_code, Household.commune_code, Household.province_code)
            .order_by(Household.area_code).limit(count)).all()
        for area, commune, province in areas:
            households = list(db.session.scalars(select(Household.id).where(
                Household.area_code == area).limit(200)))
            out.append((SimDevice(app, area=area, commune=commune, province=province),
                        households))
        db.session.remove()
        db.engine.dispose()
    return out


def run_one(args: argparse.Namespace, kind: str, pg: Any, tmp: Path) -> dict[str, Any]:
    url, persons = register_copy(args, kind, pg, tmp)
    instance = tmp / f"{kind}-instance"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance)})
    devices = phones(app, args.devices)
    server = live_server.start(url, instance, tmp / f"{kind}-server.log", timeout=300,
                               gunicorn=True)
    senders = [Phone(server.url, device, households) for device, households in devices]
    out = tmp / f"{kind}.backup"
    try:
        for sender in senders:
            sender.start()
        while sum(len(s.acked) for s in senders) < 2 * len(senders):
            time.sleep(0.1)
        began = time.monotonic()
        done = server.cli("backup", str(out))
        backup_s = time.monotonic() - began
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        during = sum(1 for s in senders for at, _ in s.acked if at >= began)
        time.sleep(1)
    finally:
        for sender in senders:
            sender.stop.set()
        for sender in senders:
            sender.join(180)
        server.stop()
    acked_before = {batch for s in senders for at, batch in s.acked if at < began}

    if kind == "postgresql":
        target = pg.create_database(f"a0_bench_restored_{uuid.uuid4().hex[:8]}")
    else:
        target = f"sqlite:///{tmp / 'restored.sqlite'}"
    elsewhere = tmp / f"{kind}-elsewhere"
    env = {**server.env, "DATABASE_URL": target, "A0SYNC_INSTANCE": str(elsewhere)}
    started = time.monotonic()
    restored = subprocess.run([live_server.A0SYNC, "restore", str(out)], env=env,
                              capture_output=True, text=True)
    restore_s = time.monotonic() - started
    if restored.returncode != 0:
        raise RuntimeError(restored.stderr)
    copy = create_app({"SQLALCHEMY_DATABASE_URI": target, "INSTANCE_PATH": str(elsewhere)})
    with copy.app_context():
        restored_persons = db.session.scalar(select(func.count()).select_from(Member))
        batches = set(db.session.scalars(select(SyncBatch.id)))
        db.session.remove()
        db.engine.dispose()
    missing = len(acked_before - batches)
    return {"db": kind, "persons": persons, "backup_s": round(backup_s, 2),
            "restore_s": round(restore_s, 2),
            "ingest_errors": sum(len(s.errors) for s in senders),
            "batches_during_backup": during, "batches_acked": sum(len(s.acked) for s in senders),
            "acked_missing_after_restore": missing, "restored_persons": restored_persons,
            "backup_mib": round(out.stat().st_size / 2**20, 1), "devices": len(senders)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--keep", metavar="FILE", help="SQLite register built once, reused")
    parser.add_argument("--keep-pg", metavar="DB",
                        help="PostgreSQL register database built once, reused")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)
    os.environ.setdefault("A0SYNC_SCHEDULER", "0")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    tmp = Path(tempfile.mkdtemp(prefix="a0-bench-backup-"))
    pg = None
    results = []
    try:
        if "postgresql" in kinds:
            from tests.support import postgres

            pg = postgres.start()
        for kind in kinds:
            results.append(run_one(args, kind, pg, tmp))
            print(json.dumps(results[-1]), flush=True)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        slowest = max(results, key=lambda r: r["backup_s"])
        print(json.dumps({"persons": min(r["persons"] for r in results),
                          "backup_s": slowest["backup_s"],
                          "restore_s": max(r["restore_s"] for r in results),
                          "ingest_errors": sum(r["ingest_errors"] for r in results),
                          **{r["db"]: {k: v for k, v in r.items() if k != "db"}
                             for r in results}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Contraceptive logistics (LMIS) speed on a province of a million persons (issue 17).

Builds the register as ``bench/rollup.py`` does (``--persons``, default 1,000,000;
``--keep`` reuses a built one), then a year of stock movements for every
collaborator area and every commune health station, written straight into
``stock_movement`` with the province's change sequence: each month the station
receives each method from the district, issues it to each collaborator, the
collaborator confirms (sometimes with another quantity), and now and then loses,
returns or counts stock. A full recompute puts the balances into the roll-up cells.
Then it measures, median of ``--repeat`` runs:

* ``report_s`` — the commune's monthly logistics report and its station page (the
  balances of the station and of every collaborator, alerts, lots near expiry and
  the states of the month's transfers and of those still waiting), for the commune
  with the most movements (after one untimed run: the first reads from disk);
* ``incremental_ms`` — the after-batch update after a 100-movement batch sent
  through the real ingestion path: the two follow-ups it queues, done after its
  commit (``stock``: alerts and the station's leaf; ``rollups``: the area's cells
  with their stock figures); ``stock_hook_ms`` and ``rollup_hook_ms`` are its two
  parts, ``batch_ms`` the whole batch. ``report_cpu_s`` and ``incremental_cpu_ms``:
  the same in this process's CPU time (the shared machine's load shows far less).

With ``--json`` the last line is
``{"movements": N, "report_s": s, "incremental_ms": ms, ...}``. Targets: the commune
report < 300 ms; the incremental update after a 100-movement batch < 50 ms.

    .venv/bin/python bench/lmis.py --json
    .venv/bin/python bench/lmis.py --persons 50000 --json   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from bench.rollup import prepared
from server import MIGRATIONS_DIR, create_app
from server.extensions import db
from server.logistics import report
from server.logistics.hook import QUEUE as STOCK_QUEUE
from server.models.logistics import StockMovement
from server.models.register import Household, Member
from server.register.sequence import allocate
from server.rollups.jobs import DEFAULT_WORKERS, full_recompute
from server.rollups.jobs import QUEUE as ROLLUP_QUEUE
from server.security.scope import NATIONAL, Scope
from server.sync.runtime import followups_for

METHODS = {"condom": 60, "pill": 20}  # what a collaborator gets each month, per method
WRITER = "server"


def _month_days(months: int) -> list[dt.date]:
    """The first day of each of the last ``months`` months, oldest first."""
    today = dt.date.today().replace(day=1)
    out = []
    for back in range(months - 1, -1, -1):
        index = today.year * 12 + today.month - 1 - back
        out.append(dt.date(index // 12, index % 12 + 1, 1))
    return out


def _commune_rows(province: str, commune: str, areas: list[str], rng: random.Random,
                  stamps: Iterator[int], months: int) -> list[dict[str, Any]]:
    """A year of one commune's movements: its station's and its collaborators'."""
    rows: list[dict[str, Any]] = []

    def add(form: str, area: str, method: str, quantity: int, day: dt.date,
            **extra: Any) -> str:
        mid = str(uuid.uuid4())
        rows.append({"id": mid, "province_code": province, "commune_code": commune,
                     "area_code": area, "form": form, "form_version": 1, "method": method,
                     "quantity": quantity, "day": day.isoformat(), "lot": extra.get("lot"),
                     "expiry": extra.get("expiry"), "source": None, "unit_price": None,
                     "target_id": extra.get("target"), "payload": {"id": mid},
                     "hlc": next(stamps), "device_id": WRITER, "voided": False})
        return mid

    for first in _month_days(months):
        lot = f"L{first:%y%m}"
        expiry = (first + dt.timedelta(days=540)).isoformat()
        for method, each in METHODS.items():
            add("stock_receipt", "", method, each * len(areas) + 100, first, lot=lot,
                expiry=expiry)
            for area in areas:
                tid = add("stock_transfer", area, method, each, first + dt.timedelta(days=2),
                          lot=lot, expiry=expiry)
                got = each if rng.random() > 0.05 else each - 1
                add("stock_confirm", area, method, got, first + dt.timedelta(days=3),
                    target=tid)
                roll = rng.random()
                if roll < 0.05:
                    add("stock_loss", area, method, 1, first + dt.timedelta(days=15))
                elif roll < 0.08:
                    add("stock_return", area, method, 2, first + dt.timedelta(days=20))
    return rows


def movements(seed: int, months: int = 12) -> int:
    """A year of movements for every area and station; returns how many."""
    session = db.session
    rng = random.Random(seed)
    stamps = itertools.count(int(time.time() * 1000) << 16)
    by_commune: dict[tuple[str, str], list[str]] = {}
    for province, commune, area in session.execute(select(
            Household.province_code, Household.commune_code, Household.area_code).distinct()):
        by_commune.setdefault((province, commune), []).append(area)
    total = 0
    for (province, commune), areas in sorted(by_commune.items()):
        rows = _commune_rows(province, commune, sorted(areas), rng, stamps, months)
        start = allocate(session, province, len(rows))
        for n, row in enumerate(rows):
            row["seq"] = start + n
        for i in range(0, len(rows), 5000):
            session.execute(insert(StockMovement), rows[i:i + 5000])
        session.commit()
        total += len(rows)
    return total


def _timed_report(commune: str, province: str, month: str) -> tuple[float, float]:
    """Wall and CPU seconds (this process's: the shared machine's load shows in the
    wall time, far less in the CPU time)."""
    started, cpu = time.perf_counter(), time.process_time()
    report.monthly_report(db.session, commune, month)
    report.station_page(db.session, Scope("bench", NATIONAL), commune, month,
                        {"A0SYNC_STOCK_LOW_MONTHS_CTV": 1, "A0SYNC_STOCK_LOW_MONTHS_STATION": 2,
                         "A0SYNC_STOCK_EXPIRY_DAYS": 90})
    return time.perf_counter() - started, time.process_time() - cpu


def incremental(app, batches: int) -> dict[str, float]:
    """Medians over ``batches`` 100-movement batches from one collaborator's phone."""
    from tests.support.sim import SimDevice

    session = db.session
    parts: dict[str, list[float]] = {"stock": [], "rollup": [], "cpu": []}

    def timing(name: str, handler):
        def timed(sess, rows) -> None:
            started, cpu = time.perf_counter(), time.process_time()
            handler(sess, rows)
            parts[name].append((time.perf_counter() - started) * 1000)
            parts["cpu"].append((time.process_time() - cpu) * 1000)
        return timed

    queue = followups_for(app)  # the work after a batch, done after its commit (inline)
    for kind, name in ((STOCK_QUEUE, "stock"), (ROLLUP_QUEUE, "rollup")):
        queue.handlers[kind] = timing(name, queue.handlers[kind])
    area, commune, province = session.execute(
        select(StockMovement.area_code, StockMovement.commune_code,
               StockMovement.province_code).where(StockMovement.area_code != "").limit(1)).one()
    device = SimDevice(app, area=area, commune=commune, province=province)
    households = session.scalars(select(Member.household_id).where(
        Member.area_code == area).limit(20)).all()
    client = app.test_client()
    today = dt.date.today().isoformat()
    batch_ms = []
    for _ in range(batches):
        for i in range(100):
            record = {"id": str(uuid.uuid4()), "area_code": area, "method": "condom"}
            kind = i % 4
            if kind == 0:
                device.stock("stock_loss", {**record, "quantity": 1, "lost_on": today,
                                            "reason": "damaged"})
            elif kind == 1:
                device.stock("stock_return", {**record, "quantity": 1, "returned_on": today,
                                              "reason": "excess"})
            elif kind == 2:
                device.stock("stock_receipt", {**record, "quantity": 5, "received_on": today,
                                               "supplier": "social_marketing"})
            else:
                device.distribution({**record, "household_id": households[i % len(households)],
                                     "quantity": 2, "distributed_on": today,
                                     "source": "free"}, version=3)
        envelope = device.seal()
        started = time.perf_counter()
        body = device.send(client, envelope)
        batch_ms.append((time.perf_counter() - started) * 1000)
        verdicts = body["receipt"]["verdicts"]
        assert len(verdicts) == 100 and all(v["verdict"] == "applied" for v in verdicts), body
    stock_ms, rollup_ms = statistics.median(parts["stock"]), statistics.median(parts["rollup"])
    cpu = [a + b for a, b in zip(parts["cpu"][::2], parts["cpu"][1::2], strict=True)]
    return {"stock": stock_ms, "rollup": rollup_ms, "batch": statistics.median(batch_ms),
            "cpu": statistics.median(cpu),
            "total": statistics.median(a + b for a, b in zip(parts["stock"], parts["rollup"],
                                                            strict=True))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="report timings (median)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--keep", metavar="FILE", help="build the register once into FILE")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)
    args.db = "sqlite"

    tmp = Path(tempfile.mkdtemp(prefix="a0-bench-lmis-"))
    os.environ.setdefault("A0SYNC_SCHEDULER", "0")
    try:
        counts, load_s = prepared(args, None, tmp)
        if args.keep:
            shutil.copyfile(args.keep, tmp / "bench.sqlite")
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite'}",
                          "INSTANCE_PATH": str(tmp / "instance")})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
            started = time.perf_counter()
            moved = movements(args.seed)
            movements_s = time.perf_counter() - started
            started = time.perf_counter()
            full_recompute(db.session, workers=args.workers)
            full_s = time.perf_counter() - started
            commune, province = db.session.execute(
                select(StockMovement.commune_code, StockMovement.province_code)
                .group_by(StockMovement.commune_code, StockMovement.province_code)
                .order_by(func.count().desc()).limit(1)).one()
            last = _month_days(2)[0].strftime("%Y-%m")
            _timed_report(commune, province, last)  # the first reads from disk
            timings = [_timed_report(commune, province, last) for _ in range(args.repeat)]
            report_s = statistics.median(wall for wall, _ in timings)
            report_cpu_s = statistics.median(cpu for _, cpu in timings)
            areas = len(report.station_page(
                db.session, Scope("bench", NATIONAL), commune, last,
                {"A0SYNC_STOCK_LOW_MONTHS_CTV": 1, "A0SYNC_STOCK_LOW_MONTHS_STATION": 2,
                 "A0SYNC_STOCK_EXPIRY_DAYS": 90}).balances)
            inc = incremental(app, args.batches)
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {"movements": moved, "report_s": round(report_s, 3),
               "incremental_ms": round(inc["total"], 1),
               "report_cpu_s": round(report_cpu_s, 3), "incremental_cpu_ms": round(inc["cpu"], 1),
               "persons": counts["persons"], "areas": counts["areas"],
               "movements_s": round(movements_s, 1), "full_s": round(full_s, 2),
               "commune": commune, "commune_balances": areas,
               "stock_hook_ms": round(inc["stock"], 1), "rollup_hook_ms": round(inc["rollup"], 1),
               "batch_ms": round(inc["batch"], 1), "load_s": round(load_s, 1)}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>16}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Roll-up and export speed on a synthetic register of a million persons (issue 5).

Builds the register (``--persons``, default 1,000,000: about 250,000 households
in five real communes of different regions, a year of P0 events ending today),
loaded with the bulk loader under the official 2025 org-unit list plus villages
and collaborator areas. Then measures:

* ``full_s`` — a full recompute of every indicator, every unit, every month of
  the window (36 months: the register's first registrations are older), on
  ``--workers`` processes (default: the number of cores, as the server), median
  of ``--repeat`` runs (default 3);
* ``incremental_ms`` — the roll-up hook after a 100-operation batch sent through
  the real ingestion path (HTTPS endpoint, sealed batch), median over
  ``--batches`` batches; ``batch_ms`` is the whole batch with it;
* ``export_csv_s`` — a CSV export of every person (with household info);
* ``floor_s`` — the work no full recompute can avoid, measured between the runs
  of the same process (median): one pass over every counted person in the
  covering index, tallied per area in Python. The machine is shared: ``full_s /
  floor_s`` (``full_per_floor``) compares runs made under different loads, and
  ``floor_cpu_s`` is the floor's CPU time, about its wall time on a quiet machine;
  ``full_cpu_s`` (CPU seconds of the caller and its workers),
  ``full_caller_cpu_s`` (the caller's, which also writes every cell) and
  ``export_csv_cpu_s`` say what a quiet machine would show: there the wall time of
  the full recompute is about its busiest process's CPU time.

With ``--json`` the last line is
``{"persons": N, "full_s": s, "incremental_ms": ms, "export_csv_s": s, "floor_s": s,
...}``.
``--db postgresql`` starts a throwaway PostgreSQL server (as the tests do), or
uses ``A0SYNC_TEST_PG_URL``.

Building a million persons takes minutes; ``--keep`` builds the register once into
a file (SQLite) or a database (PostgreSQL, on the server of ``A0SYNC_TEST_PG_URL``
so it outlives the run) and later runs reuse it. Every run measures a fresh copy
(a file copy, ``CREATE DATABASE … TEMPLATE``), so the batches a run sends never
pile up in the kept register.

    .venv/bin/python bench/rollup.py --persons 1000000 --json
    .venv/bin/python bench/rollup.py --keep /tmp/rollup-1m.sqlite --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from flask_migrate import upgrade
from sqlalchemy import func, select

from a0core.hlc import HybridClock
from server import MIGRATIONS_DIR, create_app
from server.demo import BUNDLED_LIST
from server.exports.service import export_to
from server.extensions import db
from server.models.register import Event, Household, Member
from server.orgunits.formats import UnitSpec, read_official_list
from server.orgunits.importer import import_official, upsert_local_units
from server.orgunits.queries import unit_by_code
from server.register.bulk import Writer, load_area
from server.rollups.indicators import age_on
from server.rollups.jobs import DEFAULT_WORKERS, QUEUE, full_recompute
from server.security.scope import NATIONAL, Scope
from server.sync.runtime import followups_for
from server.synthetic import generate_persons

# a delta commune, a city ward, northern mountains, highlands, Mekong delta (2025 codes)
EDUCATION = "upper_secondary"
COMMUNES = [("12619", "Xã Diên Hà"), ("00004", "Phường Ba Đình"), ("01267", "Xã Hòa An"),
            ("24118", "Xã Ea Kao"), ("31498", "Xã An Lạc Thôn")]


def build(persons: int, seed: int) -> dict[str, int]:
    session = db.session
    import_official(session, read_official_list(BUNDLED_LIST), source=str(BUNDLED_LIST))
    session.commit()
    communes = []
    for code, _name in COMMUNES:
        unit = unit_by_code(session, code)
        if unit is not None:
            communes.append((code, unit.full_name, unit.province_code, unit.tree))
    today = dt.date.today()
    period = (today.replace(year=today.year - 1), today)
    writer = Writer("server", HybridClock().now())
    place = {code: (province, tree) for code, _, province, tree in communes}
    counts = {"households": 0, "events": 0, "areas": 0}
    local: dict[str, list[UnitSpec]] = {}
    for area in generate_persons(seed, [(c, n) for c, n, _, _ in communes], persons, period):
        commune = area.area_code.split(".")[0]
        province, _tree = place[commune]
        loaded = load_area(session, area, province, commune, writer)
        counts["households"] += loaded.households
        counts["events"] += loaded.events
        counts["areas"] += 1
        specs = local.setdefault(commune, [])
        if not any(s.code == area.village_code for s in specs):
            specs.append(UnitSpec(area.village_code, "village", area.village_code,
                                  area.village_code, None, commune, province))
        specs.append(UnitSpec(area.area_code, "area", area.area_code, area.area_code, None,
                              area.village_code, province))
        if counts["areas"] % 50 == 0:
            session.commit()
    for commune, specs in local.items():
        upsert_local_units(session, place[commune][1], specs)
    session.commit()
    counts["persons"] = session.scalar(select(func.count()).select_from(Member))
    return counts


def prepared(args: argparse.Namespace, pg: Any, tmp: Path) -> tuple[dict[str, int], float]:
    """Build the register (into ``--keep`` when given and not there yet), or count it.

    Without ``--keep`` the register is built where the run measures it.
    """
    if pg is not None:
        target = args.keep or "a0_bench_rollup"
        with psycopg.connect(pg.admin_url) as conn:
            exists = bool(args.keep) and conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone() is not None
        url = pg.sqlalchemy_url(target) if exists else pg.create_database(target)
    else:
        target = args.keep or str(tmp / "bench.sqlite")
        exists = Path(target).exists()
        url = f"sqlite:///{target}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp / "instance")})
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        started = time.perf_counter()
        counts = reused() if exists else build(args.persons, args.seed)
        load_s = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return counts, load_s


def reused() -> dict[str, int]:
    session = db.session

    def count(what: Any) -> int:
        return session.scalar(select(func.count(what)))

    return {"persons": count(Member.id), "households": count(Household.id),
            "events": count(Event.id), "areas": count(Household.area_code.distinct())}


def batch_ops(device, area: str, members: list[tuple[str, str, str, str]], n: int) -> None:
    """``n`` realistic operations of one collaborator's month: events, hand-outs, edits
    (a method start only for a woman of 15–49, the others would be refused)."""
    today = dt.date.today().isoformat()
    for i in range(n):
        mid, hh, sex, born = members[i % len(members)]
        kind = i % 5
        if kind == 1 and not (sex == "female" and 15 <= age_on(born, today) <= 49):
            kind = 4
        if kind == 0:
            device.distribution({"id": str(uuid.uuid4()), "area_code": area, "household_id": hh,
                                 "method": "condom", "quantity": 10, "distributed_on": today})
        elif kind == 1:
            device.event("method_start", {"id": str(uuid.uuid4()), "household_id": hh,
                                          "member_id": mid, "event_date": today,
                                          "method": "pill", "source": "ctv"})
        elif kind == 2:
            device.event("move_out", {"id": str(uuid.uuid4()), "household_id": hh,
                                      "member_id": mid, "event_date": today,
                                      "to_scope": "other_province"})
        elif kind == 3:
            device.upsert("member", mid, {"education": EDUCATION})
        else:
            device.upsert("household", hh, {"address": f"Xóm {i}"})


def incremental(app, batches: int) -> tuple[float, float]:
    """Median milliseconds of the roll-up hook, and of the whole batch, over ``batches``."""
    from tests.support.sim import SimDevice

    session = db.session
    hook_ms: list[float] = []

    queue = followups_for(app)  # the roll-ups follow each batch's commit (inline here)
    drain = queue.handlers[QUEUE]

    def timed(sess, rows) -> None:
        started = time.perf_counter()
        drain(sess, rows)
        hook_ms.append((time.perf_counter() - started) * 1000)

    queue.handle(QUEUE, timed)
    area, commune, province = session.execute(
        select(Household.area_code, Household.commune_code, Household.province_code)
        .limit(1)).one()
    device = SimDevice(app, area=area, commune=commune, province=province)
    members = session.execute(select(Member.id, Member.household_id, Member.sex,
                                     Member.birth_date)
                              .where(Member.area_code == area, Member.residence_status
                                     == "present").limit(100)).all()
    client = app.test_client()
    batch_ms = []
    for _ in range(batches):
        batch_ops(device, area, [tuple(m) for m in members], 100)
        envelope = device.seal()
        started = time.perf_counter()
        body = device.send(client, envelope)
        batch_ms.append((time.perf_counter() - started) * 1000)
        verdicts = body["receipt"]["verdicts"]
        assert len(verdicts) == 100 and all(v["verdict"] in ("applied", "conflict")
                                            for v in verdicts), body
    return statistics.median(hook_ms), statistics.median(batch_ms)


def floor() -> tuple[float, float]:
    """Seconds (wall, CPU) of one pass over every counted person's (area, household, sex,
    birth date) in the covering index, tallied per area: what any full recompute reads
    at least."""
    started, cpu = time.perf_counter(), cpu_s()
    tally: dict[str, int] = {}
    rows = db.session.connection().exec_driver_sql(
        "SELECT area_code, group_concat(sex || birth_date) FROM member "
        "WHERE NOT deleted AND merged_into IS NULL GROUP BY area_code, household_id")
    for area, persons in rows:
        for person in persons.split(","):
            key = area + person[:5]
            tally[key] = tally.get(key, 0) + 1
    return time.perf_counter() - started, cpu_s() - cpu


def cpu_s(children: bool = False) -> float:
    """CPU seconds of this process (and of its ended child processes, when asked)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    if children:
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += ended.ru_utime + ended.ru_stime
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3, help="full recomputes (median)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="processes of the full recompute (the server's default: "
                             "the number of cores)")
    parser.add_argument("--keep", metavar="FILE|DB",
                        help="build the register into this SQLite file or PostgreSQL "
                             "database once, and measure a copy of it")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="a0-bench-rollup-"))
    pg = None
    os.environ.setdefault("A0SYNC_SCHEDULER", "0")
    if args.db == "postgresql":
        from tests.support import postgres

        pg = postgres.start()
    try:
        counts, load_s = prepared(args, pg, tmp)
        if pg is not None:
            url = (pg.create_database("a0_bench_rollup", template=args.keep) if args.keep
                   else pg.sqlalchemy_url("a0_bench_rollup"))
        else:
            url = f"sqlite:///{tmp / 'bench.sqlite'}"
            if args.keep:
                shutil.copyfile(args.keep, tmp / "bench.sqlite")
                os.sync()  # the copy on disk before the clock starts, not written meanwhile
        app = create_app({"SQLALCHEMY_DATABASE_URI": url,
                          "INSTANCE_PATH": str(tmp / "instance")})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
            if args.db == "postgresql":
                with db.engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
                    conn.commit()
            full, full_cpu, caller_cpu, floors = [], [], [], [floor()]  # the first: warm-up
            for _ in range(args.repeat):
                floors.append(floor())
                db.session.commit()
                started, cpu, own = time.perf_counter(), cpu_s(children=True), cpu_s()
                result = full_recompute(db.session, workers=args.workers)
                full.append(time.perf_counter() - started)
                full_cpu.append(cpu_s(children=True) - cpu)
                caller_cpu.append(cpu_s() - own)
            floors.append(floor())
            db.session.commit()
            hook_ms, batch_ms = incremental(app, args.batches)
            started, cpu = time.perf_counter(), cpu_s()
            with open(os.devnull, "wb") as sink:
                exported = export_to(db.session, Scope("bench", NATIONAL, person_level=True),
                                     "persons", "csv", sink)
            export_s, export_cpu = time.perf_counter() - started, cpu_s() - cpu
            floors.append(floor())
            db.session.commit()
            floors = floors[1:]
            db.session.remove()
            db.engine.dispose()
    finally:
        if pg is not None:
            pg.stop()  # a server of A0SYNC_TEST_PG_URL is left running
        shutil.rmtree(tmp, ignore_errors=True)
    floor_s = statistics.median(wall for wall, _ in floors)
    floor_cpu_s = statistics.median(cpu for _, cpu in floors)
    summary = {"persons": counts["persons"], "full_s": round(statistics.median(full), 3),
               "incremental_ms": round(hook_ms, 1), "export_csv_s": round(export_s, 3),
               "floor_s": round(floor_s, 3), "floor_cpu_s": round(floor_cpu_s, 3),
               "full_per_floor": round(statistics.median(full) / floor_s, 2),
               "full_cpu_s": round(statistics.median(full_cpu), 2),
               "full_caller_cpu_s": round(statistics.median(caller_cpu), 2),
               "export_csv_cpu_s": round(export_cpu, 2),
               "load_avg": round(os.getloadavg()[0], 1),
               "db": args.db, "households": counts["households"], "areas": counts["areas"],
               "events": counts["events"], "months": len(result["months"]),
               "cells": result["cells"], "workers": args.workers, "batch_ms": round(batch_ms, 1),
               "exported_rows": exported, "load_s": round(load_s, 1)}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>15}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Reform migration speed: a million persons carried from the old communes to the new ones.

Builds (``--persons``, default 1,000,000) a register spread over every old commune
of one province (``--province``, default 20, Lạng Sơn: 194 communes of the real
2025-03 three-level list, which is current), with villages and areas, a year of
P0 events ending today, and the real 2025-07 two-level list and conversion table
beside it. Then, on a fresh copy of that register (``--repeat`` times, median):

* ``plan_s`` — ``a0sync orgunits migrate --to vn-2025-07 --plan FILE`` as a dry run:
  the plan built and written (CSV and JSON);
* ``apply_s`` — the plan file read back with the blanks of split communes filled in
  (their first candidate, as a person would choose), the plan checked and applied:
  every village and area moved, every row of the register carried and renumbered,
  accounts rebound, the stored area cells of every month added up again under the
  new tree (:mod:`server.rollups.regroup`), committed;
* ``rollup_s`` — :func:`~server.orgunits.reform.recompute_rollups` afterwards: the
  months of the window the old tree had no cells for computed from the register
  (``--workers`` processes, the server's default; none when the register's roll-ups
  were up to date, as here);
* ``floor_s`` — measured first, on the same copy: every row of the register rewritten
  once and committed, with no indexed column changed: the least any migration that
  changes the rows' codes must spend on this machine at this moment
  (``apply_floor_ratio`` = apply_s / floor_s).

The target is ``plan_s + apply_s + rollup_s < 60`` on SQLite. With ``--json`` the
last line is ``{"persons": N, "villages": N, "plan_s": …, "apply_s": …,
"rollup_s": …, …}``. ``--keep FILE`` builds the register once into FILE and later
runs reuse it (a million persons take several minutes to build).

    .venv/bin/python bench/migrate.py --keep /tmp/migrate-1m.sqlite --json
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade
from sqlalchemy import func, select, update

from a0core.hlc import HybridClock
from server import MIGRATIONS_DIR, create_app
from server.extensions import db
from server.models.orgunits import LEVEL_COMMUNE, LEVEL_VILLAGE, OrgUnit
from server.models.people import Collaborator
from server.models.register import Distribution, Event, Household, Member
from server.orgunits.formats import ConversionTable, UnitSpec, read_admin_file
from server.orgunits.importer import import_official, upsert_local_units
from server.orgunits.lineage import import_conversion
from server.orgunits.plan import CSV_COLUMNS, build_plan, read_plan_file, write_plan
from server.orgunits.reform import CACHE_MB, apply_plan, recompute_rollups
from server.orgunits.relocate import large_cache
from server.register.bulk import Writer, load_area
from server.rollups.jobs import DEFAULT_WORKERS, full_recompute

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "admin_units"
THREE_LEVEL = DATA / "dvhcvn_2025-03-01_three_level.json"
TWO_LEVEL = DATA / "vn_units_2025_two_level.json"
CONVERSION = DATA / "conversion_2025_old_to_new.json"
TO_TREE = "vn-2025-07"


def _official(path: Path, province: str):
    official = read_admin_file(path)
    return dataclasses.replace(official, units=[u for u in official.units  # type: ignore
                                                if u.province_code == province])


def build(persons: int, seed: int, province: str) -> dict[str, int]:
    """The old-list register of one province, with roll-ups as a server would hold them."""
    from server.synthetic import generate_persons

    session = db.session
    import_official(session, _official(THREE_LEVEL, province), source=str(THREE_LEVEL))
    import_official(session, _official(TWO_LEVEL, province), source=str(TWO_LEVEL))
    table = read_admin_file(CONVERSION)
    assert isinstance(table, ConversionTable)
    import_conversion(session, dataclasses.replace(
        table, links=[link for link in table.links if link.old_province == province]),
        str(CONVERSION))
    session.commit()
    communes = [(u.code, u.full_name) for u in session.scalars(
        select(OrgUnit).where(OrgUnit.tree == "vn-2025-03", OrgUnit.level == LEVEL_COMMUNE)
        .order_by(OrgUnit.code))]
    today = dt.date.today()
    period = (today.replace(year=today.year - 1), today)
    writer = Writer("server", HybridClock().now())
    local: dict[str, list[UnitSpec]] = {}
    for areas, area in enumerate(generate_persons(seed, communes, persons, period), 1):
        commune = area.area_code.split(".")[0]
        load_area(session, area, province, commune, writer)
        specs = local.setdefault(commune, [])
        if not any(s.code == area.village_code for s in specs):
            specs.append(UnitSpec(area.village_code, LEVEL_VILLAGE, area.village_code,
                                  area.village_code, None, commune, province))
        specs.append(UnitSpec(area.area_code, "area", area.area_code, area.area_code, None,
                              area.village_code, province))
        session.add(Collaborator(full_name=area.collaborator_name, area_code=area.area_code,
                                 commune_code=commune, province_code=province))
        if areas % 50 == 0:
            session.commit()
    upsert_local_units(session, "vn-2025-03", [s for specs in local.values() for s in specs])
    session.commit()
    full_recompute(session, workers=DEFAULT_WORKERS)
    return counted()


def counted() -> dict[str, int]:
    session = db.session
    return {"persons": session.scalar(select(func.count(Member.id))),
            "households": session.scalar(select(func.count(Household.id))),
            "events": session.scalar(select(func.count(Event.id))),
            "villages": session.scalar(select(func.count()).where(
                OrgUnit.level == LEVEL_VILLAGE))}


def fill_blanks(path: Path) -> int:
    """Choose, as people would, the first candidate for every row left blank."""
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    filled = 0
    for row in rows:
        if not row["new_commune"]:
            row["new_commune"] = row["candidates"].split("|")[0]
            filled += 1
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return filled


def floor(session) -> float:
    """Seconds to rewrite every row of the register once, in one committed transaction,
    with the same page cache: what any migration that changes the rows' codes must at
    least do on this machine, now (a plain rewrite, no indexed column changed).

    Every row gets a new update time of the same width: SQLite leaves a page clean
    when a row is written back byte for byte (``updated_at = updated_at`` wrote no
    page at all), and a migration's cost is mostly the pages it writes."""
    large_cache(session, CACHE_MB)
    started = time.perf_counter()
    stamp = dt.datetime(2000, 1, 1, 0, 0, 0, 1)  # stored with its microseconds, as every time
    for model in (Household, Member, Event, Distribution):
        session.execute(update(model).values(updated_at=stamp))
    session.commit()
    return time.perf_counter() - started


def measure(url: str, tmp: Path, workers: int) -> dict[str, Any]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp / "instance")})
    with app.app_context():
        session = db.session
        floor_s = floor(session)
        plan_file = tmp / "plan.csv"
        started = time.perf_counter()
        plan = build_plan(session, TO_TREE)
        session.rollback()
        write_plan(plan, plan_file)
        plan_s = time.perf_counter() - started
        filled = fill_blanks(plan_file)

        started = time.perf_counter()
        plan = build_plan(session, TO_TREE, read_plan_file(plan_file))
        migration = apply_plan(session, plan, "bench")
        session.commit()
        apply_s = time.perf_counter() - started

        started = time.perf_counter()
        rolled = recompute_rollups(session, migration, workers)
        rollup_s = time.perf_counter() - started
        moved = migration.summary["rows"]
        result = {"plan_s": plan_s, "apply_s": apply_s, "rollup_s": rollup_s,
                  "floor_s": floor_s,
                  "rows": len(plan.rows), "filled": filled, "areas": migration.summary["areas"],
                  "moved_rows": sum(moved[k] for k in ("household", "member", "event",
                                                       "distribution")),
                  "cells": rolled["cells"], "months": len(rolled["months"])}
        db.session.remove()
        db.engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--province", default="20", help="old province code (three-level list)")
    parser.add_argument("--repeat", type=int, default=1, help="migrations measured (median)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="processes of the roll-up recompute (the server's default)")
    parser.add_argument("--keep", metavar="FILE",
                        help="build the register into this SQLite file once, measure copies")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)
    os.environ.setdefault("A0SYNC_SCHEDULER", "0")

    tmp = Path(tempfile.mkdtemp(prefix="a0-bench-migrate-"))
    try:
        source = Path(args.keep) if args.keep else tmp / "register.sqlite"
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{source}",
                          "INSTANCE_PATH": str(tmp / "instance")})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
            started = time.perf_counter()
            fresh = db.session.scalar(select(func.count(Member.id))) == 0
            counts = build(args.persons, args.seed, args.province) if fresh else counted()
            load_s = time.perf_counter() - started
            db.session.remove()
            db.engine.dispose()
        runs = []
        for i in range(args.repeat):
            work = tmp / f"run{i}"
            work.mkdir()
            shutil.copyfile(source, work / "db.sqlite")
            os.sync()  # the copy on disk before the clock starts
            runs.append(measure(f"sqlite:///{work / 'db.sqlite'}", work, args.workers))
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 3)

    summary = {"persons": counts["persons"], "villages": counts["villages"],
               "plan_s": median("plan_s"), "apply_s": median("apply_s"),
               "rollup_s": median("rollup_s"),
               "total_s": round(statistics.median(r["plan_s"] + r["apply_s"] + r["rollup_s"]
                                                  for r in runs), 3),
               "floor_s": median("floor_s"),
               "apply_floor_ratio": round(statistics.median(r["apply_s"] / r["floor_s"]
                                                            for r in runs), 2),
               "target_s": 60, "db": "sqlite", "households": counts["households"],
               "events": counts["events"], "areas": runs[0]["areas"], "rows": runs[0]["rows"],
               "filled": runs[0]["filled"], "moved_rows": runs[0]["moved_rows"],
               "cells": runs[0]["cells"], "months": runs[0]["months"], "workers": args.workers,
               "repeat": args.repeat, "load": [round(x, 2) for x in os.getloadavg()],
               "load_s": round(load_s, 1)}
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>12}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Server time of every dashboard page on a large register.

Builds (or reuses, with ``--db``) a register of ``--persons`` people over real
communes of the bundled 2025 list, loaded like the demo, with one collaborator and
one enrolled device per area and a sync ledger of the size those records would have
made (batches, operations with a few rejected or waiting, sequence gaps, open
conflicts). Then it times every GET page of the dashboard blueprints — discovered
from the app's ``url_map`` (blueprints named ``dashboard*``), with path parameters
filled from the data by :data:`PARAMS` — through the Flask test client (server time:
routing, queries, templates; no network), as a commune, a province and a national
user, and prints each page's median. The last line, with ``--json``:

    {"slowest_page": "GET /dashboard/ (admin)", "slowest_ms": 41.2, ...}

Target (issue 6): every page < 300 ms at 1,000,000 persons.

    .venv/bin/python bench/web.py --persons 1000000 --json
    .venv/bin/python bench/web.py --persons 100000 --db /tmp/web100k.sqlite --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from server import MIGRATIONS_DIR, create_app
from server.extensions import db

PERSONS_PER_COMMUNE = 20_000  # a large commune of the 2025 list
LIST = Path(__file__).resolve().parents[1] / "server" / "data" / "admin_units" / \
    "vn_units_2025_two_level.json"
OPS_PER_BATCH = 200
SEED = 11


# ---------------------------------------------------------------- building


def build(app: Flask, persons: int, log: Callable[[str], None]) -> None:
    from a0core.hlc import HybridClock
    from server.models.people import Collaborator, Device
    from server.models.sync import DeviceSync
    from server.orgunits.formats import UnitSpec, read_official_list
    from server.orgunits.importer import import_official, upsert_local_units
    from server.orgunits.queries import unit_by_code
    from server.register.bulk import Writer, load_area
    from server.security.users import create_user
    from server.synthetic import generate_persons

    session = db.session
    upgrade(directory=MIGRATIONS_DIR, revision="heads")
    import_official(session, read_official_list(LIST), source=str(LIST))
    session.commit()
    communes = pick_communes(session, max(1, round(persons / PERSONS_PER_COMMUNE)))
    tree = unit_by_code(session, communes[0][0]).tree
    provinces = {code: unit_by_code(session, code).province_code for code, _ in communes}
    writer = Writer("server", HybridClock().now())
    specs: dict[str, UnitSpec] = {}
    rng = random.Random(SEED)
    started, loaded, areas = time.perf_counter(), 0, 0
    period = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    for area in generate_persons(SEED, communes, persons, period):
        province = provinces[area.commune_code]
        load_area(session, area, province, area.commune_code, writer)
        specs.setdefault(area.village_code, UnitSpec(
            area.village_code, "village", f"Thôn {area.village_code[-2:]}",
            f"Thôn {area.village_code[-2:]}", "Thôn", area.commune_code, province))
        specs[area.area_code] = UnitSpec(area.area_code, "area", f"Địa bàn {area.area_code}",
                                         f"Địa bàn {area.area_code}", None, area.village_code,
                                         province)
        collaborator = Collaborator(full_name=area.collaborator_name, area_code=area.area_code,
                                    commune_code=area.commune_code, province_code=province)
        session.add(collaborator)
        session.flush()
        device_id = str(uuid.uuid4())
        session.add(Device(id=device_id, collaborator_id=collaborator.id,
                           area_code=area.area_code, commune_code=area.commune_code,
                           province_code=province, sign_public_key="bench",
                           box_public_key="bench", label=f"Máy {area.area_code}"))
        session.flush()
        records = (len(area.households) + len(area.members) + len(area.woman_status)
                   + len(area.events) + len(area.distributions))
        gap = _ledger(session, device_id, area, province, records, rng)
        session.add(DeviceSync(device_id=device_id, highest_contiguous_seq=gap[0] - 1
                               if gap else records, max_seq=records,
                               gaps=[list(gap)] if gap else [],
                               last_batch_at=dt.datetime.now(dt.UTC),
                               last_clock_skew_ms=rng.randint(-90_000, 90_000)))
        _conflicts(session, area, province, device_id, rng)
        session.commit()
        loaded += len(area.members)
        areas += 1
        if areas % 50 == 0:
            log(f"  {loaded} persons, {areas} areas, {time.perf_counter() - started:.0f} s")
    upsert_local_units(session, tree, list(specs.values()))
    first = communes[0][0]
    _scan_duplicates(session, first, log)
    password = "mật khẩu đo hiệu năng"
    create_user(session, "bench.xa", "Cán bộ xã", password, "commune_staff", first)
    create_user(session, "bench.tinh", "Cán bộ tỉnh", password, "province_staff",
                provinces[first])
    create_user(session, "bench.admin", "Quản trị", password, "admin", None)
    session.commit()
    log(f"built: {loaded} persons, {areas} areas in {time.perf_counter() - started:.0f} s")


def pick_communes(session, count: int) -> list[tuple[str, str]]:
    """The demo commune first, then communes taken in turn from every province."""
    from server.models.orgunits import LEVEL_COMMUNE, OrgUnit

    rows = session.execute(select(OrgUnit.province_code, OrgUnit.code, OrgUnit.full_name)
                           .where(OrgUnit.level == LEVEL_COMMUNE).order_by(OrgUnit.code)).all()
    by_province: dict[str, list[tuple[str, str]]] = {}
    for province, code, name in rows:
        by_province.setdefault(province, []).append((code, name))
    demo = next((c, n) for _p, c, n in rows if c == "12619")
    picked = [demo]
    while len(picked) < count:
        for communes in by_province.values():
            chosen = next((c for c in communes if c not in picked), None)
            if chosen is not None and len(picked) < count:
                picked.append(chosen)
    return picked


def _ledger(session, device_id: str, area: Any, province: str, records: int,
            rng: random.Random) -> tuple[int, int] | None:
    """The batches and operations this area's records would have arrived in."""
    from server.models.sync import SyncBatch, SyncOp

    gap = None
    if records > 40 and rng.random() < 0.1:
        start = rng.randint(2, records - 20)
        gap = (start, start + rng.randint(1, 15))
    now = dt.datetime.now(dt.UTC)
    batches, ops = [], []
    for first in range(1, records + 1, OPS_PER_BATCH):
        last = min(records, first + OPS_PER_BATCH - 1)
        batch_id = str(uuid.uuid4())
        verdicts, counts = [], {}
        for seq in range(first, last + 1):
            if gap and gap[0] <= seq <= gap[1]:
                continue
            roll = rng.random()
            status = "rejected" if roll < 0.01 else "waiting" if roll < 0.015 else "applied"
            counts[status] = counts.get(status, 0) + 1
            verdict: dict[str, Any] = {"seq": seq, "verdict": status}
            if status == "rejected":
                verdict.update(code="field_required", message_vi="Thiếu trường bắt buộc",
                               message_en="Required field is missing")
            verdicts.append(verdict)
            ops.append({"device_id": device_id, "seq": seq, "op_hash": "0" * 64,
                        "batch_id": batch_id, "province_code": province,
                        "commune_code": area.commune_code, "area_code": area.area_code,
                        "hlc": seq, "type": "upsert", "form": "member", "form_version": 1,
                        "entity_id": None, "status": status,
                        "code": "field_required" if status == "rejected" else None,
                        "detail": None, "waiting_on": None, "payload": {}, "received_at": now,
                        "change_seq": 0})
        received = now - dt.timedelta(days=(records - first) // OPS_PER_BATCH)
        batches.append({"id": batch_id, "device_id": device_id, "province_code": province,
                        "commune_code": area.commune_code, "area_code": area.area_code,
                        "first_seq": first, "last_seq": last, "op_count": last - first + 1,
                        "body_hash": "0" * 64, "carrier": "https", "received_at": received,
                        "clock_skew_ms": 0, "counts": counts,
                        "receipt": {"receipt": {"batch": batch_id, "verdicts": verdicts,
                                                "highest_contiguous_seq": last}}})
    session.execute(insert(SyncBatch), batches)
    session.execute(insert(SyncOp), ops)
    return gap


def _conflicts(session, area: Any, province: str, device_id: str, rng: random.Random) -> None:
    from server.models.sync import Conflict

    rows = []
    for person in rng.sample(area.members, min(2, len(area.members))):
        rows.append({"entity": "member", "entity_id": person["id"], "field": "marital_status",
                     "province_code": province, "commune_code": area.commune_code,
                     "area_code": area.area_code, "a_hlc": 1, "a_device": device_id,
                     "a_value": "married", "b_hlc": 2, "b_device": device_id,
                     "b_value": "divorced", "status": "open", "seq": 0,
                     "created_at": dt.datetime.now(dt.UTC)})
    if rows:
        session.execute(insert(Conflict), rows)


def _scan_duplicates(session, commune: str, log: Callable[[str], None]) -> None:
    """Fill the duplicates queue of the commune user's commune (bulk loads have no
    after-batch hook), so its list and pair pages have something to show."""
    from server.models.register import Household
    from server.sync.duplicates.detect import detect

    started = time.perf_counter()
    ids = list(session.scalars(select(Household.id).where(Household.commune_code == commune)))
    result = detect(session, [], ids)
    session.commit()
    log(f"duplicates scan of {commune}: {result.members_scored} members scored in "
        f"{time.perf_counter() - started:.0f} s")


# ----------------------------------------------------------------- timing

def _busiest_device(session, scope) -> str:
    from server.models.people import Device
    from server.models.sync import SyncBatch

    return session.scalar(select(SyncBatch.device_id).where(scope.where(Device))
                          .join(Device, Device.id == SyncBatch.device_id)
                          .group_by(SyncBatch.device_id).order_by(func.count().desc()).limit(1))


def _a_batch(session, scope) -> str:
    from server.models.sync import SyncBatch

    device = _busiest_device(session, scope)
    return session.scalar(select(SyncBatch.id).where(SyncBatch.device_id == device)
                          .order_by(SyncBatch.op_count.desc()).limit(1))


# path parameter → a value from the data, within the user's scope (pages added later
# with new parameters add a line here; bench reports any parameter it cannot fill)
def _open_pair(session, scope) -> int | None:
    """The most likely open duplicate pair in scope (the top of the queue)."""
    from server.models.duplicates import DuplicateCandidate as Pair

    return session.scalar(select(Pair.id).where(scope.where(Pair), Pair.status == "open")
                          .order_by(Pair.score.desc(), Pair.id).limit(1))


def _home_unit(session, scope) -> str | None:
    """The roll-up pages' own unit of the user (national: ``VN``)."""
    from server.web.queries.rollups import home_code

    return home_code(scope)


PARAMS: dict[str, Callable[..., Any]] = {
    "device_id": _busiest_device,
    "batch_id": _a_batch,
    "candidate_id": _open_pair,
    "unit_code": _home_unit,
}
# extra query strings worth timing for some pages (filters, deep pages)
VARIANTS: dict[str, list[str]] = {
    "dashboard.sync_status": ["", "?gaps=1", "?page=5"],
    "dashboard.conflicts": ["", "?page=5"],
    "dashboard.duplicates": ["", "?page=5", "?status=merged"],
}


def dashboard_pages(app: Flask) -> list[Any]:
    """GET rules of every blueprint named ``dashboard*`` (static files excepted)."""
    rules = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint.startswith("dashboard") and "GET" in rule.methods \
                and not rule.endpoint.endswith(".static"):
            rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


def time_pages(app: Flask, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    from server.models.people import User
    from server.security.scope import Scope

    results: dict[str, float] = {}
    skipped: list[str] = []
    for username in ("bench.xa", "bench.tinh", "bench.admin"):
        user = db.session.scalar(select(User).where(User.username == username))
        scope = Scope.for_user(db.session, user)
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["user_id"] = user.id
        for rule in dashboard_pages(app):
            values, missing = {}, []
            for arg in sorted(rule.arguments):
                source = PARAMS.get(arg)
                value = source(db.session, scope) if source else None
                if value is None:
                    missing.append(arg)
                values[arg] = value
            if missing:
                skipped.append(f"{rule.endpoint} ({username}): no value for {missing}")
                continue
            with app.test_request_context():
                from flask import url_for

                path = url_for(rule.endpoint, **values)
            for query in VARIANTS.get(rule.endpoint, [""]):
                times = []
                status = None
                for _ in range(repeat):
                    db.session.remove()
                    started = time.perf_counter()
                    response = client.get(path + query)
                    response.get_data()
                    times.append((time.perf_counter() - started) * 1000)
                    status = response.status_code
                key = f"GET {path}{query} ({username.split('.')[1]})"
                if status != 200 and status != 403:
                    skipped.append(f"{key}: HTTP {status}")
                    continue
                if status == 403:
                    continue  # the role may not open this page: nothing to time
                results[key] = round(statistics.median(times), 1)
                log(f"  {results[key]:8.1f} ms  {key}")
    slowest = max(results, key=results.get) if results else None
    return {"slowest_page": slowest, "slowest_ms": results.get(slowest) if slowest else None,
            "pages": len(results), "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temporary one)")
    parser.add_argument("--db-url", help="a database URL instead (e.g. PostgreSQL), built if empty")
    parser.add_argument("--repeat", type=int, default=5, help="timings per page (median)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="a0-web-bench-"))
    url = args.db_url or f"sqlite:///{Path(args.db).resolve() if args.db else folder / 'b.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder),
                      "A0SYNC_SECURE_COOKIES": False})
    with app.app_context():
        from server.models.register import Member

        try:
            persons = db.session.scalar(select(func.count()).select_from(Member))
        except Exception:
            db.session.rollback()
            persons = 0
        if not persons:
            log(f"building a register of {args.persons} persons…")
            build(app, args.persons, log)
            persons = db.session.scalar(select(func.count()).select_from(Member))
        else:
            log(f"reusing {url}: {persons} persons")
        counts = {"persons": persons}
        for name in ("sync_op", "sync_batch", "device", "conflict"):
            counts[name] = db.session.scalar(select(func.count()).select_from(
                db.metadata.tables[name]))
        log(json.dumps(counts))
        result = time_pages(app, args.repeat, log)
    result.update({"target_ms": 300, **counts})
    for line in result["skipped"]:
        log(f"skipped: {line}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"slowest: {result['slowest_page']} {result['slowest_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

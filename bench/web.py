"""Server time of every dashboard page on a large register (issue 6: < 300 ms at 1M).

**The world.** ``--persons`` people (default 1,000,000) in communes of 20,000 of
the bundled 2025 list: the demo commune (Xã Diên Hà, 12619) first, a quarter of
the communes in its province (so the province user's pages cover a large
province, about 250,000 persons at 1M) and the rest taken in turn from every
province. Loaded like the demo (bulk loader, a year of P0 events ending today),
then:

* one collaborator and one enrolled device per area, and the sync ledger those
  records would have made: a batch per 200 operations, 1 % rejected, 0.5 %
  waiting, a sequence gap in one device of ten, two open and three resolved
  conflicts per area (inserted in bulk, like the register);
* the duplicates queue. The **measured commune** (12619, the commune user's) is
  built with the labelled duplicate generator (:mod:`server.synthetic.duplicates`:
  households and persons registered twice with clerical errors, namesakes) and
  scored by the **real detection** (``server.sync.duplicates.detect``); then a few
  of its pairs are really merged, rejected and a merge undone through the review
  domain. **Every other commune's queue is inserted in bulk**, the way the ledger
  is: as many pairs per person as the measured commune got, kinds, scores and
  reasons drawn from its real pairs, records paired within the commune by name,
  and a share marked decided (rejected, merged, undone) without changing the
  records — the list pages read them exactly as real ones;
* the roll-ups, computed by ``server.rollups.jobs.full_recompute`` (the real code);
* users ``bench.xa`` (commune 12619), ``bench.tinh`` (its province),
  ``bench.admin`` (national).

Building 1M takes a while (about 25 min on SQLite, 30 on PostgreSQL, on the
2-core machine), so ``--db FILE`` keeps the SQLite file and later runs reuse it
(migrations are applied on reuse, so new indexes reach an old file).
``--db-kind postgresql`` builds on a throwaway PostgreSQL server (as the tests
start one), ``--db-url`` uses an existing database (built if empty).

**The timing.** Every GET page of the dashboard blueprints — discovered from the
app's ``url_map`` (blueprints named ``dashboard*``), path parameters filled from
the data by :data:`PARAMS`, plus the filters and deep pages of :data:`VARIANTS` —
through the Flask test client (server time: routing, queries, templates; no
network), as the commune, province and national user; one warm-up request, then
the median of ``--repeat``. ``floor_ms`` is ``GET /healthz`` (one ``SELECT 1``)
timed the same way in the same run, to read the machine's noise against. With
``--json`` the last line is

    {"slowest_page": "GET /dashboard/ (admin)", "slowest_ms": 41.2, "pages": 60,
     "page_ms": {...}, "floor_ms": 1.1, "load": [2.1, 2.3, 2.0], "persons": ..., ...}

    .venv/bin/python bench/web.py --persons 1000000 --db /tmp/web1m.sqlite --json
    .venv/bin/python bench/web.py --persons 1000000 --db-kind postgresql --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, insert, select

from server import MIGRATIONS_DIR, create_app
from server.extensions import db

PERSONS_PER_COMMUNE = 20_000  # a large commune of the 2025 list
PERSONS_PER_HOUSEHOLD = 3.45  # what the synthetic register makes
LIST = Path(__file__).resolve().parents[1] / "server" / "data" / "admin_units" / \
    "vn_units_2025_two_level.json"
MEASURED = "12619"            # the commune user's commune
OPS_PER_BATCH = 200
SEED = 11
PASSWORD = "mật khẩu đo hiệu năng"
# (username, name, role); made on reuse too when missing
USERS = (("bench.xa", "Cán bộ xã", "commune_staff"), ("bench.tinh", "Cán bộ tỉnh",
         "province_staff"), ("bench.admin", "Quản trị", "admin"))
BUILT = "bench.web built"  # a job_lock row: the build finished
# decided share of the bulk-inserted pairs (the measured commune's are really decided)
BULK_STATUSES = (("open", 0.80), ("rejected", 0.12), ("merged", 0.06), ("undone", 0.02))


# ---------------------------------------------------------------- building


class World:
    """Loads areas with their collaborator, device, ledger and conflicts."""

    def __init__(self, session, provinces: dict[str, str]) -> None:
        from a0core.hlc import HybridClock
        from server.register.bulk import Writer

        self.session, self.provinces = session, provinces
        self.writer = Writer("server", HybridClock().now())
        self.rng = random.Random(SEED)
        self.specs: dict[str, Any] = {}
        self.persons = self.areas = 0
        self.started = time.perf_counter()

    def load(self, areas: Iterable[Any], log: Callable[[str], None]) -> None:
        from server.models.people import Collaborator, Device
        from server.models.sync import DeviceSync
        from server.orgunits.formats import UnitSpec
        from server.register.bulk import load_area

        session, rng = self.session, self.rng
        for area in areas:
            province = self.provinces[area.commune_code]
            load_area(session, area, province, area.commune_code, self.writer)
            self.specs.setdefault(area.village_code, UnitSpec(
                area.village_code, "village", f"Thôn {area.village_code[-2:]}",
                f"Thôn {area.village_code[-2:]}", "Thôn", area.commune_code, province))
            self.specs[area.area_code] = UnitSpec(
                area.area_code, "area", f"Địa bàn {area.area_code}", f"Địa bàn {area.area_code}",
                None, area.village_code, province)
            collaborator = Collaborator(full_name=area.collaborator_name,
                                        area_code=area.area_code,
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
            self.persons += len(area.members)
            self.areas += 1
            if self.areas % 100 == 0:
                log(f"  {self.persons} persons, {self.areas} areas, "
                    f"{time.perf_counter() - self.started:.0f} s")


def build(app: Flask, persons: int, log: Callable[[str], None]) -> None:
    from server.models.rollups import JobLock
    from server.orgunits.formats import read_official_list
    from server.orgunits.importer import import_official, upsert_local_units
    from server.orgunits.queries import unit_by_code
    from server.rollups.jobs import full_recompute

    session = db.session
    import_official(session, read_official_list(LIST), source=str(LIST))
    session.commit()
    communes = pick_communes(session, max(1, round(persons / PERSONS_PER_COMMUNE)))
    tree = unit_by_code(session, MEASURED).tree
    provinces = {code: unit_by_code(session, code).province_code for code, _ in communes}
    world = World(session, provinces)
    quota = persons // len(communes)
    world.load(measured_commune(quota), log)
    if len(communes) > 1:
        world.load(_synthetic(communes[1:], persons - world.persons), log)
    upsert_local_units(session, tree, list(world.specs.values()))
    session.commit()
    log(f"loaded {world.persons} persons, {world.areas} areas in "
        f"{time.perf_counter() - world.started:.0f} s")
    real = _detect_duplicates(session, MEASURED, log)
    _bulk_duplicates(session, [c for c, _ in communes[1:]], real, len(real) / quota, log)
    started = time.perf_counter()
    result = full_recompute(session)
    log(f"roll-ups: {result['cells']} cells, {len(result['months'])} months in "
        f"{time.perf_counter() - started:.0f} s")
    ensure_users(session)
    _decide_some(app, session, log)
    session.add(JobLock(name=BUILT, last_run_at=dt.datetime.now(dt.UTC)))
    session.commit()
    log(f"built in {time.perf_counter() - world.started:.0f} s")


def ensure_users(session) -> None:
    """The bench users (:data:`USERS`), made if missing."""
    from server.models.people import User
    from server.orgunits.queries import unit_by_code
    from server.security.users import create_user

    province = unit_by_code(session, MEASURED).province_code
    for username, name, role in USERS:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            unit = {"commune_staff": MEASURED, "province_staff": province}.get(role)
            create_user(session, username, name, PASSWORD, role, unit)
    session.commit()


def pick_communes(session, count: int) -> list[tuple[str, str]]:
    """The measured commune first, a quarter of ``count`` from its province, then
    communes taken in turn from every province."""
    from server.models.orgunits import LEVEL_COMMUNE, OrgUnit

    rows = session.execute(select(OrgUnit.province_code, OrgUnit.code, OrgUnit.full_name)
                           .where(OrgUnit.level == LEVEL_COMMUNE).order_by(OrgUnit.code)).all()
    by_province: dict[str, list[tuple[str, str]]] = {}
    for province, code, name in rows:
        by_province.setdefault(province, []).append((code, name))
    home = next(p for p, c, _n in rows if c == MEASURED)
    picked = [next((c, n) for c, n in by_province[home] if c == MEASURED)]
    picked += [x for x in by_province[home] if x not in picked][:max(0, count // 4 - 1)]
    while len(picked) < count:
        for communes in by_province.values():
            chosen = next((c for c in communes if c not in picked), None)
            if chosen is not None and len(picked) < count:
                picked.append(chosen)
    return picked[:count]


def _period() -> tuple[dt.date, dt.date]:
    today = dt.date.today()
    return today.replace(year=today.year - 1), today


def _synthetic(communes: list[tuple[str, str]], persons: int) -> Iterable[Any]:
    from server.synthetic import generate_persons

    return generate_persons(SEED, communes, persons, _period())


def measured_commune(persons: int) -> list[Any]:
    """The measured commune with realistic duplicates: the labelled set (copies with
    clerical errors, namesakes) with the period's events put back (the labelled set
    keeps base records only; the same seed regenerates the same records)."""
    from server.synthetic.duplicates import labelled_set
    from server.synthetic.generator import generate_commune

    households = round(persons / PERSONS_PER_HOUSEHOLD)
    name = "Xã Diên Hà"
    labelled = labelled_set(SEED, MEASURED, name, households, _period())
    full = {a.area_code: a for a in generate_commune(SEED, MEASURED, name, households,
                                                     _period())}
    for area in labelled.areas:
        same = full[area.area_code]
        area.events, area.distributions = same.events, same.distributions
        area.woman_status = same.woman_status
    return labelled.areas
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
    """Two open conflicts per area and three already resolved (the queue's history)."""
    from server.models.sync import Conflict

    rows = []
    now = dt.datetime.now(dt.UTC)
    for i, person in enumerate(rng.sample(area.members, min(5, len(area.members)))):
        row = {"entity": "member", "entity_id": person["id"], "field": "marital_status",
               "province_code": province, "commune_code": area.commune_code,
               "area_code": area.area_code, "a_hlc": 1, "a_device": device_id,
               "a_value": "married", "b_hlc": 2, "b_device": device_id,
               "b_value": "divorced", "status": "open", "seq": 0,
               "created_at": now - dt.timedelta(days=rng.randint(0, 300))}
        if i >= 2:
            row.update(status="resolved", resolved_value="married", resolved_by="user:bench",
                       resolved_at=now)
        rows.append(row)
    if rows:
        session.execute(insert(Conflict), rows)


def _detect_duplicates(session, commune: str, log: Callable[[str], None]) -> list[Any]:
    """The real detection over the measured commune (bulk loads have no after-batch
    hook); returns its pairs, which the bulk-inserted queues imitate."""
    from server.models.duplicates import DuplicateCandidate as Pair
    from server.sync.duplicates.detect import scan_commune

    started = time.perf_counter()
    result = scan_commune(session, commune)
    session.commit()
    pairs = list(session.execute(select(Pair.kind, Pair.score, Pair.reasons)
                                 .where(Pair.commune_code == commune)))
    log(f"duplicates of {commune} by the real detection: {len(pairs)} pairs, "
        f"{result.members_scored} members scored in {time.perf_counter() - started:.0f} s")
    return pairs


def _bulk_duplicates(session, communes: list[str], real: list[Any], per_person: float,
                     log: Callable[[str], None]) -> None:
    """Every other commune's queue, inserted like the ledger (see the module docstring)."""
    from server.models.duplicates import DuplicateCandidate as Pair
    from server.models.register import Household, Member

    if not real:
        return
    rng = random.Random(SEED + 1)
    started, total = time.perf_counter(), 0
    statuses, weights = zip(*BULK_STATUSES, strict=True)
    now = dt.datetime.now(dt.UTC)
    for commune in communes:
        members = session.execute(select(Member.id, Member.full_name, Member.sex,
                                         Member.province_code, Member.area_code, Member.seq)
                                  .where(Member.commune_code == commune)).all()
        households = session.execute(select(Household.id, Household.province_code,
                                            Household.area_code, Household.seq)
                                     .where(Household.commune_code == commune)).all()
        namesakes: dict[tuple[str, str], list[Any]] = {}
        for m in members:
            namesakes.setdefault((m.full_name.rsplit(" ", 1)[-1], m.sex), []).append(m)
        seen: set[tuple[str, str, str]] = set()
        rows = []
        for _ in range(round(per_person * len(members))):
            kind, score, reasons = rng.choice(real)
            pool = households if kind == "household" else None
            if pool is None:
                a = rng.choice(members)
                pool = namesakes[(a.full_name.rsplit(" ", 1)[-1], a.sex)]
                pool = pool if len(pool) > 1 else members
            else:
                a = rng.choice(pool)
            b = rng.choice(pool)
            if a.id == b.id:
                continue
            a, b = sorted((a, b), key=lambda r: r.id)
            if (kind, a.id, b.id) in seen:
                continue
            seen.add((kind, a.id, b.id))
            status = rng.choices(statuses, weights)[0]
            rows.append({"kind": kind, "a_id": a.id, "b_id": b.id, "score": score,
                         "reasons": reasons, "status": status, "province_code": a.province_code,
                         "commune_code": commune, "area_code": a.area_code,
                         "b_area_code": b.area_code, "a_seq": a.seq, "b_seq": b.seq,
                         "decided_by": None if status == "open" else "user:bench",
                         "decided_at": None if status == "open" else now,
                         "created_at": now, "updated_at": now})
        session.execute(insert(Pair), rows)
        session.commit()
        total += len(rows)
    log(f"duplicates of {len(communes)} other communes inserted in bulk: {total} pairs in "
        f"{time.perf_counter() - started:.0f} s")


def _decide_some(app: Flask, session, log: Callable[[str], None]) -> None:
    """Real reviews in the measured commune: merges, rejections, an undone merge."""
    from a0core.errors import A0Error
    from server.models.duplicates import DuplicateCandidate as Pair
    from server.models.people import User
    from server.security.scope import Scope
    from server.sync.clock import server_clock
    from server.sync.duplicates import review

    user = session.scalar(select(User).where(User.username == "bench.xa"))
    scope, clock = Scope.for_user(session, user), server_clock(app)
    pairs = list(session.execute(select(Pair.id, Pair.a_id).where(
        Pair.commune_code == MEASURED, Pair.status == "open")
        .order_by(Pair.score.desc(), Pair.id).limit(30)))
    started, merged, done = time.perf_counter(), [], 0
    for i, (pair_id, a_id) in enumerate(pairs):
        try:
            if i % 3 == 2:
                review.reject_candidate(session, pair_id, scope=scope, actor=scope.actor)
            else:
                review.merge_candidate(session, clock, pair_id, a_id, scope=scope,
                                       actor=scope.actor)
                merged.append(pair_id)
            done += 1
        except A0Error:
            session.rollback()  # a pair that an earlier merge made moot
    for pair_id in merged[:3]:
        review.undo_merge(session, clock, pair_id, scope=scope, actor=scope.actor)
    log(f"reviews in {MEASURED}: {done} decisions, {min(3, len(merged))} undone in "
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


def _measured_commune(session, scope) -> str | None:
    """The measured commune, for every bench user's scope covers it (the station's page)."""
    return MEASURED


PARAMS: dict[str, Callable[..., Any]] = {
    "commune": _measured_commune,
    "device_id": _busiest_device,
    "batch_id": _a_batch,
    "candidate_id": _open_pair,
    "unit_code": _home_unit,
}
# extra query strings worth timing for some pages: filters, the last page (a page
# number past the end shows the last one), another status
DEEP = "?page=1000000"
VARIANTS: dict[str, list[str]] = {
    "dashboard.sync_status": ["", "?gaps=1", "?page=5", DEEP, f"?commune={MEASURED}"],
    "dashboard.conflicts": ["", "?page=5", DEEP, f"?commune={MEASURED}"],
    "dashboard.duplicates": ["", "?page=5", DEEP, "?status=merged", "?kind=household",
                             f"?commune={MEASURED}"],
    "dashboard.device": ["", DEEP],
    "dashboard.rollup_unit": ["", "?month=2000-01"],
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


def _timed(client, path: str, repeat: int) -> tuple[float, int]:
    """Median milliseconds of ``repeat`` requests after one warm-up, and the status."""
    client.get(path).get_data()
    times, status = [], 0
    for _ in range(repeat):
        db.session.remove()
        started = time.perf_counter()
        response = client.get(path)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return round(statistics.median(times), 1), status


def time_pages(app: Flask, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    from flask import url_for

    from server.models.people import User
    from server.security.scope import Scope
    from server.security.session import SESSION_KEY
    from server.security.web_sessions import open_session

    results: dict[str, float] = {}
    skipped: list[str] = []
    floor, _status = _timed(app.test_client(), "/healthz", repeat)
    ensure_users(db.session)
    for username, _name, _role in USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        scope = Scope.for_user(db.session, user)
        client = app.test_client()
        with client.session_transaction() as sess:
            sess[SESSION_KEY] = open_session(db.session, user)
        db.session.commit()
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
                path = url_for(rule.endpoint, **values)
            for query in VARIANTS.get(rule.endpoint, [""]):
                key = f"GET {path}{query} ({username.split('.')[1]})"
                ms, status = _timed(client, path + query, repeat)
                if status == 403:
                    continue  # the role may not open this page: nothing to time
                if status >= 400:
                    skipped.append(f"{key}: HTTP {status}")
                    continue
                results[key] = ms
                log(f"  {ms:8.1f} ms  {key}" + (f"  (HTTP {status})" if status != 200 else ""))
    slowest = max(results, key=results.get) if results else None
    return {"slowest_page": slowest, "slowest_ms": results.get(slowest) if slowest else None,
            "pages": len(results), "floor_ms": floor, "skipped": skipped,
            "page_ms": results}


def _database(args: argparse.Namespace, folder: Path) -> tuple[str, Any]:
    """The database URL, and the throwaway PostgreSQL server to stop afterwards."""
    if args.db_kind == "postgresql" and not args.db_url:
        from tests.support import postgres

        server = postgres.start()
        return server.create_database("a0_bench_web"), server
    if args.db_url:
        return args.db_url, None
    return f"sqlite:///{Path(args.db).resolve() if args.db else folder / 'b.sqlite'}", None


def _built(session) -> bool:
    """Is there a complete world here?"""
    from server.models.register import Member
    from server.models.rollups import JobLock

    if not session.scalar(select(Member.id).limit(1)):
        return False
    if session.get(JobLock, BUILT) is None:
        raise SystemExit("this database holds an unfinished build: delete it and start again")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temporary one)")
    parser.add_argument("--db-kind", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql: build on a throwaway PostgreSQL server")
    parser.add_argument("--db-url", help="an existing database instead (built if empty)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per page (median)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="a0-web-bench-"))
    url, server = _database(args, folder)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder),
                          "A0SYNC_SECURE_COOKIES": False})
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR, revision="heads")
            if _built(db.session):
                log(f"reusing {url}")
            else:
                log(f"building a register of {args.persons} persons…")
                build(app, args.persons, log)
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect() as conn:  # what autovacuum would have done by now
                    conn.exec_driver_sql("ANALYZE")
                    conn.commit()
            counts = {"db": db.engine.dialect.name}
            for name in ("member", "household", "sync_op", "sync_batch", "device", "conflict",
                         "duplicate_candidate", "rollup_cell"):
                counts[name] = db.session.scalar(select(func.count()).select_from(
                    db.metadata.tables[name]))
            counts["persons"] = counts.pop("member")
            log(json.dumps(counts))
            result = time_pages(app, args.repeat, log)
    finally:
        if server is not None:
            server.stop()
    result.update({"target_ms": 300, "load": [round(x, 2) for x in os.getloadavg()], **counts})
    for line in result["skipped"]:
        log(f"skipped: {line}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"slowest: {result['slowest_page']} {result['slowest_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

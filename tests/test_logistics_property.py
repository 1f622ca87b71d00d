"""Stock movements delivered in any order, with re-sends: every balance is the sum of
its movements, each counted once (issue 17), on SQLite and PostgreSQL.

Each example takes a fresh commune (so its station starts empty) and one area. The
station receives stock and issues transfers to the area (its own writer); the phone
pulls them and, offline, confirms some, hands out, returns, loses, counts and voids
its own losses; its outbox is cut into batches, some re-sent whole or overlapping,
and delivered in a random order. Afterwards, against an oracle computed here from
the records sent (not from the server's ledger code):

* each movement is stored exactly once;
* the area's and the station's closing balance of the current month in the roll-up
  cells equal the sums of their movements;
* the area has an open ``stock_negative`` alert exactly when some day of its ledger
  ended below zero — the movement was applied, not dropped;
* the stored months (``stock_month``) and the stock figures of every month's cell,
  kept incrementally batch after batch from the first month each touched, equal
  those computed from all the movements at once.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import defaultdict

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.extensions import db
from server.logistics import balances, station
from server.logistics.cells import CTV, STATION, figures, station_code
from server.models.logistics import OPEN, StockFlag, StockMonth, StockMovement
from server.models.rollups import RollupCell
from server.models.sync import SyncOp
from server.rollups.jobs import this_month
from server.security.scope import Scope
from server.sync.runtime import ingest_context
from tests.support.register import household, new_id
from tests.support.sim import SimDevice

CI = os.environ.get("CI") == "true"
_communes = itertools.count(1)
STAFF = Scope("user:prop", "province", "33", person_level=True)


def _examples() -> int:
    return int(os.environ.get("A0SYNC_STOCK_EXAMPLES", 40 if CI else 12))


def _day(n: int) -> str:
    return f"2025-{3 + n // 28:02d}-{1 + n % 28:02d}"


def _closing(unit: str) -> int:
    cell = db.session.scalar(select(RollupCell).where(RollupCell.unit_code == unit,
                                                      RollupCell.month == this_month()))
    return int((cell.values if cell else {}).get("stock.%s.condom.closing" % (
        "station" if unit.endswith(".TYT") else "ctv"), 0))


def _stored(kind: str, holder: str) -> list[tuple]:
    return [tuple(getattr(r, c.name) for c in StockMonth.__table__.columns)
            for r in db.session.scalars(select(StockMonth).where(
                StockMonth.kind == kind, StockMonth.holder == holder)
                .order_by(StockMonth.method, StockMonth.month))]


def _stock_cells(unit: str) -> dict[str, dict[str, float]]:
    """The stock counts of the unit's cells by month (ratios are derived from them)."""
    return {c.month: {k: v for k, v in c.values.items()
                      if k.startswith("stock.") and not k.endswith(".mos")}
            for c in db.session.scalars(select(RollupCell).where(RollupCell.unit_code == unit))}


def _same_as_from_scratch(area: str, commune: str) -> None:
    """What the batches left incrementally = the ledgers computed from all movements."""
    kept = {"area": _stored(CTV, area), "station": _stored(STATION, commune)}
    cells = {"area": _stock_cells(area), "station": _stock_cells(station_code(commune))}
    months = sorted(cells["area"])
    whole_area = balances.areas(db.session, {area: None})
    whole_station = balances.stations(db.session, {commune: None})
    assert _stored(CTV, area) == kept["area"]
    assert _stored(STATION, commune) == kept["station"]
    for unit, kind, whole in (("area", CTV, whole_area.get(area)),
                              ("station", STATION, whole_station.get(commune))):
        expected = figures(kind, whole.by_method, months) if whole else {}
        assert {m: v for m, v in cells[unit].items() if v} == \
            {m: v for m, v in expected.items() if v}, unit
    db.session.rollback()


def run_program(app, data) -> None:
    client = app.test_client()
    commune = f"9{next(_communes):04d}"
    area = f"{commune}.01.1"
    device = SimDevice(app, area=area, commune=commune)
    hh = new_id()
    device.upsert("household", hh, household(area, "1"))
    device.send(client, device.seal())
    ctx = ingest_context(app)

    # the oracle's postings: holder -> [(day, signed quantity)]
    lines: dict[str, list[tuple[str, int]]] = defaultdict(list)
    ids: set[str] = set()
    received = data.draw(st.integers(0, 60))
    ids.add(station.record(db.session, ctx, STAFF, commune, "stock_receipt", {
        "method": "condom", "quantity": received or 1, "supplier": "district",
        "received_on": _day(0), "lot": "L1", "expiry": "2027-06-30"}))
    lines["station"].append((_day(0), received or 1))
    transfers = []
    for _ in range(data.draw(st.integers(1, 3))):
        quantity, day = data.draw(st.integers(1, 40)), _day(data.draw(st.integers(1, 10)))
        tid = station.record(db.session, ctx, STAFF, commune, "stock_transfer", {
            "area_code": area, "method": "condom", "quantity": quantity, "issued_on": day})
        ids.add(tid)
        transfers.append((tid, quantity, day))
        lines["station"].append((day, -quantity))
    db.session.commit()
    device.pull(client)

    losses: list[tuple[str, str, int]] = []
    stock_days: list[str] = []  # the days of the phone's stock movements (not hand-outs)
    book = 0  # what the phone would think it holds (for a count's book balance)
    for _ in range(data.draw(st.integers(1, 10))):
        action = data.draw(st.sampled_from(["confirm", "dist", "return", "loss", "count",
                                            "void"]))
        day = _day(data.draw(st.integers(11, 80)))
        quantity = data.draw(st.integers(1, 25))
        record = {"id": new_id(), "area_code": area, "method": "condom"}
        if action == "confirm" and transfers:
            tid, sent, _issued = transfers.pop(data.draw(st.integers(0, len(transfers) - 1)))
            got = data.draw(st.sampled_from([sent, max(sent - 1, 0)]))
            device.stock("stock_confirm", {"id": record["id"], "transfer_id": tid,
                                           "received_quantity": got, "received_on": day})
            lines["ctv"].append((day, got))
            book += got
        elif action == "dist":
            device.distribution({**record, "household_id": hh, "quantity": quantity,
                                 "distributed_on": day, "source": "free"}, version=3)
            lines["ctv"].append((day, -quantity))
            book -= quantity
        elif action == "return":
            device.stock("stock_return", {**record, "quantity": quantity, "returned_on": day,
                                          "reason": "excess"})
            lines["ctv"].append((day, -quantity))
            book -= quantity
        elif action == "loss":
            device.stock("stock_loss", {**record, "quantity": quantity, "lost_on": day,
                                        "reason": "damaged"})
            losses.append((record["id"], day, quantity))
            lines["ctv"].append((day, -quantity))
            book -= quantity
        elif action == "count":
            counted = data.draw(st.integers(0, 30))
            device.stock("stock_adjustment", {**record, "counted_on": day,
                                              "book_balance": book, "counted": counted,
                                              "reason": "physical_count"})
            lines["ctv"].append((day, counted - book))
            book = counted
        elif action == "void" and losses:
            lost_id, lost_day, lost = losses.pop()
            device.void("stock_movement", lost_id)
            lines["ctv"].remove((lost_day, -lost))
            stock_days.remove(lost_day)
            continue
        else:
            continue
        if action != "dist":
            ids.add(record["id"])
            stock_days.append(day)

    # cut the outbox into batches, re-send some, overlap some, deliver in any order
    ops = list(device.outbox)
    deliveries: list[list[dict]] = []
    rest = list(ops)
    while rest:
        size = data.draw(st.integers(1, len(rest)))
        deliveries.append(rest[:size])
        if data.draw(st.booleans()):
            deliveries.append(rest[:size])
        rest = rest[size:]
    if len(ops) > 1 and data.draw(st.booleans()):
        deliveries.append(ops[: len(ops) // 2 + 1])
    random.Random(data.draw(st.integers(0, 2**32 - 1))).shuffle(deliveries)
    for batch in deliveries:
        body = device.send(client, device.seal(batch))
        # a void may come before what it withdraws: it waits for it, never refused
        assert all(v["verdict"] != "rejected" for v in body["receipt"]["verdicts"]), body
    db.session.expire_all()
    # every operation decided in the end, exactly once
    decided = db.session.scalars(select(SyncOp).where(SyncOp.device_id == device.id)).all()
    assert sorted(r.seq for r in decided) == list(range(1, device.seq + 1))
    assert {r.status for r in decided} == {"applied"}

    # each movement once
    stored = db.session.scalars(select(StockMovement.id).where(
        StockMovement.commune_code == commune)).all()
    assert sorted(stored) == sorted(ids)
    # balances = sums of movements; a collaborator's ledger starts with the month of
    # its first stock movement (hand-outs before it are history, not a shortage)
    start = min(stock_days)[:7] if stock_days else "9999"
    lines["ctv"] = [(day, q) for day, q in lines["ctv"] if day[:7] >= start]
    assert _closing(area) == sum(q for _, q in lines["ctv"])
    assert _closing(station_code(commune)) == sum(q for _, q in lines["station"])
    # a day that ended below zero is flagged (the movement applied, not dropped)
    ends: dict[str, int] = defaultdict(int)
    for day, q in lines["ctv"]:
        ends[day] += q
    running, negative = 0, False
    for day in sorted(ends):
        running += ends[day]
        negative |= running < 0
    open_flags = db.session.scalars(select(StockFlag).where(
        StockFlag.area_code == area, StockFlag.code == "stock_negative",
        StockFlag.status == OPEN)).all()
    assert bool(open_flags) == negative, (lines["ctv"], open_flags)
    _same_as_from_scratch(area, commune)


_SETTINGS = {"suppress_health_check": [HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow], "deadline": None,
             # each example is a real sync round trip: shrinking would take minutes
             "phases": (Phase.explicit, Phase.reuse, Phase.generate)}


@settings(max_examples=_examples(), **_SETTINGS)
@given(data=st.data())
def test_any_order_balances_sqlite(sqlite_app, data) -> None:
    run_program(sqlite_app, data)


@settings(max_examples=max(5, _examples() // 3), **_SETTINGS)
@given(data=st.data())
def test_any_order_balances_postgresql(postgresql_app, data) -> None:
    run_program(postgresql_app, data)

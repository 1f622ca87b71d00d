"""Contraceptive logistics (issue 17): transfers confirmed on both sides, negative
balances flagged and never dropped, incremental figures equal a full recompute, who
may record what, and the monthly report against counts made here."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from a0core.errors import A0Error
from server.extensions import db
from server.logistics import report, station
from server.logistics.cells import station_code
from server.models.logistics import CLEARED, OPEN, StockFlag, StockMovement
from server.models.rollups import RollupCell
from server.rollups.jobs import full_recompute
from server.security.scope import COMMUNE, Scope
from server.sync.runtime import ingest_context
from tests.support.register import household, new_id
from tests.support.sim import SimDevice

STAFF = Scope("user:lan", COMMUNE, "12619", person_level=True)
OTHER = Scope("user:mai", COMMUNE, "12620", person_level=True)


def _cells() -> dict:
    return {(c.unit_code, c.month): {k: v for k, v in c.values.items() if k.startswith("stock")}
            for c in db.session.scalars(select(RollupCell))}


def _verdicts(body) -> list[tuple[str, str | None]]:
    return [(v["verdict"], v.get("code")) for v in body["receipt"]["verdicts"]]


@pytest.fixture()
def setup(app):
    client = app.test_client()
    device = SimDevice(app)
    hh = new_id()
    device.upsert("household", hh, household(device.area, "1"))
    device.send(client, device.seal())
    ctx = ingest_context(app)
    station.record(db.session, ctx, STAFF, "12619", "stock_receipt", {
        "method": "condom", "quantity": 500, "supplier": "district",
        "received_on": "2025-03-03", "lot": "L1", "expiry": "2028-01-01"})
    transfer = station.record(db.session, ctx, STAFF, "12619", "stock_transfer", {
        "area_code": device.area, "method": "condom", "quantity": 100,
        "issued_on": "2025-03-05", "lot": "L1", "expiry": "2028-01-01"})
    db.session.commit()
    return client, device, hh, ctx, transfer


def test_transfer_confirmed_on_both_sides_and_negative_flagged(app, setup) -> None:
    client, device, hh, _ctx, transfer = setup
    device.pull(client)
    # the phone holds the station's transfer to its area
    assert device.replica.facts[transfer]["form"] == "stock_transfer"
    assert device.replica.facts[transfer]["record"]["quantity"] == 100
    confirm = new_id()
    device.stock("stock_confirm", {"id": confirm, "transfer_id": transfer,
                                   "received_quantity": 95, "received_on": "2025-03-06"})
    device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                         "method": "condom", "quantity": 120, "distributed_on": "2025-03-10",
                         "source": "free"}, version=3)
    body = device.send(client, device.seal())
    assert [v for v, _ in _verdicts(body)] == ["applied", "applied"]  # applied, not dropped

    # the station sees the confirmation, with the quantity that arrived
    state = report.transfer_states(db.session, "12619")
    assert [(t.id, t.issued, t.received, t.state) for t in state] == [
        (transfer, 100, 95, "mismatch")]
    codes = {(f.code, f.area_code, f.status) for f in db.session.scalars(select(StockFlag))}
    assert ("stock_confirm_mismatch", device.area, OPEN) in codes
    assert ("stock_negative", device.area, OPEN) in codes  # 95 in, 120 out
    negative = db.session.scalar(select(StockFlag).where(StockFlag.code == "stock_negative"))
    assert negative.details == {"balance": -25} and negative.day == "2025-03-10"

    # incremental == full recompute
    incremental = _cells()
    assert incremental[(device.area, "2025-03")]["stock.ctv.condom.closing"] == -25
    assert incremental[(station_code("12619"), "2025-03")]["stock.station.condom.closing"] == 400
    full_recompute(db.session)
    db.session.commit()
    assert _cells() == incremental

    # a count that finds 10 more than the book clears the alert by itself
    device.stock("stock_adjustment", {"id": new_id(), "area_code": device.area,
                                      "method": "condom", "counted_on": "2025-03-09",
                                      "book_balance": 95, "counted": 125,
                                      "reason": "physical_count"})
    device.send(client, device.seal())
    db.session.expire_all()
    assert db.session.get(StockFlag, negative.id).status == CLEARED


def test_who_may_record_what(app, setup) -> None:
    client, device, _hh, ctx, transfer = setup
    stranger = SimDevice(app, area="12619.01.2")
    # a phone may not issue stock nor confirm another area's transfer
    stranger.stock("stock_transfer", {"id": new_id(), "area_code": stranger.area,
                                      "method": "condom", "quantity": 5,
                                      "issued_on": "2025-03-05"})
    stranger.stock("stock_confirm", {"id": new_id(), "transfer_id": transfer,
                                     "received_quantity": 100, "received_on": "2025-03-06"})
    stranger.stock("stock_loss", {"id": new_id(), "area_code": device.area,
                                  "method": "condom", "quantity": 1, "lost_on": "2025-03-06",
                                  "reason": "lost"})
    body = stranger.send(client, stranger.seal())
    assert [c for _, c in _verdicts(body)] == ["stock_station_only", "stock_not_confirmable",
                                               "op_out_of_scope"]
    # the phone may not withdraw the station's transfer
    device.void("stock_movement", transfer)
    assert _verdicts(device.send(client, device.seal())) == [
        ("rejected", "stock_void_forbidden")]
    # staff of another commune see nothing of this one, and change nothing
    before = db.session.scalar(select(db.func.count()).select_from(StockMovement))
    with pytest.raises(A0Error) as refused:
        station.record(db.session, ctx, OTHER, "12619", "stock_receipt", {
            "method": "condom", "quantity": 5, "supplier": "district",
            "received_on": "2025-03-03"})
    assert refused.value.code == "not_found"
    with pytest.raises(A0Error) as refused:
        station.record(db.session, ctx, STAFF, "12619", "stock_transfer", {
            "area_code": "44444.01.1", "method": "condom", "quantity": 5,
            "issued_on": "2025-03-05"})
    assert refused.value.code == "stock_area_unknown"
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(StockMovement)) == before
    with pytest.raises(A0Error):
        report.station_page(db.session, OTHER, "12619", "2025-03", app.config)


def test_monthly_report_from_independent_counts(app, setup) -> None:
    client, device, hh, ctx, transfer = setup
    device.pull(client)
    device.stock("stock_confirm", {"id": new_id(), "transfer_id": transfer,
                                   "received_quantity": 100, "received_on": "2025-03-06"})
    handed = [(12, "free", None), (10, "social_marketing", 2000), (3, "sold", 5000)]
    for quantity, source, price in handed:
        device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                             "method": "condom", "quantity": quantity, "source": source,
                             "distributed_on": "2025-03-10",
                             **({"unit_price": price} if price else {})}, version=3)
    device.stock("stock_loss", {"id": new_id(), "area_code": device.area, "method": "condom",
                                "quantity": 4, "lost_on": "2025-03-12", "reason": "damaged"})
    device.send(client, device.seal())
    station.record(db.session, ctx, STAFF, "12619", "stock_dispense", {
        "method": "condom", "quantity": 7, "dispensed_on": "2025-03-20", "source": "sold",
        "unit_price": 3000})
    db.session.commit()
    # counted here, by hand
    ctv = {"received": 100, "distributed": 25, "lost": 4, "closing": 100 - 25 - 4,
           "distributed.free": 12, "distributed.social_marketing": 10, "distributed.sold": 3,
           "value.social_marketing": 20000, "value.sold": 15000, "holders": 1}
    own = {"received": 500, "issued": 100, "distributed": 7, "closing": 500 - 100 - 7,
           "distributed.sold": 7, "value.sold": 21000, "holders": 1}
    for unit in ("12619", "33"):
        rows = {(r.method, r.kind): r.values for r in report.monthly_report(db.session, unit,
                                                                             "2025-03")}
        assert set(rows) == {("condom", "ctv"), ("condom", "station")}
        assert {k: rows[("condom", "ctv")][k] for k in ctv} == ctv
        assert {k: rows[("condom", "station")][k] for k in own} == own
    april = {(r.method, r.kind): r.values for r in report.monthly_report(db.session, "12619",
                                                                          "2025-04")}
    assert april[("condom", "ctv")]["opening"] == 71
    assert april[("condom", "ctv")]["mos"] == round(71 / (25 / 3), 1)
    page = report.station_page(db.session, STAFF, "12619", "2025-03", app.config,
                               today="2027-11-01")
    lots = {(h, lot.lot, lot.quantity) for h, _m, lot in page.near_expiry}
    assert lots == {("", "L1", 393), (device.area, "L1", 71)}  # expires 2028-01-01
    # the page's balances come from the roll-up cells, and agree with the hand counts
    stored = report._stored_figures(db.session, "12619", ["", device.area], "2025-03",
                                    "2027-11-01")
    assert set(stored) == {"", device.area}
    balances = {b.holder: b.figures for b in page.balances if b.method == "condom"}
    assert {k: balances[device.area][k] for k in ctv} == ctv
    assert {k: balances[""][k] for k in own} == own
    assert balances[device.area]["days_out"] == 5  # 1–5 March, before the transfer arrived

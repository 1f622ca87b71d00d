"""The monthly P0 slip: its form covers every section, the server refuses what it must,
tells the device on pull which months it holds and whether they match, and judges
each area by the calendar (sent, late, missing, not yet due)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid

from sqlalchemy import func, select

from a0core import p0
from a0core.hlc import HybridClock
from a0core.schemas import schemas_dir
from server.extensions import db
from server.models.reports import P0Report
from server.models.rollups import RollupCell
from server.reporting.status import BEFORE, DUE, LATE, MISSING, ON_TIME, area_months
from server.sync.ingest import ingest_batch
from server.sync.runtime import ingest_context
from tests.conftest import TWO_LEVEL
from tests.support.register import birth, household, member, new_id
from tests.support.sim import SimDevice
from tests.support.units import import_provinces
from tests.support.web import AREAS, Browser, build_world

VN = dt.timezone(dt.timedelta(hours=7))


def test_the_slip_form_counts_every_section_of_every_p0_form() -> None:
    """Read from the JSON files, not through the code: every P0 form (event or
    distribution, every version) has its count field on the latest slip form."""
    forms = [json.loads(p.read_text()) for p in schemas_dir().glob("forms/*/v*.json")]
    sections = {f["section"][3:] for f in forms if f.get("section", "").startswith("P0.")
                and f["kind"] in ("event", "distribution")}
    slip = max((f for f in forms if f["id"] == "p0_report"), key=lambda f: f["version"])
    counts = {f["name"] for f in slip["fields"] if f["type"] == "integer"}
    assert counts == sections and len(counts) == 16
    assert all(f.get("min") == 0 and f["required"] for f in slip["fields"]
               if f["type"] == "integer")
    assert p0.section_fields() == tuple(f["name"] for f in slip["fields"]
                                        if f["type"] == "integer")


def test_refused_slips_change_nothing(app) -> None:
    client = app.test_client()
    device = SimDevice(app)
    current = p0.month_of(p0.vn_day())
    last = p0.last_closed_month(p0.vn_day())
    device.report(current, {}, p0.vn_day().isoformat())  # the month has not ended
    slip = new_id()  # another area's slip
    device._op("report", "p0_report", slip, {
        "id": slip, "area_code": "12619.99.9", "month": last,
        "closed_on": p0.vn_day().isoformat(), **p0.empty_counts()})
    kept = device.report(last, {"births": 0}, p0.vn_day().isoformat())
    body = device.send(client, device.seal())
    got = [(v["verdict"], v.get("code")) for v in body["receipt"]["verdicts"]]
    assert got == [("rejected", "report_month_open"), ("rejected", "op_out_of_scope"),
                   ("applied", None)]
    assert p0.vietnamese_month(current) in body["receipt"]["verdicts"][0]["message_vi"]
    again = device.report(last, {}, p0.vn_day().isoformat(), id_=kept["id"])  # a used id
    assert again["id"] == kept["id"]
    verdict = device.send(client, device.seal())["receipt"]["verdicts"][0]
    assert (verdict["verdict"], verdict["code"]) == ("rejected", "entity_exists")
    assert db.session.scalar(select(func.count()).select_from(P0Report)) == 1


def test_the_device_learns_on_pull_which_months_it_closed_and_whether_they_match(app):
    client = app.test_client()
    phone, other = SimDevice(app), SimDevice(app)  # two phones of one area
    month = p0.shift(p0.last_closed_month(p0.vn_day()), -2)
    hh, mum = new_id(), new_id()
    phone.upsert("household", hh, household(phone.area))
    phone.upsert("member", mum, member(hh))
    phone.event("birth", birth(hh, mum, f"{month}-10"))
    phone.report(month, {"births": 0}, p0.vn_day().isoformat())  # it missed the birth
    phone.send(client, phone.seal())

    def reports(device: SimDevice) -> dict:
        pages = []
        original = device.apply_page
        device.apply_page = lambda page: (pages.append(page), original(page))
        device.pull(client)
        device.apply_page = original
        return {r["month"]: r for r in pages[-1]["reports"]}

    seen = reports(other)[month]
    assert seen["state"] == LATE  # closed long after its deadline
    assert (seen["incomplete"], seen["differing"]) == (True, ["births"])
    assert seen["held"]["births"] == 1 and sum(seen["held"].values()) == 1
    fixed = phone.report(month, {"births": 1}, p0.vn_day().isoformat())  # re-closed
    phone.send(client, phone.seal())
    seen = reports(other)[month]
    assert (seen["incomplete"], seen["differing"], seen["slip_id"]) == (False, [], fixed["id"])


def _send_at(app, when: dt.datetime, area: str, month: str) -> None:
    ms = int(when.timestamp() * 1000)
    device = SimDevice(app, area=area, commune=area.split(".")[0], now_ms=lambda: ms)
    device.report(month, {}, when.astimezone(VN).date().isoformat())
    ctx = dataclasses.replace(ingest_context(app), now_ms=lambda: ms,
                              clock=HybridClock(lambda: ms))
    verdicts = ingest_batch(db.session, device.seal(), ctx)["receipt"]["verdicts"]
    assert [v["verdict"] for v in verdicts] == ["applied"]


def test_each_area_is_judged_by_the_deadline(app, monkeypatch) -> None:
    areas = ["12619.01.1", "12619.01.2", "12619.01.3", "12619.01.4"]
    _send_at(app, dt.datetime(2025, 12, 5, 23, 59, tzinfo=VN), areas[0], "2025-11")
    _send_at(app, dt.datetime(2025, 12, 6, 0, 1, tzinfo=VN), areas[1], "2025-11")
    _send_at(app, dt.datetime(2025, 12, 9, 9, tzinfo=VN), areas[2], "2025-11")

    def states(now: dt.datetime) -> list[str]:
        found = area_months(db.session, areas, ["2025-11"], now)
        return [found[(a, "2025-11")].state for a in areas]

    after = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert states(after) == [ON_TIME, LATE, LATE, MISSING]
    assert states(dt.datetime(2025, 12, 2, tzinfo=VN))[3] == DUE  # not due yet
    monkeypatch.setenv("A0SYNC_REPORT_DEADLINE_DAY", "10")  # a province that allows 10 days
    assert states(after) == [ON_TIME, ON_TIME, ON_TIME, MISSING]
    found = area_months(db.session, areas, ["2025-11"], after)[(areas[0], "2025-11")]
    assert found.reported and not found.incomplete and found.slips == 1


def test_sync_status_shows_each_areas_slip_for_the_last_closed_month(app) -> None:
    world = build_world(app)
    client = app.test_client()
    month = p0.last_closed_month(p0.vn_day())
    device = world.devices["C"]
    nil = device.report(month, {}, p0.vn_day().isoformat())  # a nil report, matching
    mismatch = world.devices["C2"]  # (its operations 2–3 never arrived: sent alone)
    wrong = mismatch.report(month, {"deaths": 2}, p0.vn_day().isoformat())
    for d, op in ((device, nil), (mismatch, wrong)):
        assert d.send(client, d.seal([op]))["receipt"]["verdicts"][-1]["verdict"] == "applied"
    on_time = dt.datetime.now(dt.UTC) < p0.deadline_utc(month)
    browser = Browser(app)
    browser.login("canboxa")
    html = browser.get("/dashboard/").get_data(as_text=True)
    shown = p0.vietnamese_month(month)
    assert f"Phiếu P0 tháng {shown}" in html
    body = html.split('id="sync-status"')[1].split("</tbody>")[0]
    rows = {name: row for row in body.split("<tr")[2:]
            for name in world.names.values() if name in row}
    word = "Đã nộp" if on_time else "Nộp muộn"
    assert word in rows[world.names["C"]] and "Phiếu chưa khớp" not in rows[world.names["C"]]
    assert "Phiếu chưa khớp" in rows[world.names["C2"]] and "Chết (2/0)" in rows[
        world.names["C2"]]
    # the commune's totals come from its roll-up cell: two of its areas reported
    summary = html.split('id="slip-summary"')[1].split("</p>")[0]
    assert "2/" in summary and "1 phiếu chưa khớp" in summary
    assert AREAS["C"] in html
    # a commune no phone has synced from has no roll-up cell: words, not "0/0"
    admin = Browser(app)
    admin.login("quantri")
    empty = admin.get("/dashboard/?commune=00006").get_data(as_text=True)
    summary = empty.split('id="slip-summary"')[1].split("</p>")[0]
    assert "0/0" not in summary and "chưa có số liệu tổng hợp" in summary


def test_a_slip_id_is_a_uuid_and_counts_are_whole_numbers(app) -> None:
    device = SimDevice(app)
    month = p0.last_closed_month(p0.vn_day())
    op = device.report(month, {"births": -1}, p0.vn_day().isoformat())
    assert uuid.UUID(op["id"])
    verdict = device.send(app.test_client(), device.seal())["receipt"]["verdicts"][0]
    assert (verdict["verdict"], verdict["code"]) == ("rejected", "record_invalid")
    assert verdict["errors"][0]["code"] == "field_range"


def test_an_area_is_expected_from_the_month_it_was_added(app) -> None:
    """A new area owes no slip for the months before it existed: the sync status page
    and the roll-ups follow one rule (an older area holding no data owes every one)."""
    from server.orgunits import local
    from server.rollups.jobs import full_recompute
    from server.security.scope import NATIONAL, Scope

    import_provinces(db.session, TWO_LEVEL, ["20"])
    nation = Scope("cli", NATIONAL, person_level=True)
    village = local.add(db.session, nation, "06001", "Thôn Nà Pàn", by="cli").code
    new = local.add(db.session, nation, village, "Địa bàn mới", by="cli").code
    older = local.add(db.session, nation, village, "Địa bàn cũ", by="cli")
    older.created_on, old = None, older.code  # added before the day was kept
    db.session.commit()
    this = p0.vn_day().isoformat()[:7]
    last = p0.shift(this, -1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=70)  # both deadlines gone by
    found = area_months(db.session, [new, old], [last, this], later)
    assert [found[(a, m)].state for a in (new, old) for m in (last, this)] == [
        BEFORE, MISSING, MISSING, MISSING]
    full_recompute(db.session, months=[last, this])
    expected = {(c.unit_code, c.month): c.values.get("areas_expected", 0)
                for c in db.session.scalars(select(RollupCell).where(
                    RollupCell.unit_code.in_([new, old])))}
    assert expected == {(new, last): 0, (new, this): 1, (old, last): 1, (old, this): 1}

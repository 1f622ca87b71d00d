"""After ``a0sync demo --no-serve`` every dashboard page has something true to show for
the demo commune: devices that synced over a season, conflicts and duplicates waiting
for review, completeness below 100 % with a late area, a batch carried in as a file,
a refused operation, the former district, the station's stock, accounts printed once."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict

from sqlalchemy import func, select

from a0core import p0
from server.extensions import db
from server.forms import formset
from server.logistics.report import monthly_report
from server.models.duplicates import DuplicateCandidate
from server.models.logistics import StockFlag, StockMovement
from server.models.orgunits import LEVEL_AREA, OrgUnit
from server.models.people import Device
from server.models.register import Distribution
from server.models.rollups import RollupCell
from server.models.sync import Conflict, SyncBatch, SyncOp
from server.orgunits.former import by_former_district
from server.orgunits.queries import current_tree
from server.reporting import deadline_day
from server.security.cli import cli_scope
from server.web.queries.sync_status import overdue_month
from tests.conftest import SHARED_DATA, THREE_LEVEL
from tests.support.pages import DEMO_COMMUNE, demo_values, pages
from tests.support.web import Browser

MAIN = re.compile(r"<main[^>]*>(.*)</main>", re.S)


def test_the_demo_has_a_season_of_real_traffic(demo_built, demo_app) -> None:
    accounts = demo_built["accounts"]
    assert set(accounts) == {"demo", "demo.admin"}  # a commune officer and an administrator
    assert all(len(p) >= 12 for p in accounts.values())
    session = db.session
    batches = session.scalars(select(SyncBatch)).all()
    assert len({b.device_id for b in batches}) >= 4  # several phones synced
    months = {p0.month_of(b.received_at.date()) for b in batches}
    assert len(months) >= 3  # over months, not in one afternoon
    assert [b.carrier for b in batches].count("file") == 1  # one carried in by hand
    assert session.scalar(select(func.count()).select_from(Conflict).where(
        Conflict.status == "open")) >= 3
    assert session.scalar(select(func.count()).select_from(DuplicateCandidate).where(
        DuplicateCandidate.status == "open")) >= 2
    assert session.scalar(select(func.count()).select_from(SyncOp).where(
        SyncOp.status == "rejected")) >= 1
    assert session.scalar(select(func.count()).select_from(Device)) >= 5
    # one area late: completeness of the month past its deadline is below 100 %
    overdue = overdue_month(p0.vn_day(), deadline_day())
    cell = session.scalar(select(RollupCell.values).where(
        RollupCell.unit_code == DEMO_COMMUNE, RollupCell.month == overdue))
    assert 0 < cell["completeness"] < 100
    assert cell["areas_reported"] < cell["areas_expected"]


def test_every_page_shows_the_demo_commune(demo_built, demo_app) -> None:
    accounts = demo_built["accounts"]
    officer, admin = Browser(demo_app), Browser(demo_app)
    assert officer.login("demo", accounts["demo"]).status_code == 302
    assert admin.login("demo.admin", accounts["demo.admin"]).status_code == 302
    values = demo_values()
    shown = {}
    for page in pages(demo_app, values):
        response = officer.get(page.path, follow_redirects=True)
        if response.status_code == 403:  # a page for another role: the administrator
            response = admin.get(page.path, follow_redirects=True)
        assert response.status_code == 200, (page, response.status_code)
        html = response.get_data(as_text=True)
        main = MAIN.search(html)
        assert main and len(re.sub(r"<[^>]+>", "", main.group(1)).strip()) > 40, page
        shown[page.endpoint] = html
    assert {"dashboard.sync_status", "dashboard.conflicts", "dashboard.duplicates",
            "dashboard.batch", "dashboard.device", "dashboard.rollup_unit"} <= set(shown)

    status = shown["dashboard.sync_status"]
    assert status.count('href="/dashboard/devices/') >= 5  # phones with their sync
    assert 'class="tag bad">Chưa nộp' in status or "Chưa nộp" in status  # the late area
    # the menu's cues: open conflicts, pairs, overdue slips
    counts = re.findall(r'<span class="count" title="([^"]+)">([\d.]+)<', status)
    assert {title for title, n in counts if int(n.replace(".", "")) > 0} >= {
        "xung đột chờ xem xét", "cặp chờ xem xét", "địa bàn chưa nộp phiếu P0 quá hạn"}
    assert shown["dashboard.conflicts"].count('class="conflict"') >= 3
    assert shown["dashboard.duplicates"].count('id="pair-') >= 2
    # the carried batch: its device says it came as a file; its receipt says what each
    # operation was, in words
    assert ">tệp<" in shown["dashboard.device"]
    receipt = shown["dashboard.batch"]
    described = re.findall(r'<td class="what"[^>]*>([^<]+)</td>', receipt)
    assert described and all(":" in d or d for d in described)
    assert any(d.startswith(("Thành viên hộ gia đình", "Sinh", "Chết", "Chuyển", "Cấp",
                             "Thay đổi", "Kết hôn", "Nộp phiếu", "Phụ nữ", "Khám",
                             "Sàng lọc", "Mang thai", "Bắt đầu", "Ngừng", "Đổi"))
               for d in described), described
    # a refused operation on its device's page, in words with the field's label
    refused = db.session.scalar(select(SyncOp).where(SyncOp.status == "rejected"))
    page = officer.get(f"/dashboard/devices/{refused.device_id}").get_data(as_text=True)
    assert "Cấp phương tiện tránh thai" in page and "field_" not in page.split("<code>")[0]
    # area codes, for `a0sync enroll --area`
    units = admin.get(f"/dashboard/units?commune={DEMO_COMMUNE}").get_data(as_text=True)
    assert "12619.01.1" in units


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def test_the_demo_commune_under_its_former_district(demo_app) -> None:
    """The official conversion table says which old communes Diên Hà was made of and
    their district; the page by former district sums the commune's areas under it."""
    table = json.loads((SHARED_DATA / "admin_units" / "conversion_2025_old_to_new.json")
                       .read_text(encoding="utf-8"))["old_to_new"]
    old = {code: link for code, link in table.items()
           if any(new == DEMO_COMMUNE for new, _ in link["new"])}
    districts = {link["district"] for link in old.values()}
    assert len(old) >= 2 and len(districts) == 1
    listed = json.loads(THREE_LEVEL.read_text(encoding="utf-8"))["data"]
    name = next(d["name"] for p in listed for d in p["level2s"] if d["level2_id"] in districts)

    session = db.session
    month = p0.last_closed_month(p0.vn_day())
    groups, total = by_former_district(session, cli_scope(), "33", month)
    commune = session.scalar(select(RollupCell.values).where(
        RollupCell.tree == current_tree(session), RollupCell.unit_code == DEMO_COMMUNE,
        RollupCell.month == month))
    areas = session.scalar(select(func.count()).select_from(OrgUnit).where(
        OrgUnit.tree == current_tree(session), OrgUnit.level == LEVEL_AREA,
        OrgUnit.commune_code == DEMO_COMMUNE))
    assert [(g.code, g.name, g.communes, g.areas) for g in groups] == [
        (districts.pop(), name, {DEMO_COMMUNE}, areas)]
    for indicator in ("households", "population", "women_married_15_49"):
        assert groups[0].values.get(indicator) == commune[indicator] > 0, indicator
    assert groups[0].values.get("distributed.condom") == commune.get("distributed.condom")
    assert total["population"] == commune["population"]


def test_conflicts_carry_the_day_their_batch_arrived(demo_app) -> None:
    session = db.session
    arrived = {_naive(b.received_at) for b in session.scalars(select(SyncBatch))}
    found = sorted(_naive(c.created_at) for c in session.scalars(select(Conflict)))
    assert len(found) >= 3 and set(found) <= arrived  # not the moment the demo was loaded
    assert found[-1] - found[0] >= dt.timedelta(days=50)  # over the season
    assert len({p0.month_of(moment.date()) for moment in found}) >= 2


def test_the_station_stock_covers_what_collaborators_handed_out(demo_app) -> None:
    """Receipts from the district, issues confirmed by the phones: no balance below zero,
    what each collaborator received covers what they handed out, and the stock report
    counts the same hand-outs as the register."""
    session = db.session
    moves = session.scalars(select(StockMovement).where(
        StockMovement.commune_code == DEMO_COMMUNE, ~StockMovement.voided)).all()
    forms = {m.form for m in moves}
    assert {"stock_receipt", "stock_transfer", "stock_confirm"} <= forms
    assert session.scalar(select(func.count()).select_from(StockFlag)) == 0
    holders = {m.area_code for m in moves if m.area_code}
    assert len(holders) >= 4
    start = min(m.day for m in moves)
    received: dict[tuple[str, str], int] = defaultdict(int)
    for m in moves:
        if m.form == "stock_confirm":
            received[(m.area_code, m.method)] += m.quantity
    handed: dict[tuple[str, str], int] = defaultdict(int)
    by_month: dict[tuple[str, str], int] = defaultdict(int)
    for d in session.scalars(select(Distribution).where(
            Distribution.area_code.in_(holders), Distribution.distributed_on >= start,
            ~Distribution.voided)):
        handed[(d.area_code, d.method)] += d.quantity
        by_month[(d.distributed_on[:7], d.method)] += d.quantity
    assert handed and all(received[key] >= n for key, n in handed.items())
    # the phones hand out on the current form, the programme's supply: free
    sent = set(session.execute(select(Distribution.form_version, Distribution.source).where(
        Distribution.device_id != "server")).all())
    assert sent == {(formset().registry.latest_version("distribution"), "free")}

    months = sorted({m.day[:7] for m in moves})
    shown = 0
    for month in months:
        rows = {(r.kind, r.method): r.values for r in monthly_report(session, DEMO_COMMUNE,
                                                                      month)}
        cell = session.scalar(select(RollupCell.values).where(
            RollupCell.unit_code == DEMO_COMMUNE, RollupCell.month == month))
        for (kind, method), values in rows.items():
            assert values["closing"] >= 0
            if kind == "ctv":
                assert values["distributed"] == by_month[(month, method)] \
                    == values["distributed.free"]
                assert values["distributed"] <= cell.get(f"distributed.{method}", 0)  # row 19
                assert values["received"] == rows[("station", method)]["issued"]
                shown += values["distributed"]
    assert shown > 0

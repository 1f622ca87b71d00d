"""After ``a0sync demo --no-serve`` every dashboard page has something true to show for
the demo commune: devices that synced over a season, conflicts and duplicates waiting
for review, completeness below 100 % with a late area, a batch carried in as a file,
a refused operation, accounts printed once."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from a0core import p0
from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.people import Device
from server.models.rollups import RollupCell
from server.models.sync import Conflict, SyncBatch, SyncOp
from server.reporting import deadline_day
from server.web.queries.sync_status import overdue_month
from tests.support.pages import DEMO_COMMUNE, demo_values, pages
from tests.support.web import Browser

MAIN = re.compile(r"<main>(.*)</main>", re.S)


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
    described = re.findall(r'<td class="what">([^<]+)</td>', receipt)
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

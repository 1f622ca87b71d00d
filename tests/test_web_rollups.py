"""Roll-up pages, the monthly report and exports over the web session or an API token."""

from __future__ import annotations

import csv
import io
import re

from flask import Flask
from sqlalchemy import select

from a0core import p0
from server.extensions import db
from server.models.rollups import RollupCell
from server.security.api_tokens import create_token
from server.web.charts import CHAR, SIZE, WIDTH, grouped_bars, horizontal_bars, line
from tests.support.rollups_web import rollup_world
from tests.support.web import Browser, build_world


def cell(unit: str, month: str) -> dict:
    return db.session.scalars(select(RollupCell.values).where(
        RollupCell.unit_code == unit, RollupCell.month == month)).one()


def busiest_month(unit: str) -> str:
    """A month of 2025 with births in ``unit`` (the synthetic register has some)."""
    rows = db.session.execute(select(RollupCell.month, RollupCell.values).where(
        RollupCell.unit_code == unit, RollupCell.month.like("2025-%"))).all()
    return max(rows, key=lambda r: (r[1].get("births", 0), r[0]))[0]


def row_values(html: str, row_id: str) -> list[str]:
    found = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, row_id
    return re.findall(r'<td class="num"[^>]*>([^<]*)</td>', found.group(1))


def test_district_drills_down_from_its_district_to_a_commune(app: Flask) -> None:
    rollup_world(app)
    month = busiest_month("00004")
    district, commune = cell("001", month), cell("00004", month)
    assert district["population"] >= commune["population"] > 0 and commune["births"] > 0
    browser = Browser(app)
    browser.login("huyen")
    home = browser.get(f"/dashboard/rollups?month={month}")
    assert home.status_code == 302
    assert home.location.endswith(f"/dashboard/rollups/001?month={month}")
    page = browser.get(f"/dashboard/rollups/001?month={month}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script" not in html
    # the selected month is the last column of the indicator table
    assert row_values(html, "ind-population")[-1] == str(district["population"])
    assert row_values(html, "ind-births")[-1] == str(district.get("births", 0))
    # drill-down: both communes of the district, linked, with their own numbers
    assert f'href="/dashboard/rollups/00004?month={month}"' in html
    assert f'href="/dashboard/rollups/00001?month={month}"' in html
    assert row_values(html, "unit-00004")[0] == str(commune["population"])
    assert "/dashboard/rollups/002" not in html  # another district is not below
    for chart in ("births", "srb", "methods", "completeness"):
        assert re.search(rf'<figure id="chart-{chart}"><svg ', html), chart
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title>',
                      html.split('id="chart-births"')[1].split("</figure>")[0])
    # a bar's tooltip names its month in full (04/2025), its axis briefly (T4/25)
    assert f"{month[5:]}/{month[:4]} Trai: {district.get('births.male', 0)}" in bars
    for fmt, what in (("xlsx", "Bảng tính (Excel)"), ("csv", "CSV cho phần mềm"),
                      ("json", "JSON cho phần mềm")):  # which file is for what, in words
        assert (f'href="/api/v1/exports/rollups.{fmt}?unit=001&amp;month={month}">{what}</a>'
                in html)
    # the commune page from the link, and the export of the district's own cell
    sub = browser.get(f"/dashboard/rollups/00004?month={month}").get_data(as_text=True)
    assert row_values(sub, "ind-births")[-1] == str(commune["births"])
    assert 'id="up" href="/dashboard/rollups/001' in sub
    exported = browser.get(f"/api/v1/exports/rollups.csv?unit=001&month={month}")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    values = {r["indicator"]: r["value"] for r in rows}
    assert {r["unit_code"] for r in rows} == {"001"}
    assert float(values["population"]) == district["population"]
    # a month selector offering the stored months
    assert f'<option value="{month}" selected>' in html


def test_commune_report_and_refusals(app: Flask) -> None:
    rollup_world(app)
    month = busiest_month("00004")
    commune = cell("00004", month)
    browser = Browser(app)
    browser.login("huyen")
    report = browser.get(f"/dashboard/rollups/00004/report?month={month}")
    html = report.get_data(as_text=True)
    assert report.status_code == 200
    assert row_values(html, "r-births")[0] == str(commune["births"])
    assert row_values(html, "r-population")[0] == str(commune["population"])
    assert "@media print" not in html and 'class="filter noprint"' in html
    # commune staff of 00001: their commune only; the rest looks absent
    own = Browser(app)
    own.login("canboxa")
    assert own.get("/dashboard/rollups").location.endswith("/dashboard/rollups/00001")
    assert own.get(f"/dashboard/rollups/00001/report?month={month}").status_code == 200
    for code in ("00004", "001", "01", "VN", "nope"):
        assert own.get(f"/dashboard/rollups/{code}").status_code == 404, code
        assert own.get(f"/dashboard/rollups/{code}/report").status_code == 404, code
    assert Browser(app).get("/dashboard/rollups/00001").status_code == 302  # to the login
    # a commune no phone has synced from yet: says so and what to do, not 12 months of 0
    empty = browser.get("/dashboard/rollups/00006").get_data(as_text=True)
    assert 'id="no-data"' in empty and 'id="next-steps"' in empty
    assert 'id="indicators"' not in empty and "chart-births" not in empty
    assert 'id="no-data"' not in browser.get("/dashboard/rollups/00004").get_data(as_text=True)


def test_after_the_first_sync_the_month_ended_points_to_the_running_one(app: Flask) -> None:
    """The first data lands in the running month; the page opens on the month ended
    (a running month is partial) and says where the figures are."""
    build_world(app)
    own = Browser(app)
    own.login("canboxa")
    running = p0.vn_day().isoformat()[:7]
    page = own.get("/dashboard/rollups/00001").get_data(as_text=True)
    ended = p0.vietnamese_month(p0.last_closed_month(p0.vn_day()))
    assert f'<option value="{p0.last_closed_month(p0.vn_day())}" selected>{ended}' in page
    note = page.split('id="running-month"')[1].split("</p>")[0]
    assert f"Tháng {ended} chưa có số liệu" in note
    assert f'href="/dashboard/rollups/00001?month={running}"' in note
    assert f"{p0.vietnamese_month(running)}, tháng chưa kết thúc" in note
    assert f"{p0.vietnamese_month(running)} (chưa kết thúc)</option>" in page
    now = own.get(f"/dashboard/rollups/00001?month={running}").get_data(as_text=True)
    assert "Kỳ báo cáo chưa kết thúc" in now.split('id="running-month"')[1]


def test_exports_need_a_session_or_a_token(app: Flask) -> None:
    rollup_world(app, households=8)
    anonymous = app.test_client().get("/api/v1/exports/rollups.csv")
    assert anonymous.status_code == 401
    assert anonymous.get_json()["error"]["code"] == "login_required"
    bad = app.test_client().get("/api/v1/exports/rollups.csv",
                                headers={"Authorization": "Bearer a0t_nothing"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "api_token_invalid"
    browser = Browser(app)
    browser.login("huyen")
    refused = browser.get("/api/v1/exports/persons.csv")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "person_level_forbidden"
    secret, _ = create_token(db.session, "tinh", "kho dữ liệu", created_by="test")
    db.session.commit()
    by_token = app.test_client().get("/api/v1/exports/rollups.json?unit=01&month=2025-06",
                                     headers={"Authorization": f"Bearer {secret}"})
    assert by_token.status_code == 200
    body = by_token.get_json()
    rows = [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]
    assert rows and {r["unit_code"] for r in rows} == {"01"}
    assert {r["indicator"]: r["value"] for r in rows}["population"] == \
        cell("01", "2025-06")["population"]
    # commune staff: their persons, not another commune's
    own = Browser(app)
    own.login("canboxa")
    persons = own.get("/api/v1/exports/persons.csv")
    assert persons.status_code == 200
    communes = {r["commune_code"] for r in csv.DictReader(io.StringIO(
        persons.get_data(as_text=True)))}
    assert communes == {"00001"}
    elsewhere = own.get("/api/v1/exports/rollups.csv?unit=00004").get_data(as_text=True)
    assert elsewhere.strip().count("\n") == 0  # the header only


def test_charts_escape_and_scale() -> None:
    svg = grouped_bars("a<b", ["2025-01", "2025-02"], [("Trai", [2, 4]), ("Gái", [1, 0])])
    assert "a&lt;b" in svg and svg.count('class="bar"') == 4
    heights = [float(h) for h in re.findall(r'class="bar"[^>]*height="([\d.]+)"', svg)]
    assert heights[2] == 2 * heights[0] and heights[3] == 0
    assert "style=" not in svg and "<script" not in svg
    gap = line("srb", ["a", "b", "c"], [100.0, None, 110.0])
    assert gap.count("<circle") == 2 and "<polyline" not in gap
    assert gap.count('class="not-computable"') == 1  # nothing to divide by: "x", no point
    bars = horizontal_bars("m", [("<x>", 50), ("y", 100), ("z", None), ("w", 0)],
                           maximum=100, suffix="%")
    assert "&lt;x&gt;" in bars and "50,0%" in bars and "100,0%" in bars and ">50%<" not in bars
    # a unit with no area expected: no bar and "x"; a real 0 a bar of 0 and "0,0%"
    assert bars.count('class="bar"') == 3 and "z: x</title>x</text>" in bars
    assert "w: 0,0%" in bars


def test_drill_down_writes_zero_and_rates_with_their_decimal(app: Flask) -> None:
    """A sub-unit with no births that month shows 0 (collected), not "—" (which the
    report keeps for what is not collected); every rate has one decimal (100,0)."""
    rollup_world(app)
    months = db.session.execute(select(RollupCell.month, RollupCell.values).where(
        RollupCell.unit_code == "00001", RollupCell.month.like("2025-%"))).all()
    month = next(m for m, v in sorted(months) if not v.get("births") and v.get("population"))
    district = cell("001", month)
    browser = Browser(app)
    browser.login("huyen")
    html = browser.get(f"/dashboard/rollups/001?month={month}").get_data(as_text=True)
    summary = re.findall(r'<th[^>]*>([^<]*)</th>', html.split('id="below"')[1].split("</thead>")[0])
    births = summary.index("Số sinh") - 1  # the first heading is the unit's name
    assert row_values(html, "unit-00001")[births] == "0"
    # no girls born: no sex ratio at birth, "x" (explained under the table), not 0,0 nor
    # "—"; the same on the commune's page, its chart and its report
    srb = summary.index("Tỷ số giới tính khi sinh (trai/100 gái)") - 1
    assert row_values(html, "unit-00001")[srb] == "x"
    legend = "x: không tính được vì không có số để chia"
    assert legend in html.split('id="rate-legend"')[1].split("</p>")[0]
    commune = browser.get(f"/dashboard/rollups/00001?month={month}").get_data(as_text=True)
    assert row_values(commune, "ind-srb")[-1] == "x"
    chart = commune.split('id="chart-srb"')[1].split("</figure>")[0]
    assert f"{month[5:]}/{month[:4]}: x</title>" in chart
    report = browser.get(f"/dashboard/rollups/00001/report?month={month}").get_data(
        as_text=True)
    assert row_values(report, "r-srb") == ["x"] and row_values(report, "r-births") == ["0"]
    assert legend in report.split('id="report-notes"')[1]
    for name in ("completeness", "timeliness", "cpr", "mcpr"):
        if name in district:
            value = district[name]
            shown = row_values(html, f"ind-{name}")[-1]
            assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d", shown), (name, shown)
            assert shown == f"{value:.1f}".replace(".", ","), name


def test_chart_names_are_whole_and_wrapped_between_words() -> None:
    long = "Dụng cụ tử cung (vòng tránh thai) " * 3
    bars = horizontal_bars("m", [(long.strip(), 64), ("Bao cao su", 41)])
    lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", bars)
    assert " ".join(lines[:-1]) == long.strip() and lines[-1] == "Bao cao su"
    assert len(lines) > 2  # the long name wrapped, every line short enough for the width
    assert all(len(text) * CHAR <= WIDTH for text in lines)
    assert not re.search(r'font-size="(\d+)"', bars.replace(f'font-size="{SIZE}"', ""))
    # twelve months: every other labelled, the last (the month asked for) always
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    axis = re.findall(r'text-anchor="middle"[^>]*>([^<]*)</text>', grouped_bars(
        "b", months, [("Trai", [1] * 12)]))
    assert axis == ["T2/25", "T4/25", "T6/25", "T8/25", "T10/25", "T12/25"]

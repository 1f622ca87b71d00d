"""The report forms: the commune's, the district's with a column per commune, for a
month or a quarter; printable (a page per section) and as XLSX with the same rows;
opening on the last month that has ended.

The expected numbers are summed here from the stored monthly cells (flows over the
quarter's months, stocks of its last month), not through the report code.
"""

from __future__ import annotations

import io
import re

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from a0core import p0
from server.extensions import db
from server.models.rollups import RollupCell
from server.reporting.forms import parse_period, period_values, sections, shown
from server.reporting.workbook import write_report
from server.rollups.indicators import with_derived
from tests.support.rollups_web import rollup_world
from tests.support.web import Browser

STATIC = "server/web/static/a0.css"


def _cells(unit: str) -> dict[str, dict]:
    return {m: v for m, v in db.session.execute(select(RollupCell.month, RollupCell.values)
                                                .where(RollupCell.unit_code == unit))}


def _row(html: str, row_id: str) -> list[str]:
    found = re.search(rf'<tr id="r-{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, row_id
    return re.findall(r'<td class="num">([^<]*)</td>', found.group(1))


def _vn(number: float) -> str:
    """How the page writes a number: 5.083 and 76,9."""
    if isinstance(number, float) and not number.is_integer():
        whole, frac = f"{number:.1f}".split(".")
        return f"{int(whole):,}".replace(",", ".") + "," + frac
    return f"{int(number):,}".replace(",", ".")


def _rate(number: float) -> str:
    """How the page writes a rate: always one decimal (68,0; 76,9)."""
    whole, frac = f"{number:.1f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + frac


def test_district_report_for_a_quarter_and_its_workbook(app: Flask) -> None:
    rollup_world(app)
    district, communes = _cells("001"), {c: _cells(c) for c in ("00001", "00004")}
    quarter = ("2025-04", "2025-05", "2025-06")
    browser = Browser(app)
    browser.login("huyen")
    page = browser.get("/dashboard/rollups/001/report?period=2025-Q2")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script" not in html
    assert "Quý 2 năm 2025" in html and "01/04/2025 – 30/06/2025" in html
    assert "Biểu 01-DSH" in html and "15 ngày" in html
    # a column for the district, then one per commune below it, by code (eight a page)
    head = html.split('id="report-I"')[1].split("</thead>")[0]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head)[3] == "Toàn đơn vị"
    flows = {"births": sum(district.get(m, {}).get("births", 0) for m in quarter),
             "deaths": sum(district.get(m, {}).get("deaths", 0) for m in quarter)}
    assert flows["births"] > 0
    assert _row(html, "births")[0] == _vn(flows["births"])
    assert _row(html, "deaths")[0] == _vn(flows["deaths"])
    assert _row(html, "population")[0] == _vn(district["2025-06"]["population"])  # at its end
    assert _row(html, "households")[0] == _vn(district["2025-06"]["households"])
    births = [sum(communes[c].get(m, {}).get("births", 0) for m in quarter)
              for c in ("00001", "00004")]
    assert _row(html, "births")[1:3] == [_vn(b) for b in births]  # 00001, 00004 first
    assert sum(births) == flows["births"]
    boys = sum(district.get(m, {}).get("births.male", 0) for m in quarter)
    girls = sum(district.get(m, {}).get("births.female", 0) for m in quarter)
    if girls:
        assert _row(html, "srb")[0] == _rate(round(100 * boys / girls, 1))  # not a sum of ratios
    # rows the project does not collect keep the form's shape, empty; assumed rows marked
    assert _row(html, "6-1")[0] == "—"
    assert '<span class="assumed"' in html.split('id="r-moves_out"')[1].split("</tr>")[0]
    assert '<span class="assumed"' not in html.split('id="r-births"')[1].split("</tr>")[0]
    assert html.count('<section class="form-page') >= 6  # one printed page per section

    book = browser.get("/dashboard/rollups/001/report.xlsx?period=2025-Q2")
    assert book.status_code == 200
    assert "attachment" in book.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(book.get_data())).worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(values_only=True) if r[0]}
    assert rows["4"][3] == flows["births"] and rows["4"][4:6] == tuple(births)
    assert rows["2"][3] == district["2025-06"]["population"]
    assert rows["10"][-1] == "*" and rows["4"][-1] is None  # an empty cell
    assert not any("Chưa có số liệu" in str(r) for r in rows.values())
    # rates with one decimal, as on the page; counts as whole numbers
    formats = {r[0].value: r[3].number_format for r in sheet.iter_rows() if r[0].value}
    assert formats["31"] == formats["4.6"] == "0.0" and formats["4"] == "General"
    labels_html = re.findall(r'<tr id="r-[^"]+"[^>]*><td>([^<]*)</td>', html)
    numbers = [str(r[0]) for r in sheet.iter_rows(values_only=True) if r[0] and r[1] and r[2]]
    assert numbers[0] == "STT" and numbers[1:] == list(dict.fromkeys(labels_html))


def test_commune_report_opens_on_the_last_closed_month(app: Flask) -> None:
    rollup_world(app, households=8)
    browser = Browser(app)
    browser.login("canboxa")
    html = browser.get("/dashboard/rollups/00001/report").get_data(as_text=True)
    last = p0.last_closed_month(p0.vn_day())
    assert f'<option value="{last}" selected>' in html
    assert f"Tháng {p0.vietnamese_month(last)}" in html
    assert "Phụ lục II" in html and "05 ngày làm việc" in html
    assert html.count("<th>Số lượng</th>") >= 6  # the commune's form: one column
    # the notes speak to the reader: no pointer to a developer's file
    notes = html.split('id="report-notes"')[1].split("</section>")[0]
    assert "sổ A0 điện tử" in notes and not re.search(r"docs/|\.md\b", html)
    assert 'id="period-running"' not in html  # a closed month is a whole period
    now = p0.vn_day().isoformat()[:7]  # the month still running says it is counted to today
    running = browser.get(f"/dashboard/rollups/00001/report?period={now}").get_data(
        as_text=True)
    today = p0.vn_day().strftime("%d/%m/%Y")
    assert f"số liệu tính đến ngày {today}" in running.split('id="period-running"')[1]
    # a month with no roll-up cell: the workbook says so above its zeros, as the page does
    assert 'id="no-data"' in html
    empty = browser.get("/dashboard/rollups/00001/report.xlsx")
    top = [r[0] for r in load_workbook(io.BytesIO(empty.get_data())).worksheets[0].iter_rows(
        max_row=6, values_only=True)]
    assert "Chưa có số liệu tổng hợp cho kỳ này." in top
    bad = browser.get("/dashboard/rollups/00001/report?period=2025-13")
    assert bad.status_code == 400 and "2025-13" in bad.get_data(as_text=True)
    with open(STATIC, encoding="utf-8") as handle:
        css = handle.read()
    assert "@page wide{size:A4 landscape}" in css and "break-after:page" in css


def test_handed_out_sub_rows_add_up_when_no_source_was_recorded() -> None:
    """Row 19: every hand-out appears under one source, those without a recorded source
    (form version 1) under "Không rõ nguồn", so each method's sub-rows add up to it."""
    cell = {"distributed.condom": 30, "distributed.free.condom": 10,
            "distributed.unstated.condom": 20, "distributed.pill": 4,
            "distributed.unstated.pill": 4}
    rows = {row.number: row for section in sections() for row in section.rows}
    methods = [row for number, row in rows.items() if re.fullmatch(r"19\.\d+", number)]
    assert methods and rows["19"].value(cell) == 34
    for method in methods:
        parts = [row for number, row in rows.items() if number.startswith(method.number + ".")]
        assert sum(row.value(cell) for row in parts) == method.value(cell), method.key
    unstated = [row for row in rows.values() if (row.key or "").startswith("distributed.unstated.")]
    assert len(unstated) == len(methods)
    assert all(row.vi.endswith("không rõ nguồn") for row in unstated)
    table = dict(shown(sections(), ["x"], {"x": cell})[4][1])
    condom = next(row for row in unstated if row.key == "distributed.unstated.condom")
    assert table[condom] == ["20"]


def _shown_rows(cells: dict[str, dict]) -> dict[str, list[str]]:
    """The report's cells as read, by row number, one per unit of ``cells``."""
    table = shown(sections(), list(cells), cells)
    return {row.number: texts for _, rows in table for row, texts in rows}


def test_a_rate_with_nothing_to_divide_by_reads_x_and_a_real_zero_0_0() -> None:
    """0 users among 40 married women is a prevalence of 0,0; no married women at all
    is no prevalence: "x", not "0,0" (nor "—", kept for rows not collected). Counts
    stay 0. Over a quarter the rates come from the summed counts, so a month with
    nothing to divide by does not make the quarter's rate "x" (nor pull it to 0)."""
    quarter = parse_period("2026-Q4")
    cells = {
        "zero": with_derived({"women_married_15_49": 40, "births.male": 3,
                              "births.female": 2, "areas_expected": 2}),
        "none": with_derived({"population": 12}),
        # Oct: boys, no girls, no area expected; Dec: girls, 2 areas, 1 reported;
        # women married in Oct and Nov, none at the quarter's end (a stock)
        "quarter": period_values({
            "2026-10": with_derived({"births.male": 1, "women_married_15_49": 40,
                                     "users": 10}),
            "2026-11": with_derived({"women_married_15_49": 38, "users": 9}),
            "2026-12": with_derived({"births.female": 2, "areas_expected": 2,
                                     "areas_reported": 1, "areas_on_time": 1}),
        }, quarter),
        "october": period_values({"2026-10": with_derived({"births.male": 1})},
                                 parse_period("2026-10")),
    }
    rows = _shown_rows(cells)
    assert [rows[n][0] for n in ("14", "15", "4.6", "31", "32", "12")] == \
        ["0,0", "0,0", "150,0", "0,0", "0,0", "0"]
    assert [rows[n][1] for n in ("14", "15", "4.6", "31", "32", "12", "2")] == \
        ["x", "x", "x", "x", "x", "0", "12"]
    assert [rows[n][2] for n in ("4.6", "31", "32", "14", "15")] == \
        ["50,0", "50,0", "50,0", "x", "x"]
    assert rows["4.6"][3] == "x" and rows["6.1"] == ["—"] * 4  # not collected stays "—"


def test_the_workbook_marks_a_rate_with_nothing_to_divide_by() -> None:
    """In the workbook too: "x" as text (not a 0 a spreadsheet would count as a rate),
    and the notes say what it means; a real 0 stays the number 0."""
    values = {"zero": with_derived({"women_married_15_49": 40}), "none": {}}
    out = io.BytesIO()
    write_report(out, title=["T"], period=parse_period("2026-11"),
                 columns=[("zero", "A"), ("none", "B")], values=values,
                 sections=sections(), notes=["x: không tính được"], lang="vi")
    book = load_workbook(io.BytesIO(out.getvalue()))
    rows = {r[0]: r for r in book.worksheets[0].iter_rows(values_only=True) if r[0]}
    assert rows["14"][3:5] == (0, "x") and rows["31"][3:5] == ("x", "x")
    assert rows["12"][3:5] == (0, 0)  # counts stay numbers
    assert book.worksheets[1]["A1"].value == "x: không tính được"

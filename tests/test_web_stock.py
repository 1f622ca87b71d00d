"""The station page and the monthly logistics report in the dashboard (issue 17): the
station records a receipt and a transfer, the collaborator's phone confirms it, the
page shows the confirmation, the alert and the balances; the report comes as HTML,
CSV and XLSX; who may see and record what, as a matrix."""

from __future__ import annotations

import io
import re

from flask import Flask
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import func, select

from a0core.errors import A0Error
from a0core.schemas import registry
from server.extensions import db
from server.models.logistics import StockMovement
from server.models.orgunits import OrgUnit
from server.rollups.jobs import full_recompute
from tests.support.register import household, new_id
from tests.support.web import AREAS, Browser, build_world

RECEIPT = {"form": "stock_receipt", "method": "condom", "quantity": "300",
           "supplier": "district", "received_on": "2025-03-03", "lot": "K-17",
           "expiry": "2025-05-31"}


def test_station_records_collaborator_confirms_and_report_adds_up(app: Flask) -> None:
    world = build_world(app)
    full_recompute(db.session)
    db.session.commit()
    browser = Browser(app)
    browser.login("canboxa")
    assert browser.post("/dashboard/stock/00001/record", RECEIPT).status_code == 302
    answer = browser.post("/dashboard/stock/00001/record", {
        "form": "stock_transfer", "area_code": AREAS["C"], "method": "condom",
        "quantity": "120", "issued_on": "2025-03-05", "lot": "K-17", "expiry": "2025-05-31"})
    assert answer.status_code == 302
    refused = browser.post("/dashboard/stock/00001/record", {
        "form": "stock_transfer", "area_code": AREAS["other province"], "method": "condom",
        "quantity": "5", "issued_on": "2025-03-05"})
    assert refused.status_code == 400 and "stock_area_unknown" in refused.get_data(as_text=True)

    device, client = world.devices["C"], app.test_client()
    device.pull(client)
    transfer = next(i for i, f in device.replica.facts.items() if f["form"] == "stock_transfer")
    page = browser.get("/dashboard/stock/00001?month=2025-03").get_data(as_text=True)
    assert "Chờ bên nhận xác nhận" in page.split(f'id="tr-{transfer}"')[1].split("</tr>")[0]

    hh = new_id()
    device.upsert("household", hh, household(device.area, "9"))
    device.stock("stock_confirm", {"id": new_id(), "transfer_id": transfer,
                                   "received_quantity": 110, "received_on": "2025-03-06"})
    device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                         "method": "condom", "quantity": 130, "distributed_on": "2025-03-20",
                         "source": "social_marketing", "unit_price": 1500}, version=3)
    device.send(client, device.seal())

    page = browser.get("/dashboard/stock/00001?month=2025-03").get_data(as_text=True)
    row = page.split(f'id="tr-{transfer}"')[1].split("</tr>")[0]
    assert "Nhận khác số giao" in row and "110" in row and "06/03/2025" in row
    alerts = page.split('id="alerts"')[1].split("</ul>")[0]
    assert "stock_negative" in alerts and "stock_confirm_mismatch" in alerts
    # in words; the code only as a small note for support
    assert "tồn bị âm" in alerts and "<code>stock_negative</code>)</small>" in alerts
    ctv = page.split('id="bal-00001-01-1-condom"')[1].split("</tr>")[0]
    assert "-20" in ctv and "Hết hàng" in ctv
    # the collaborator's holding named by the area's name, its code a small note
    area = db.session.scalar(select(OrgUnit.full_name).where(OrgUnit.code == "00001.01.1"))
    assert area and f"CTV {area} <small>00001.01.1</small>" in ctv
    station = page.split('id="bal-station-condom"')[1].split("</tr>")[0]
    assert "<strong>180</strong>" in station
    expiring = page.split('id="near-expiry"')[1].split("</table>")[0]
    assert "K-17" in expiring and "31/05/2025" in expiring

    # the report, counted by hand: the commune, its district and its province
    for user, unit in (("canboxa", "00001"), ("huyen", "001"), ("tinh", "01")):
        reader = Browser(app)
        reader.login(user)
        html = reader.get(f"/dashboard/stock/report/{unit}?month=2025-03").get_data(
            as_text=True)
        assert "giả định" in html, unit
        ctv_row = html.split('id="row-condom-ctv"')[1].split("</tr>")[0]
        cells = re.findall(r'<td class="num">([^<]*)</td>', ctv_row)
        # opening, received, received back, issued, distributed, returned, lost,
        # adjusted, closing, free, social marketing, sold, unstated, value SM
        assert cells[:14] == ["0", "110", "0", "0", "130", "0", "0", "0", "-20", "0", "130",
                              "0", "0", "195.000"]
    csv_text = browser.get("/dashboard/stock/report/00001?month=2025-03&format=csv"
                           ).get_data(as_text=True)
    assert "giả định" in csv_text  # the note travels with the numbers
    assert '"300"' in csv_text and '"180"' in csv_text
    book = load_workbook(io.BytesIO(browser.get(
        "/dashboard/stock/report/00001?month=2025-03&format=xlsx").get_data()))
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    station_row = next(r for r in values if r[1] == "Trạm y tế xã")
    assert station_row[2:11] == [0, 300, 0, 120, 0, 0, 0, 0, 180]

    # months of stock: handed out down to nothing is 0,0; nothing handed out in three
    # months (a method only received) has nothing to divide by: "x", said under the table
    assert browser.post("/dashboard/stock/00001/record",
                        {**RECEIPT, "method": "pill", "lot": "P-1"}).status_code == 302
    page = browser.get("/dashboard/stock/00001?month=2025-03").get_data(as_text=True)

    def months_of_stock(row_id: str) -> str:
        row = page.split(f'id="{row_id}"')[1].split("</tr>")[0]
        return re.findall(r'<td class="n">(?:<strong>)?([^<]*)', row)[8]

    assert months_of_stock("bal-00001-01-1-condom") == "0,0"
    assert months_of_stock("bal-station-condom") == "4,5"  # 180 ÷ (120 issued ÷ 3)
    assert months_of_stock("bal-station-pill") == "x"
    assert "Số tháng dự trữ x: không tính được" in page.split('id="mos-legend"')[1]
    report = browser.get("/dashboard/stock/report/00001?month=2025-03").get_data(as_text=True)
    pill = report.split('id="row-pill-station"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">([^<]*)</td>', pill)[-1] == "x"
    assert 'id="mos-legend"' in report

    # a confirmation or a review refused comes back on the station page, beside its form
    returned = new_id()
    device.stock("stock_return", {"id": returned, "area_code": device.area, "method": "condom",
                                  "quantity": 10, "returned_on": "2025-03-25",
                                  "reason": "excess"})
    device.send(client, device.seal())
    written = db.session.scalar(select(func.count()).select_from(StockMovement))
    refused = browser.post(f"/dashboard/stock/00001/confirm/{returned}?month=2025-03", {
        "received_quantity": "-3", "received_on": "2025-03-26"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    row = html.split(f'id="tr-{returned}"')[1].split("</tr>")[0]
    label = registry().form("stock_confirm").field("received_quantity").label["vi"]
    assert 'role="alert"' in row and f"#tr-{returned}" in row
    assert str(escape(A0Error("field_range", label_vi=label).vi)) in row
    assert 'value="-3"' in row and 'value="2025-03-26"' in row
    assert 'name="month" value="2025-03"' in html
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == written
    flag = int(alerts.split('id="alert-')[1].split('"')[0])
    review = f"/dashboard/stock/flag/{flag}/review?month=2025-03"
    assert browser.post(review, {"commune": "00001", "note": "đã gọi"}).status_code == 302
    again = browser.post(review, {"commune": "00001", "note": "lần hai"})
    assert again.status_code == 400
    gone = again.get_data(as_text=True).split(f'<div id="alert-{flag}">')[1].split("</div>")[0]
    assert str(escape(A0Error("stock_flag_closed").vi)) in gone


def test_who_sees_and_records_stock(app: Flask) -> None:
    build_world(app)
    browser = Browser(app)
    for user, station_page, record, report in [
            ("canboxa", 200, 302, 200), ("huyen", 200, 403, 200), ("tinh", 200, 403, 200),
            ("xa.hagiang", 404, 404, 404)]:
        browser.login(user)
        assert browser.get("/dashboard/stock/00001").status_code == station_page, user
        assert browser.post("/dashboard/stock/00001/record", RECEIPT).status_code == record, user
        assert browser.get("/dashboard/stock/report/00001").status_code == report, user
        browser.post("/logout")


def test_station_page_names_the_commune_and_leaves_the_expiry_blank(app: Flask) -> None:
    """Names where codes stood, a blank expiry (a lot of unknown expiry, not one that
    expires today), a lot already expired when received refused in words."""
    build_world(app)
    name = db.session.scalar(select(OrgUnit.full_name).where(OrgUnit.code == "00001"))
    browser = Browser(app)
    browser.login("canboxa")
    page = browser.get("/dashboard/stock/00001?month=2025-03").get_data(as_text=True)
    assert f"<h1>Hậu cần phương tiện tránh thai — {name}</h1>" in page
    assert f"<title>Hậu cần phương tiện tránh thai — {name} ·" in page
    assert "Số ngày hết hàng" in page and "xã 00001" not in page
    receipt = page.split('id="record-stock_receipt"')[1].split("</form>")[0]
    assert re.search(r'<input type="date" name="expiry">', receipt)
    assert re.search(r'<input type="date" name="received_on" value="\d{4}-\d{2}-\d{2}"', receipt)

    expired = browser.post("/dashboard/stock/00001/record", {**RECEIPT, "expiry": "2025-03-02"})
    assert expired.status_code == 400
    assert "Hạn sử dụng trước ngày nhận" in expired.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
    unknown = {k: v for k, v in RECEIPT.items() if k != "expiry"}
    assert browser.post("/dashboard/stock/00001/record", unknown).status_code == 302
    assert browser.post("/dashboard/stock/00001/record", RECEIPT).status_code == 302

    report = browser.get("/dashboard/stock/report/00001?month=2025-03").get_data(as_text=True)
    assert f"<title>Báo cáo hậu cần tháng 03/2025 — {name} ·" in report
    assert "Số ngày hết hàng" in report


def test_a_refused_station_form_comes_back_as_typed(app: Flask) -> None:
    """A quantity of nothing, a lot expired before it came, no method: the station page
    again (400), the refusal in words inside that form, what was typed still there, and
    nothing written."""
    build_world(app)
    browser = Browser(app)
    browser.login("canboxa")

    def form(page: str, form_id: str) -> str:
        return page.split(f'id="record-{form_id}"')[1].split("</form>")[0]

    expired = browser.post("/dashboard/stock/00001/record", {**RECEIPT, "expiry": "2025-03-02"})
    assert expired.status_code == 400
    receipt = form(expired.get_data(as_text=True), "stock_receipt")
    assert receipt.startswith(" open>") and "#record-stock_receipt" in receipt
    assert 'role="alert" id="error-stock_receipt"' in receipt
    # every field points at the refusal (a screen reader reads it with the field), the
    # first takes the focus
    assert receipt.count('aria-describedby="error-stock_receipt"') == receipt.count("<label>")
    assert receipt.count("autofocus") == 1
    assert str(escape(A0Error("stock_expired_on_receipt").vi)) in receipt
    assert 'name="expiry" value="2025-03-02"' in receipt and 'value="K-17"' in receipt
    assert 'name="quantity" value="300"' in receipt and 'value="2025-03-03"' in receipt
    assert '<option value="district" selected>' in receipt
    assert 'role="alert"' not in form(expired.get_data(as_text=True), "stock_transfer")

    label = registry().form("stock_transfer").field("quantity").label["vi"]
    range_vi = A0Error("field_range", label_vi=label).vi
    zero = browser.post("/dashboard/stock/00001/record", {
        "form": "stock_transfer", "area_code": AREAS["C"], "method": "condom",
        "quantity": "0", "issued_on": "2025-03-05", "note": "cấp \"gấp\""})
    assert zero.status_code == 400
    transfer = form(zero.get_data(as_text=True), "stock_transfer")
    assert 'role="alert"' in transfer and str(escape(range_vi)) in transfer
    assert 'name="quantity" value="0"' in transfer and 'value="cấp &#34;gấp&#34;"' in transfer
    assert f'<option value="{AREAS["C"]}" selected>' in transfer

    count = browser.post("/dashboard/stock/00001/record", {
        "form": "stock_adjustment", "counted_on": "2025-03-05", "book_balance": "5",
        "counted": "4", "reason": "physical_count"})
    assert count.status_code == 400
    adjustment = form(count.get_data(as_text=True), "stock_adjustment")
    assert 'role="alert"' in adjustment and 'name="counted" value="4"' in adjustment
    method = registry().form("stock_adjustment").field("method").label["vi"]
    assert str(escape(A0Error("field_required", label_vi=method).vi)) in adjustment
    assert '<option value=""></option>' in adjustment  # no method chosen stays unchosen
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_station_page_names_the_areas(app: Flask) -> None:
    build_world(app)
    browser = Browser(app)
    browser.login("canboxa")
    assert browser.post("/dashboard/stock/00001/record", RECEIPT).status_code == 302
    assert browser.post("/dashboard/stock/00001/record", {
        "form": "stock_transfer", "area_code": AREAS["C"], "method": "condom",
        "quantity": "12", "issued_on": "2025-03-05"}).status_code == 302
    name = db.session.scalar(select(OrgUnit.full_name).where(OrgUnit.code == AREAS["C"]))
    assert name and name != AREAS["C"]
    page = browser.get("/dashboard/stock/00001?month=2025-03").get_data(as_text=True)
    row = page.split('id="transfers">')[1].split("</table>")[0]
    assert f">{name} <small>{AREAS['C']}</small></td>" in row
    assert f'<option value="{AREAS["C"]}">{name} ({AREAS["C"]})</option>' in page

"""Exports: formats agree, scope filters rows, person-level needs the right, reads are audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import Boolean, Integer, String, func, literal, select, update

from a0core import stock
from a0core.errors import A0Error
from server.exports import rollup_book, writers
from server.exports.queries import as_text, csv_line
from server.exports.service import export_to
from server.extensions import db
from server.models.orgunits import OrgTree, OrgUnit
from server.models.people import ROLE_COMMUNE, ROLE_PROVINCE, AuditLog
from server.models.register import Member
from server.models.rollups import RollupCell
from server.rollups.indicators import indicator_name
from server.rollups.jobs import full_recompute
from server.security.scope import Scope
from server.security.users import create_user
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice
from tests.support.web import log_in

PLACES = [("33", "12619", "12619.01.1"), ("34", "12700", "12700.01.1")]


def _tree(session) -> None:
    session.add(OrgTree(name="t", title="t", levels=["province", "commune"], source="t",
                        current=True))
    session.flush()
    for province, commune, area in PLACES:
        parent = None
        for depth, (code, level, path) in enumerate([
                (province, "province", f"/{province}/"),
                (commune, "commune", f"/{province}/{commune}/"),
                (area, "area", f"/{province}/{commune}/{area}/")]):
            unit = OrgUnit(tree="t", code=code, level=level, depth=depth, name=code,
                           full_name=f"Đơn vị {code}", parent_id=parent, path=path,
                           province_code=province,
                           commune_code=None if level == "province" else commune)
            session.add(unit)
            session.flush()
            parent = unit.id


def _register(app) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for province, commune, area in PLACES:
        device = SimDevice(app, area=area, commune=commune, province=province)
        hh = new_id()
        device.upsert("household", hh, household(area))
        ids = [new_id() for _ in range(3)]
        for n, mid in enumerate(ids):
            device.upsert("member", mid, member(hh, name=f"Nguyễn Thị Đào {n}",
                                                born=f"19{80 + n}-05-0{n + 1}"))
        device.send(app.test_client(), device.seal())
        members[commune] = ids
    return members


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _as_text(row: list) -> list[str]:
    return ["" if v is None else ("1" if v else "0") if isinstance(v, bool) else str(v)
            for v in row]


def _same(rows: list) -> list:
    """Cells compared by value: 100, 100.0 and "100.0" are the same number."""
    def cell(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return "" if v is None else str(v)
    return [[cell(v) for v in row] for row in rows]


def _export(scope: Scope, kind: str, fmt: str) -> bytes:
    out = io.BytesIO()
    export_to(db.session, scope, kind, fmt, out)
    return out.getvalue()


def _audits() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "export.persons"))


def test_exports_formats_scope_and_audit(app):
    _tree(db.session)
    db.session.commit()
    members = _register(app)
    merged = members["12619"][2]
    db.session.execute(update(Member).where(Member.id == merged)
                       .values(merged_into=members["12619"][0]))
    db.session.commit()
    full_recompute(db.session)

    commune = Scope("user:lan", "commune", "12619", person_level=True)
    rows = _csv(_export(commune, "rollups", "csv"))
    assert rows[0] == ["tree", "unit_code", "level", "month", "indicator", "value"]
    expected = {(c.unit_code, c.month, k, str(v))
                for c in db.session.scalars(select(RollupCell).where(
                    RollupCell.commune_code == "12619")) for k, v in c.values.items()}
    assert {(r[1], r[3], r[4], r[5]) for r in rows[1:]} == expected
    assert {r[1] for r in rows[1:]} == {"12619", "12619.01.1"}
    assert any(r[4] == "population" and r[5] == "2" for r in rows[1:])  # the merged one is out

    # the same rows in every format; the workbook for a person, with the codes kept
    _rollup_workbook(_export(commune, "rollups", "xlsx"), rows)
    doc = json.loads(_export(commune, "rollups", "json"))
    assert _same([doc["columns"], *doc["rows"]]) == _same(rows)

    # person level: only the scope's live persons, and the read is audited
    before = _audits()
    people = _csv(_export(commune, "persons", "csv"))
    assert {r[0] for r in people[1:]} == set(members["12619"]) - {merged}
    assert "Nguyễn Thị Đào 0" in {r[people[0].index("full_name")] for r in people[1:]}
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "export.persons")
                             .order_by(AuditLog.id.desc())).first()
    assert _audits() == before + 1
    assert (log.actor_id, log.row_count, log.commune_code) == ("lan", 2, "12619")
    # the CSV holds the JSON export's values as text (a flag as 1/0, nothing as empty)
    doc = json.loads(_export(commune, "persons", "json"))
    assert [doc["columns"], *map(_as_text, doc["rows"])] == people
    assert _audits() == before + 2

    no_persons = Scope("user:minh", "province", "33", person_level=False)
    with pytest.raises(A0Error) as refused:
        _export(no_persons, "persons", "csv")
    assert refused.value.code == "person_level_forbidden"
    assert _audits() == before + 2  # a refusal reads and logs nothing
    with pytest.raises(A0Error) as refused:
        _export(commune, "persons", "pdf")
    assert refused.value.code == "export_format_unknown"


def _rollup_workbook(data: bytes, csv_rows: list[list[str]]) -> None:
    """Vietnamese headings over the CSV's codes; names beside the codes; months shown
    12/2026, counts as numbers, rates with one decimal, a rate of nothing empty."""
    head, codes, *body = load_workbook(io.BytesIO(data)).active.iter_rows()
    assert [c.value for c in head[:5]] == ["Tên đơn vị", "Cấp", "Tháng", "Chỉ tiêu", "Giá trị"]
    at = {c.value: i for i, c in enumerate(codes)}
    assert set(csv_rows[0]) <= set(at)
    lines = [{code: row[i] for code, i in at.items()} for row in body]
    assert {(r["unit_code"].value, r["indicator"].value, r["month"].value.strftime("%Y-%m"),
             float(r["value"].value)) for r in lines if r["value"].value is not None} == {
        (r[1], r[4], r[3], float(r[5])) for r in csv_rows[1:]}
    by_key = {(r["unit_code"].value, r["indicator"].value): r for r in lines}
    population = by_key["12619", "population"]
    assert [population[c].value for c in ("unit_name", "level_name", "level")] == [
        "Đơn vị 12619", "Xã", "commune"]
    assert population["indicator_name"].value == "Dân số (nhân khẩu thực tế thường trú)"
    assert population["value"].value == 2 and population["value"].number_format == "#,##0"
    assert population["month"].number_format == "mm/yyyy"
    assert by_key["12619", "population.female"]["indicator_name"].value.endswith("— Nữ")
    mcpr = by_key["12619", "mcpr"]["value"]  # married women, none using a modern method
    assert mcpr.value == 0 and mcpr.number_format == "0.0"
    srb = by_key["12619", "srb"]  # no girl born: nothing to divide by
    assert srb["value"].value is None and srb["value"].number_format == "0.0"
    assert srb["indicator_name"].value.startswith("Tỷ số giới tính khi sinh")


def test_workbook_rates_only_in_cells_of_the_catalogue(app):
    """A station's stock cell gets no empty birth or method rates, though its keys have
    names; an unknown unit keeps its code, with no name."""
    cells = [("t", "12619.TYT", "station", "2026-12", {"stock.station.pill.closing": 3}),
             ("t", "12619", "commune", "2026-12", {"births": 1, "stock.ctv.pill.closing": 2})]
    rows = list(rollup_book.rows(db.session, cells))
    assert [r[7] for r in rows if r[5] == "12619.TYT"] == ["stock.station.pill.closing"]
    assert rows[0][:2] == (None, "Trạm y tế")
    assert rows[0][3] == "Tồn cuối kỳ — Viên uống tránh thai, Trạm y tế xã"
    assert {r[7] for r in rows if r[5] == "12619"} == {"births", "stock.ctv.pill.closing",
                                                       *rollup_book.RATES}


def test_workbook_names_every_stock_key_in_vietnamese(app):
    """The logistics module names its keys (``indicators.NAMERS``): measure, method from
    the code list, holder; by source with the source's name; never the key."""
    keys = [*(f"stock.{kind}.condom.{m}" for kind in ("ctv", "station")
              for m in (*stock.MEASURES, "mos", "distributed.free", "distributed.sold",
                        "distributed.unstated", "value.social_marketing")),
            "stock.condom.mos"]
    cells = [("t", "12619.TYT", "station", "2026-12", dict.fromkeys(keys, 1))]
    out = io.BytesIO()
    rollup_book.write_xlsx(rollup_book.rows(db.session, cells), out)
    body = load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(min_row=3)
    names = {row[7].value: row[3].value for row in body}
    assert set(names) == set(keys)
    assert all(n and "Bao cao su" in n and "stock" not in n and "_" not in n
               for n in names.values()), names
    assert names["stock.ctv.condom.days_out"] == "Số ngày hết hàng — Bao cao su, Cộng tác viên"
    assert names["stock.station.condom.distributed.sold"].startswith(
        "Cấp cho khách hàng: Bán (xã hội hóa) — Bao cao su")
    assert names["stock.station.condom.distributed.unstated"].startswith(
        "Cấp cho khách hàng: Không rõ nguồn")
    assert names["stock.condom.mos"].startswith("Số tháng dự trữ — Bao cao su, cả trạm")
    assert indicator_name("stock.ctv.condom.closing", "en") == \
        "Closing balance — Condom, Collaborators"
    assert indicator_name("stock.ctv.nothing.closing") is None


def test_workbook_neutralises_text_a_spreadsheet_would_run():
    out = io.BytesIO()
    rollup_book.write_xlsx([("=1+1", "Xã", dt.date(2026, 12, 1), None, 5, "@x", "commune",
                             "births", "t")], out)
    row = next(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(min_row=3))
    assert (row[0].value, row[0].data_type, row[5].value) == ("'=1+1", "s", "'@x")


def test_csv_is_streamed_in_chunks():
    rows = ([str(i), "Đặng Văn Ánh"] for i in range(2500))
    chunks = list(writers.csv_chunks(["id", "name"], rows, rows_per_chunk=1000))
    assert len(chunks) == 4  # the header, then one chunk per 1,000 rows
    assert len(_csv(b"".join(chunks))) == 2501


def test_http_and_cli_exports(app, tmp_path):
    _tree(db.session)
    db.session.commit()
    members = _register(app)
    full_recompute(db.session)
    province = create_user(db.session, "tinh33", "Lê Văn Tỉnh", "mat-khau-dai-12", ROLE_PROVINCE,
                           "33")
    officer = create_user(db.session, "xa12619", "Trần Thị Xã", "mat-khau-dai-12", ROLE_COMMUNE,
                          "12619")
    db.session.commit()
    client = app.test_client()
    assert client.get("/api/v1/exports/rollups.csv").status_code == 401

    log_in(client, province)
    resp = client.get("/api/v1/exports/persons.csv")
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "person_level_forbidden"
    resp = client.get("/api/v1/exports/rollups.json?level=area")
    assert resp.status_code == 200
    assert {r[1] for r in resp.get_json()["rows"]} == {"12619.01.1"}
    # a filter that can match nothing by mistake is refused, not answered with no rows
    for query, code in (("month=2026-13", "request_malformed"), ("level=areas",
                        "request_malformed"), ("unit=99999", "orgunit_unknown")):
        error = client.get(f"/api/v1/exports/rollups.json?{query}").get_json()["error"]
        assert error["code"] == code, query
    assert client.get("/api/v1/exports/rollups.json?unit=33&unit=VN").status_code == 200

    log_in(client, officer)
    # a person-level export takes no filter: ignoring one would hand out more than asked
    resp = client.get("/api/v1/exports/persons.json?unit=12619.01.1")
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "unit"
    before = _audits()
    resp = client.get("/api/v1/exports/persons.xlsx")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data), read_only=True).active
    assert {r[0] for r in list(sheet.iter_rows(values_only=True))[1:]} == set(members["12619"])
    assert _audits() == before + 1
    # every HTTP export's audit row says how many rows left, streamed ones too
    for fmt in ("csv", "json"):
        streamed = client.get(f"/api/v1/exports/persons.{fmt}")
        assert streamed.status_code == 200 and members["12619"][0] in streamed.get_data(True)
    db.session.expire_all()
    counts = db.session.scalars(select(AuditLog.row_count).where(
        AuditLog.action == "export.persons").order_by(AuditLog.id)).all()[-3:]
    assert counts == [len(members["12619"])] * 3
    head = client.head("/api/v1/exports/persons.csv")  # no body, so nothing was read
    assert head.status_code == 200 and _audits() == before + 3

    out = tmp_path / "all.json"
    result = app.test_cli_runner().invoke(args=["export", "persons", "--format", "json",
                                                "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["rows"]) == 6
    log = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert (log.actor_type, log.actor_id, log.row_count) == ("system", "cli", 6)



FIELDS = st.lists(st.one_of(
    st.none(), st.integers(-5, 10**9), st.booleans(),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8),
    st.text(st.sampled_from('aĐễ ,;"\r\n%w'), max_size=8),
    st.text(st.sampled_from('=+-@\t\r\'a("'), max_size=5)), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=FIELDS)
def test_the_database_writes_csv_lines_as_the_csv_module_does(app, values):
    """The person export's lines come from SQL (printf on SQLite, replace and || on
    PostgreSQL): quotes, commas, line breaks, percent signs and empty values come out
    as the csv module writes them, text a spreadsheet would run as a formula is
    neutralised as the Python writers do, and the line reads back to the values."""
    types = {bool: Boolean, int: Integer, str: String, type(None): String}
    fields = [as_text(literal(v, types[type(v)]())) for v in values]
    line = db.session.scalar(select(csv_line(*fields)))
    written = _as_text([writers.neutralise(v) for v in values])
    expected = io.StringIO()
    csv.writer(expected, lineterminator="", quoting=csv.QUOTE_ALL).writerow(written)
    assert line == expected.getvalue()
    assert next(csv.reader(io.StringIO(line, newline=""))) == written
    assert_no_formula(values, written)


def assert_no_formula(values: list, cells: list, xml: bool = False) -> None:
    """No text cell begins like a formula; a neutralised one is the value after an
    apostrophe, any other is the value itself (OWASP's rule). In XLSX, a carriage
    return survives when openpyxl writes with lxml (escaped as ``&#13;``) and reads
    back as ``\\n`` when it does not (XML's line-end rule): either is the value."""
    for value, cell in zip(values, cells, strict=True):
        if not isinstance(value, str):
            continue
        assert not cell.startswith(writers.FORMULA_STARTS), (value, cell)
        dangerous = value.startswith(("=", "+", "-", "@", "\t", "\r"))
        expected = "'" + value if dangerous else value
        as_xml_reads = expected.replace("\r\n", "\n").replace("\r", "\n")
        assert cell == expected or (xml and cell == as_xml_reads), (value, cell)


ROWS = st.lists(st.lists(st.one_of(
    st.integers(-5, 10**6),
    st.text(st.sampled_from('=+-@\t\r\'aĐ(",'), min_size=1, max_size=6)),
    min_size=3, max_size=3), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(rows=ROWS)
def test_csv_and_xlsx_writers_never_write_a_formula(rows):
    """Both Python writers neutralise formula text; an XLSX text cell is always a
    string (openpyxl would make ``=...`` a formula) and a number stays a number."""
    columns = ["a", "=b", "c"]
    read = _csv(b"".join(writers.csv_chunks(columns, rows)))
    for values, cells in zip([columns, *rows], read, strict=True):
        assert_no_formula(values, cells)
        assert [c for v, c in zip(values, cells, strict=True) if not isinstance(v, str)] == \
            [str(v) for v in values if not isinstance(v, str)]
    out = io.BytesIO()
    writers.write_xlsx(columns, rows, out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    for values, cells in zip([columns, *rows], sheet.iter_rows(), strict=True):
        assert all(c.data_type != "f" for c in cells)
        assert [c.value for c in cells if not isinstance(c.value, str)] == \
            [v for v in values if not isinstance(v, str)]
        assert_no_formula(values, [c.value for c in cells], xml=True)


def test_a_formula_typed_on_a_phone_stays_text_in_every_export(app):
    """The audit's case: a name like ``=HYPERLINK(...)`` synced from a device must not
    become a live formula in the person or roll-up exports, on either database."""
    _tree(db.session)
    db.session.commit()
    province, commune, area = PLACES[0]
    device = SimDevice(app, area=area, commune=commune, province=province)
    hh = new_id()
    device.upsert("household", hh, {**household(area), "address": "@SUM(1+1)*cmd|' /C calc'!A0"})
    names = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@cmd", "Lò Văn Hùng"]
    for name in names:
        device.upsert("member", new_id(), member(hh, name=name))
    device.send(app.test_client(), device.seal())
    scope = Scope("user:lan", "commune", commune, person_level=True)

    people = _csv(_export(scope, "persons", "csv"))
    name_at, address_at = people[0].index("full_name"), people[0].index("address")
    assert sorted(r[name_at] for r in people[1:]) == sorted(writers.neutralise(n) for n in names)
    assert {r[address_at] for r in people[1:]} == {"'@SUM(1+1)*cmd|' /C calc'!A0"}
    sheet = load_workbook(io.BytesIO(_export(scope, "persons", "xlsx"))).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    assert not any(isinstance(c.value, str) and c.value.startswith(writers.FORMULA_STARTS)
                   for c in cells)
    assert {c.value for c in cells} >= {"'=HYPERLINK(\"http://x\",\"y\")", "Lò Văn Hùng"}

"""Roll-up pages: indicators by month for one unit, drill-down to the units below,
charts drawn server-side, export links, and the printable monthly report.

Thin: find the unit within the scope (404 otherwise, like an unknown code), read
its cells (:mod:`server.web.queries.rollups`), hand numbers to
:mod:`server.web.charts` and the templates.
"""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext
from markupsafe import Markup

from a0core import p0
from a0core.errors import A0Error
from a0core.schemas import registry
from server import formats
from server.exports.writers import CONTENT_TYPES
from server.extensions import db
from server.orgunits.lineage import where
from server.reporting.forms import Period, parse_period, period_values, sections, shown
from server.reporting.workbook import write_report
from server.rollups.indicators import index_month, month_index
from server.security.scope import VIEW_ROLLUPS
from server.web import charts
from server.web.dashboard.shell import add_nav, bp, require, scope, staff_page
from server.web.queries import rollups as queries

add_nav("dashboard.rollups", lazy_gettext("Số liệu tổng hợp"), VIEW_ROLLUPS, 40)

MONTHS_SHOWN = 12
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# the rows of the indicator table (name, label); the full set is in the exports
INDICATORS: tuple[tuple[str, Any], ...] = (
    ("households", lazy_gettext("Số hộ")),
    ("population", lazy_gettext("Dân số")),
    ("population.male", lazy_gettext("Dân số nam")),
    ("population.female", lazy_gettext("Dân số nữ")),
    ("population.60plus", lazy_gettext("Người từ 60 tuổi trở lên")),
    ("women_married_15_49", lazy_gettext("Phụ nữ 15–49 có chồng")),
    ("users", lazy_gettext("Đang dùng biện pháp tránh thai")),
    ("users.modern", lazy_gettext("Dùng biện pháp hiện đại")),
    ("cpr", lazy_gettext("Tỷ lệ sử dụng BPTT (%)")),
    ("mcpr", lazy_gettext("Tỷ lệ sử dụng BPTT hiện đại (%)")),
    ("pregnant", lazy_gettext("Phụ nữ đang mang thai")),
    ("births", lazy_gettext("Số sinh")),
    ("births.male", lazy_gettext("Sinh con trai")),
    ("births.female", lazy_gettext("Sinh con gái")),
    ("srb", lazy_gettext("Tỷ số giới tính khi sinh (trai/100 gái)")),
    ("births.order3plus", lazy_gettext("Sinh con thứ 3 trở lên")),
    ("births.mother_under20", lazy_gettext("Mẹ dưới 20 tuổi")),
    ("deaths", lazy_gettext("Số chết")),
    ("moves_in", lazy_gettext("Chuyển đến")),
    ("moves_out", lazy_gettext("Chuyển đi")),
    ("marriages", lazy_gettext("Kết hôn")),
    ("divorces", lazy_gettext("Ly hôn")),
    ("new_acceptors", lazy_gettext("Người mới sử dụng BPTT")),
    ("method_stops", lazy_gettext("Ngừng sử dụng BPTT")),
    ("method_switches", lazy_gettext("Chuyển đổi BPTT")),
    ("areas_expected", lazy_gettext("Địa bàn phải báo cáo")),
    ("areas_reported", lazy_gettext("Địa bàn đã nộp phiếu P0")),
    ("areas_on_time", lazy_gettext("Địa bàn nộp đúng hạn")),
    ("areas_incomplete", lazy_gettext("Phiếu P0 chưa khớp số liệu")),
    ("completeness", lazy_gettext("Tính đầy đủ của báo cáo (%)")),
    ("timeliness", lazy_gettext("Tính kịp thời của báo cáo (%)")),
    ("areas_synced", lazy_gettext("Địa bàn đã đồng bộ")),
)
# the drill-down table's columns
SUMMARY = ("population", "births", "srb", "mcpr", "completeness")
# what "x" means (formats.NOT_COMPUTABLE): the legend of every page and workbook showing
# rates (a Jinja global too)
NOT_COMPUTABLE_NOTE = lazy_gettext(
    "x: không tính được vì không có số để chia (mẫu số bằng 0, ví dụ không có phụ nữ "
    "15–49 tuổi có chồng, không có trẻ gái sinh ra, không có địa bàn phải nộp phiếu); "
    "khác với 0,0 là có số để chia nhưng tử số bằng 0.")


def _methods() -> list[tuple[str, str]]:
    """(code, label in the page's language) of the contraceptive methods (schemas/)."""
    english = str(get_locale()) == "en"
    return [(c.code, c.en if english else c.vi)
            for c in registry().codelist("contraceptive_method").codes]


def _month(unit_code: str) -> tuple[str, list[str]]:
    """The month asked for (else the last month that has ended, or the newest with
    data before it: a month still running is not a report yet) and the months
    offered by the selector."""
    offered = queries.months_of(db.session, unit_code)
    asked = request.args.get("month", "")
    if _MONTH.match(asked):
        return asked, offered
    closed = p0.last_closed_month(p0.vn_day())
    return next((m for m in offered if m <= closed), closed), offered


def _data_now(unit_code: str, month: str, shown: dict[str, Any], running: str) -> bool:
    """The month shown holds nothing and the running one does (a first sync lands in
    the running month; the page opens on the last one ended)."""
    if month == running or _holds_data(shown):
        return False
    return _holds_data(queries.cells(db.session, [unit_code], [running]).get(
        (unit_code, running), {}))


def _holds_data(values: dict[str, Any]) -> bool:
    """A count other than 0 (an area expected to report is no data yet)."""
    return any(v for k, v in values.items()
               if k != "areas_expected" and isinstance(v, int | float))


def _window(month: str) -> list[str]:
    last = month_index(month)
    return [index_month(i) for i in range(last - MONTHS_SHOWN + 1, last + 1)]


def _charts(unit: queries.UnitView, month: str, months: list[str],
            series: dict[str, dict[str, Any]], below: list[queries.UnitView],
            below_cells: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Markup]:
    def values(name: str) -> list[Any]:
        return [series.get(m, {}).get(name, 0) for m in months]

    now = series.get(month, {})
    methods = [(label, now.get(f"users.{code}", 0)) for code, label in _methods()
               if now.get(f"users.{code}")]
    # None: a unit with no area expected to report (drawn "x", not a bar of 0)
    completeness = [(u.name, below_cells.get((u.code, month), {}).get("completeness"))
                    for u in below]
    return {
        "births": Markup(charts.grouped_bars(
            str(lazy_gettext("Số sinh theo giới tính")), months,
            [(str(lazy_gettext("Trai")), values("births.male")),
             (str(lazy_gettext("Gái")), values("births.female"))])),
        "srb": Markup(charts.line(
            str(lazy_gettext("Tỷ số giới tính khi sinh")), months,
            [series.get(m, {}).get("srb") for m in months], reference=105)),
        "methods": Markup(charts.horizontal_bars(
            str(lazy_gettext("Cơ cấu biện pháp đang dùng")), methods)),
        "completeness": Markup(charts.horizontal_bars(
            str(lazy_gettext("Tính đầy đủ của báo cáo theo đơn vị")), completeness,
            maximum=100, suffix="%", names=True)),
    }


@bp.get("/rollups")
@staff_page(VIEW_ROLLUPS)
def rollups():
    if scope().group is not None:  # province staff of a former district: their group
        return redirect(url_for("dashboard.former_districts"))
    code = require(queries.home_code(scope()))
    month = request.args.get("month", "")
    return redirect(url_for("dashboard.rollup_unit", unit_code=code,
                            **({"month": month} if _MONTH.match(month) else {})))


def _unit(unit_code: str) -> queries.UnitView:
    """The unit in scope, for every roll-up page alike: an old (pre-reform) code goes
    to the code lookup (where it went), an unknown one is refused as the lookup says it
    (codes are public), one out of scope is not found."""
    unit = queries.find_unit(db.session, scope(), unit_code)
    if unit is None:
        found = where(db.session, unit_code[:32])
        if found.current is None and found.old is not None:
            abort(redirect(url_for("dashboard.unit_lookup", code=unit_code[:32])))
        if found.current is None:
            raise A0Error("orgunit_unknown", record=unit_code[:32])
    return require(unit)


@bp.get("/rollups/<unit_code>")
@staff_page(VIEW_ROLLUPS)
def rollup_unit(unit_code: str):
    unit = _unit(unit_code)
    month, offered = _month(unit.code)
    months = _window(month)
    own = queries.cells(db.session, [unit.code], months)
    series = {m: own.get((unit.code, m), {}) for m in months}
    below = queries.children(db.session, scope(), unit)
    below_cells = queries.cells(db.session, [u.code for u in below], [month])
    today = p0.vn_day()
    running = p0.month_of(today)  # not over yet: partial
    return render_template(
        "rollups.html", unit=unit, month=month, months=months, offered=offered,
        series=series, indicators=INDICATORS, below=below, below_cells=below_cells,
        running=running, today=today,
        data_now=_data_now(unit.code, month, series[month], running),
        summary=[(name, label) for name, label in INDICATORS if name in SUMMARY],
        methods=[(code, label) for code, label in _methods()
                 if series[month].get(f"users.{code}")],
        charts=_charts(unit, month, months, series, below, below_cells))


COMMUNE_LEVELS = ("commune", "village", "area")
COLUMNS_PER_PAGE = 8  # units below side by side on one printed A4 page


def _period(unit_code: str) -> tuple[Period, list[tuple[str, str]]]:
    """The period asked for (``period=2026-11`` or ``2026-Q4``, or ``month=``), else the
    last month that has ended; and the periods offered: the months stored and their
    quarters, newest first."""
    asked = request.args.get("period") or request.args.get("month") or \
        p0.last_closed_month(p0.vn_day())
    period = parse_period(asked)
    months = queries.months_of(db.session, unit_code)
    quarters = sorted({f"{m[:4]}-Q{(int(m[5:7]) - 1) // 3 + 1}" for m in months}, reverse=True)
    offered = [(p, parse_period(p).label(_lang())) for p in [*months, *quarters]]
    if period.text not in {p for p, _ in offered}:
        offered.insert(0, (period.text, period.label(_lang())))
    return period, offered


def _lang() -> str:
    return "en" if str(get_locale()) == "en" else "vi"


def _report(unit_code: str) -> dict[str, Any]:
    """What both the printable page and the workbook show."""
    unit = _unit(unit_code)
    period, offered = _period(unit.code)
    below = [] if unit.level in COMMUNE_LEVELS else queries.children(db.session, scope(), unit)
    codes = [unit.code, *(u.code for u in below)]
    found = queries.cells(db.session, codes, period.months)
    values = {code: period_values({m: found.get((code, m), {}) for m in period.months}, period)
              for code in codes}
    whole = str(lazy_gettext("Toàn đơn vị")) if below else str(lazy_gettext("Số lượng"))
    columns = [(unit.code, whole), *((u.code, u.name) for u in below)]
    # each printed page: the unit's own column (index 0), then up to 8 units below
    pages = [[0, *range(1 + i, min(1 + i + COLUMNS_PER_PAGE, len(columns)))]
             for i in range(0, max(1, len(below)), COLUMNS_PER_PAGE)]
    layout = "commune" if unit.level in COMMUNE_LEVELS else "above"
    today = p0.vn_day()  # a period not over yet is counted up to today, and says so
    running = gettext("Kỳ báo cáo chưa kết thúc: số liệu tính đến ngày %(day)s.",
                      day=formats.day(today)) if p0.last_day(period.last) >= today else None
    notes = [*report_notes(), *([running] if running else [])]
    return {"unit": unit, "period": period, "offered": offered, "columns": columns,
            "pages": pages, "values": values, "sections": sections(), "lang": _lang(),
            "layout": layout, "form_name": form_name(layout), "notes": notes,
            "running": running, "NO_DATA": NO_DATA,
            "has_data": any(values[unit.code].values())}


@bp.get("/rollups/<unit_code>/report")
@staff_page(VIEW_ROLLUPS)
def rollup_report(unit_code: str):
    """The report form of one unit for a month or a quarter, printable (one A4 page per
    section): the commune's form, or the district's and province's with a column for
    each unit below. A period that is not one is refused like any A0Error (400)."""
    report = _report(unit_code)
    table = shown(report["sections"], [code for code, _ in report["columns"]],
                  report["values"], report["lang"])
    return render_template("rollup_report.html", table=table, **report)


@bp.get("/rollups/<unit_code>/report.xlsx")
@staff_page(VIEW_ROLLUPS)
def rollup_report_xlsx(unit_code: str):
    """The same report form as a workbook (the same rows, numbers as numbers)."""
    report = _report(unit_code)
    unit, period = report["unit"], report["period"]
    title = [str(lazy_gettext("BÁO CÁO THỐNG KÊ CHUYÊN NGÀNH DÂN SỐ")),
             str(report["form_name"]), f"{unit.name} ({unit.code})"]
    out = io.BytesIO()
    write_report(out, title=title, period=period, columns=report["columns"],
                 values=report["values"], sections=report["sections"],
                 notes=[str(n) for n in report["notes"]], lang=report["lang"],
                 no_data=None if report["has_data"] else str(NO_DATA))
    name = f"bao-cao-{unit.code}-{period.text}.xlsx"
    return Response(out.getvalue(), content_type=CONTENT_TYPES["xlsx"],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


NO_DATA = lazy_gettext("Chưa có số liệu tổng hợp cho kỳ này.")


def form_name(layout: str) -> Any:
    if layout == "commune":
        return lazy_gettext("Mẫu báo cáo cấp xã (Phụ lục II, Thông tư 01/2022/TT-BYT); "
                            "số hiệu biểu tháng: giả định")
    return lazy_gettext("Theo Biểu 01-DSH (Phụ lục IV, Thông tư 01/2022/TT-BYT), "
                        "một cột cho mỗi đơn vị trực thuộc")


def report_notes() -> list[Any]:
    return [
        lazy_gettext("Các dòng có dấu * là giả định: dự án chưa đối chiếu được định nghĩa "
                     "chính thức của dòng đó trong biểu mẫu của Thông tư 01/2022/TT-BYT."),
        lazy_gettext("Biểu 01-DSH chính thức là báo cáo quý; báo cáo tháng dùng cùng bố cục."),
        lazy_gettext("Chỉ tiêu thời điểm (số hộ, dân số, phụ nữ có chồng, người sử dụng biện "
                     "pháp tránh thai, phụ nữ mang thai) tính đến ngày cuối kỳ; chỉ tiêu thời "
                     "kỳ cộng các tháng của kỳ."),
        lazy_gettext("Dòng để trống (—): dự án chưa thu thập thông tin này."),
        NOT_COMPUTABLE_NOTE,
        lazy_gettext("Dòng 22 gồm cả các ca sinh của người mẹ chưa được ghi nhận mang thai, "
                     "nên số phụ nữ mang thai cuối kỳ có thể khác đầu kỳ cộng có thai mới trừ "
                     "kết thúc thai kỳ; khác cả khi thai quá hạn, người mang thai chết, chuyển "
                     "đi hoặc chuyển đến."),
        lazy_gettext("Số liệu tổng hợp từ sổ A0 điện tử và phiếu thu tin P0 của cộng tác viên "
                     "dân số."),
    ]

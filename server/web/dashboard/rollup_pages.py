"""Roll-up pages: indicators by month for one unit, drill-down to the units below,
charts drawn server-side, export links, and the printable monthly report.

Thin: find the unit within the scope (404 otherwise, like an unknown code), read
its cells (:mod:`server.web.queries.rollups`), hand numbers to
:mod:`server.web.charts` and the templates.
"""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import get_locale, lazy_gettext
from markupsafe import Markup

from a0core.schemas import registry
from server.extensions import db
from server.rollups.indicators import index_month, month_index
from server.rollups.jobs import this_month
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
    ("women_married_15_49", lazy_gettext("Phụ nữ 15–49 có chồng")),
    ("users", lazy_gettext("Đang dùng biện pháp tránh thai")),
    ("users.modern", lazy_gettext("Dùng biện pháp hiện đại")),
    ("cpr", lazy_gettext("Tỷ lệ sử dụng BPTT (%)")),
    ("mcpr", lazy_gettext("Tỷ lệ sử dụng BPTT hiện đại (%)")),
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
    ("areas_expected", lazy_gettext("Địa bàn phải báo cáo")),
    ("areas_synced", lazy_gettext("Địa bàn đã đồng bộ")),
    ("completeness", lazy_gettext("Tính đầy đủ của báo cáo (%)")),
)
# the drill-down table's columns
SUMMARY = ("population", "births", "srb", "mcpr", "completeness")


def _methods() -> list[tuple[str, str]]:
    """(code, label in the page's language) of the contraceptive methods (schemas/)."""
    english = str(get_locale()) == "en"
    return [(c.code, c.en if english else c.vi)
            for c in registry().codelist("contraceptive_method").codes]


def _month(unit_code: str) -> tuple[str, list[str]]:
    """The month asked for (else the newest with data, else this month) and the
    months offered by the selector."""
    offered = queries.months_of(db.session, unit_code)
    asked = request.args.get("month", "")
    if _MONTH.match(asked):
        return asked, offered
    return (offered[0] if offered else this_month()), offered


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
    completeness = [(u.name, below_cells.get((u.code, month), {}).get("completeness", 0))
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
            maximum=100, suffix="%")),
    }


@bp.get("/rollups")
@staff_page(VIEW_ROLLUPS)
def rollups():
    code = require(queries.home_code(scope()))
    month = request.args.get("month", "")
    return redirect(url_for("dashboard.rollup_unit", unit_code=code,
                            **({"month": month} if _MONTH.match(month) else {})))


@bp.get("/rollups/<unit_code>")
@staff_page(VIEW_ROLLUPS)
def rollup_unit(unit_code: str):
    unit = require(queries.find_unit(db.session, scope(), unit_code))
    month, offered = _month(unit.code)
    months = _window(month)
    own = queries.cells(db.session, [unit.code], months)
    series = {m: own.get((unit.code, m), {}) for m in months}
    below = queries.children(db.session, scope(), unit)
    below_cells = queries.cells(db.session, [u.code for u in below], [month])
    return render_template(
        "rollups.html", unit=unit, month=month, months=months, offered=offered,
        series=series, indicators=INDICATORS, below=below, below_cells=below_cells,
        summary=[(name, label) for name, label in INDICATORS if name in SUMMARY],
        methods=[(code, label) for code, label in _methods()
                 if series[month].get(f"users.{code}")],
        charts=_charts(unit, month, months, series, below, below_cells))


@bp.get("/rollups/<unit_code>/report")
@staff_page(VIEW_ROLLUPS)
def rollup_report(unit_code: str):
    """The monthly report of one unit (made for the commune), printable."""
    unit = require(queries.find_unit(db.session, scope(), unit_code))
    month, offered = _month(unit.code)
    previous = index_month(month_index(month) - 1)
    found = queries.cells(db.session, [unit.code], [month, previous])
    below = queries.children(db.session, scope(), unit)
    below_cells = queries.cells(db.session, [u.code for u in below], [month])
    now = found.get((unit.code, month), {})
    return render_template(
        "rollup_report.html", unit=unit, month=month, offered=offered, now=now,
        before=found.get((unit.code, previous), {}), previous=previous,
        indicators=INDICATORS, below=below, below_cells=below_cells,
        methods=[(code, label, now.get(f"users.{code}", 0),
                  now.get(f"new_acceptors.{code}", 0), now.get(f"distributed.{code}", 0))
                 for code, label in _methods()
                 if any(now.get(f"{k}.{code}") for k in ("users", "new_acceptors",
                                                          "distributed"))])

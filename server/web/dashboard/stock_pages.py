"""Contraceptive logistics pages: the station page and the monthly logistics report.

Thin: the scope decides (a commune outside it, or a unit, is refused as unknown), the
domain computes (:mod:`server.logistics.report`, :mod:`server.logistics.station`),
templates render. The station records its movements here as its own writer.
"""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext

from a0core import stock
from a0core.errors import A0Error
from a0core.p0 import last_closed_month, vn_day
from a0core.schemas import registry
from server.exports.writers import CONTENT_TYPES, csv_chunks, write_xlsx
from server.extensions import db
from server.logistics import names, report, station
from server.logistics.cells import CTV, STATION
from server.logistics.cells import methods as cell_methods
from server.orgunits.groups import former_district
from server.rollups.jobs import this_month
from server.security.scope import MANAGE_STOCK, VIEW_ROLLUPS
from server.sync.runtime import ingest_context
from server.web.dashboard.shell import (
    Refused,
    add_nav,
    bp,
    error_page,
    refused_form,
    require,
    scope,
    staff_page,
)
from server.web.queries import rollups as queries
from server.web.queries.sync_status import unit_names

add_nav("dashboard.stock_home", lazy_gettext("Hậu cần phương tiện tránh thai"), VIEW_ROLLUPS, 45)

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# what the station records on this page (a collaborator records the rest on the phone)
STATION_FORMS = (stock.RECEIPT, stock.TRANSFER, stock.DISPENSE, stock.RETURN, stock.LOSS,
                 stock.ADJUSTMENT)


def _lang() -> str:
    return "en" if str(get_locale()) == "en" else "vi"


def _month(default: str) -> str:
    asked = request.args.get("month", "")
    return asked if _MONTH.match(asked) else default


def _labels() -> dict[str, Any]:
    """Code labels in the page's language (methods, forms, holders)."""
    lang = _lang()
    reg = registry()
    methods = {c.code: (c.vi if lang == "vi" else c.en)
               for c in reg.codelist("contraceptive_method").active_codes()}
    forms = {f: reg.form(f).title[lang] for f in (*stock.STOCK_FORMS, stock.DISTRIBUTION)}
    return {"methods": methods, "forms": forms}


@bp.get("/stock")
@staff_page(VIEW_ROLLUPS)
def stock_home():
    """Commune staff open their station; staff of a former district choose one of its
    communes (their scope holds no unit to report on); others open their unit's report."""
    where = scope()
    if where.level == "commune":
        return redirect(url_for("dashboard.stock_station", commune=where.code))
    if where.group is not None:
        names = unit_names(db.session, set(where.communes))
        group = former_district(db.session, where.group)
        return render_template("stock_group.html",
                               group=group.name if group is not None else where.group,
                               communes=sorted(names.items(), key=lambda cn: cn[1]))
    return redirect(url_for("dashboard.stock_report", unit_code=require(
        queries.home_code(where))))


@bp.get("/stock/<commune>")
@staff_page(VIEW_ROLLUPS)
def stock_station(commune: str):
    return _station_page(commune)


def _station_page(commune: str, refused: Refused | None = None):
    month = _month(this_month())
    page = report.station_page(db.session, scope(), commune[:8], month, current_app.config)
    unit = queries.find_unit(db.session, scope(), page.commune)
    methods = [m for m in _labels()["methods"] if m in cell_methods()]
    fields = {f: {x.name: x for x in registry().form(f).fields} for f in STATION_FORMS}
    lang = _lang()
    options = {f: {name: [(c.code, c.vi if lang == "vi" else c.en) for c in
                          registry().codelist(x.codelist).active_codes() if x.allows_code(c)]
                   for name, x in by_name.items() if x.type == "code" and x.codelist}
               for f, by_name in fields.items()}
    areas = station.commune_areas(db.session, page.commune)
    return render_template(
        "stock_station.html", page=page, commune_name=unit.name if unit else page.commune,
        labels=_labels(), methods=methods, areas=areas, forms=STATION_FORMS, refused=refused,
        area_names=unit_names(db.session, {*areas, *(t.area for t in page.transfers)}),
        fields=fields, options=options, lang=lang, may_record=scope().may(MANAGE_STOCK),
        today=vn_day().isoformat(),
        low_ctv=current_app.config["A0SYNC_STOCK_LOW_MONTHS_CTV"],
        low_station=current_app.config["A0SYNC_STOCK_LOW_MONTHS_STATION"],
        expiry_days=current_app.config["A0SYNC_STOCK_EXPIRY_DAYS"]), 400 if refused else 200


def _values(form_id: str) -> dict[str, Any]:
    """The posted fields the form defines (integers as integers; blanks left out)."""
    out: dict[str, Any] = {}
    for f in registry().form(form_id).fields:
        raw = (request.form.get(f.name) or "").strip()
        if f.name == "id" or not raw:
            continue
        out[f.name] = int(raw) if f.type == "integer" and re.fullmatch(r"-?\d{1,9}", raw) \
            else raw
    return out


@bp.post("/stock/<commune>/record")
@staff_page(MANAGE_STOCK)
def stock_record(commune: str):
    form_id = request.form.get("form", "")
    if form_id not in STATION_FORMS:
        return error_page(A0Error("form_unknown", form=form_id[:48]))
    try:
        station.record(db.session, ingest_context(current_app), scope(), commune[:8], form_id,
                       _values(form_id))
        db.session.commit()
    except A0Error as error:  # what was typed comes back inside its form
        return _refused(error, form_id, commune)
    flash(gettext("Đã ghi phiếu «%(form)s».", form=_labels()["forms"][form_id]))
    return _back(commune)


@bp.post("/stock/<commune>/confirm/<movement_id>")
@staff_page(MANAGE_STOCK)
def stock_confirm(commune: str, movement_id: str):
    """The station confirms what a collaborator returned (what arrived, and when)."""
    try:
        station.record(db.session, ingest_context(current_app), scope(), commune[:8],
                       stock.CONFIRM, {**_values(stock.CONFIRM), "transfer_id": movement_id})
        db.session.commit()
    except A0Error as error:
        return _refused(error, f"confirm:{movement_id[:36]}", commune)
    flash(gettext("Đã xác nhận."))
    return _back(commune)


@bp.post("/stock/flag/<int:flag_id>/review")
@staff_page(MANAGE_STOCK)
def stock_flag_review(flag_id: int):
    try:
        flag = station.review_flag(db.session, scope(), flag_id, request.form.get("note", ""))
        db.session.commit()
    except A0Error as error:  # reviewed meanwhile: said beside where the alert stood
        return _refused(error, f"flag:{flag_id}", request.form.get("commune", ""))
    flash(gettext("Đã đánh dấu đã xem."))
    return _back(flag.commune_code)


def _refused(error: A0Error, form: str, commune: str):
    """The station page again with the refusal beside ``form``; an unknown or out of
    scope movement or alert gets the error page."""
    refused = refused_form(error, form)
    return _station_page(commune, refused) if refused and commune else error_page(error)


def _back(commune: str):
    """The station page, at the month it was showing."""
    month = request.args.get("month", "")
    return redirect(url_for("dashboard.stock_station", commune=commune[:8],
                            **({"month": month} if _MONTH.match(month) else {})))


# ----------------------------------------------------------- monthly report

def _report(unit_code: str) -> dict[str, Any]:
    unit = require(queries.find_unit(db.session, scope(), unit_code))
    month = _month(last_closed_month(vn_day()))
    rows = report.monthly_report(db.session, unit.code, month)
    return {"unit": unit, "month": month, "rows": rows, "columns": report.REPORT_COLUMNS,
            "headings": headings(), "labels": _labels(),
            "note": report.ASSUMED_NOTE[_lang()]}


def headings() -> dict[str, str | None]:
    """The report's column and holder words in the page's language (:mod:`names`)."""
    lang = _lang()
    return {**{c: names.column(c, lang) for c in report.REPORT_COLUMNS},
            **{kind: names.holder(kind, lang) for kind in (CTV, STATION)}}


@bp.get("/stock/report/<unit_code>")
@staff_page(VIEW_ROLLUPS)
def stock_report(unit_code: str):
    """The monthly logistics report of a unit: printable HTML, or ``format=csv|xlsx``."""
    found = _report(unit_code)
    fmt = request.args.get("format", "html")
    if fmt == "html":
        return render_template("stock_report.html", **found)
    if fmt not in ("csv", "xlsx"):
        raise A0Error("not_found")
    heads = found["headings"]
    labels = found["labels"]["methods"]
    columns = [str(lazy_gettext("Phương tiện")), str(lazy_gettext("Nơi giữ")),
               *(str(heads[c]) for c in found["columns"])]
    rows = [[labels.get(r.method, r.method), str(heads[r.kind]),
             *(r.values.get(c) for c in found["columns"])] for r in found["rows"]]
    rows.append([found["note"]])
    name = f"hau-can-{found['unit'].code}-{found['month']}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(b"".join(csv_chunks(columns, rows)), content_type=CONTENT_TYPES["csv"],
                        headers=headers)
    out = io.BytesIO()
    write_xlsx(columns, rows, out, title=found["month"])
    return Response(out.getvalue(), content_type=CONTENT_TYPES["xlsx"], headers=headers)

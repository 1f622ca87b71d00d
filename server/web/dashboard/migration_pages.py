"""The 2025 reform on the dashboard (issue 13): province staff and administrators choose
where each village of a split commune goes before the plan is applied (``a0sync orgunits
migrate … --apply`` applies it); province staff see their province's figures by former
district. Thin: the plan is :mod:`server.orgunits.plan`, the grouping
:mod:`server.orgunits.former`."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from a0core import p0
from a0core.errors import A0Error
from server.extensions import db
from server.models.orgunits import LEVEL_PROVINCE, OrgLineage, OrgMigration, OrgTree
from server.orgunits import former
from server.orgunits.lineage import where
from server.orgunits.plan import PlanRow, build_plan, choose
from server.orgunits.queries import current_tree
from server.security.scope import NATIONAL, PLAN_MIGRATION, PROVINCE, VIEW_ROLLUPS
from server.web.dashboard.rollup_pages import INDICATORS
from server.web.dashboard.shell import (
    add_nav,
    bp,
    error_page,
    page_args,
    require,
    scope,
    staff_page,
)
from server.web.queries import rollups as rollup_queries
from server.web.queries.paging import page_of
from server.web.queries.sync_status import unit_names

add_nav("dashboard.migration", lazy_gettext("Chuyển đổi đơn vị hành chính"), PLAN_MIGRATION, 45)

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
SHOWN = ("households", "population", "births", "srb", "deaths", "moves_in", "moves_out",
         "mcpr", "completeness")


def _target() -> str | None:
    """The list to migrate to: asked for, else the newest one the conversion table leads
    to that is not current yet."""
    asked = (request.values.get("to") or "").strip()[:32]
    if asked:
        return asked if db.session.get(OrgTree, asked) is not None else None
    current = current_tree(db.session)
    return db.session.scalar(select(OrgLineage.new_tree).where(OrgLineage.new_tree != current)
                             .order_by(OrgLineage.new_tree.desc()).limit(1))


def _villages(rows: list[PlanRow]) -> list[dict[str, Any]]:
    """One line per choice: a village (its areas summed), or an area without one."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        line = out.setdefault(r.key, {"key": r.key, "row": r, "areas": [], "households": 0,
                                      "persons": 0})
        if r.area:
            line["areas"].append(r.area)
        line["households"] += r.households
        line["persons"] += r.persons
    return list(out.values())


@bp.get("/migration")
@staff_page(PLAN_MIGRATION)
def migration():
    to_tree = _target()
    history = list(db.session.scalars(select(OrgMigration).order_by(OrgMigration.id.desc())
                                      .limit(20))) if scope().level == NATIONAL else []
    if to_tree is None:
        current = current_tree(db.session)
        arrived = db.session.scalar(select(OrgLineage.new_tree).where(
            OrgLineage.new_tree == current).limit(1)) is not None
        return render_template("migration.html", to_tree=None, history=history,
                               current=current if arrived else None)
    plan = build_plan(db.session, to_tree)
    mine = [r for r in plan.rows if scope().covers(r.old_province, r.old_commune)]
    provinces: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in mine:
        provinces[r.old_province][0] += 1
        provinces[r.old_province][1] += r.new_commune is None
    province = (request.args.get("province") or "").strip()[:8] or next(
        (p for p, (_, missing) in sorted(provinces.items()) if missing), None) or next(
        iter(sorted(provinces)), None)
    only_missing = request.args.get("missing") == "1"
    shown = [r for r in mine if r.old_province == province
             and (not only_missing or r.new_commune is None)]
    page, per_page = page_args(100)
    return render_template("migration.html", to_tree=to_tree, history=history,
                           provinces=sorted(provinces.items()), province=province,
                           only_missing=only_missing,
                           lines=page_of(_villages(shown), page, per_page),
                           missing=sum(m for _, m in provinces.values()), rows=len(mine))


@bp.post("/migration/choose")
@staff_page(PLAN_MIGRATION)
def migration_choose():
    form = request.form
    to_tree = require(_target())
    key = (form.get("key") or "").strip()[:32]
    other = (form.get("other") or "").strip()[:8]
    chosen = other or (form.get("new_commune") or "").strip()[:8] or None
    try:
        choose(db.session, scope(), to_tree, key, chosen, by=scope().actor)
        db.session.commit()
    except A0Error as error:
        return error_page(error)
    flash(gettext("Đã lưu: %(key)s → %(commune)s.", key=key, commune=chosen or "—"))
    return redirect(url_for("dashboard.migration", to=to_tree, province=form.get("province"),
                            missing=form.get("missing") or None, page=form.get("page") or None))


@bp.get("/rollups/former-districts")
@staff_page(VIEW_ROLLUPS)
def former_districts():
    """A province's figures by former district (where the tree had districts)."""
    s = scope()
    province = s.code if s.level == PROVINCE else (request.args.get("province") or "")[:8]
    if s.level not in (PROVINCE, NATIONAL):
        raise A0Error("forbidden")
    # a national user chooses the province first; a code that is no province is refused
    # as other pages refuse an unknown unit (an old code says where it went)
    if province and s.level == NATIONAL:
        unit = rollup_queries.find_unit(db.session, s, province)
        if unit is None or unit.level != LEVEL_PROVINCE:
            found = where(db.session, province)
            if found.current is None and found.old is not None:
                return redirect(url_for("dashboard.unit_lookup", code=province))
            raise A0Error("province_unknown", record=province)
    month = request.args.get("month", "")
    month = month if _MONTH.match(month) else p0.last_closed_month(p0.vn_day())
    groups, total = former.by_former_district(db.session, s, province, month) \
        if province else ([], {})
    labels = dict(INDICATORS)
    return render_template("former_districts.html", province=province, month=month,
                           province_name=unit_names(db.session, {province}).get(province,
                                                                                province),
                           national=s.level == NATIONAL,
                           groups=groups, total=total,
                           columns=[(name, labels.get(name, name)) for name in SHOWN])

"""Villages and collaborator areas (issue 13): list, add, rename, move, retire, assign a
collaborator; look up where a code — an old one too — is now. Thin handlers: parse, call
:mod:`server.orgunits.local`, commit, redirect; a move also recomputes the roll-ups."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from a0core.errors import A0Error
from server.extensions import db
from server.orgunits import local
from server.orgunits.lineage import where
from server.rollups.jobs import DEFAULT_WORKERS, full_recompute
from server.security.enrolment import find_collaborator
from server.security.scope import MANAGE_UNITS, NATIONAL, VIEW_SYNC
from server.sync.clock import server_clock
from server.web.dashboard.shell import (
    Refused,
    add_nav,
    bp,
    error_page,
    refused_form,
    scope,
    staff_page,
)
from server.web.http import form_id
from server.web.queries import enrolment as enrolment_queries
from server.web.queries import units as queries

add_nav("dashboard.units", lazy_gettext("Thôn và địa bàn"), MANAGE_UNITS, 35)


def _back(commune: str | None):
    return redirect(url_for("dashboard.units", commune=commune or None))


@bp.get("/units")
@staff_page(MANAGE_UNITS)
def units():
    return _units_page((request.args.get("commune") or "").strip()[:8])


def _units_page(code: str, refused: Refused | None = None):
    communes = queries.communes(db.session, scope())
    code = code or (communes[0][0] if communes and len(communes) == 1 else "")
    found = queries.commune(db.session, scope(), code) if code else None
    if code and found is None:  # an old or unknown code: say where it went
        if refused:
            return error_page(refused.error)
        return redirect(url_for("dashboard.unit_lookup", code=code))
    rows = local.list_units(db.session, scope(), code, include_retired=True) if found else []
    return render_template(
        "units.html", communes=communes, commune=found, rows=rows,
        villages=queries.villages(db.session, scope(), code) if found else [],
        collaborators=enrolment_queries.collaborators_of(db.session, scope(), code)
        if found else [], national=scope().level == NATIONAL,
        refused=refused), 400 if refused else 200


def _refused(error: A0Error, form: str, code: str):
    """A refusal of what was typed comes back beside its form (``form`` of unit
    ``code``; the new village form is ``add`` of the commune); others on the error page."""
    refused = refused_form(error, f"{form}:{code}")
    if refused is None:
        return error_page(error)
    return _units_page(_commune_of_form() or "", refused)


def _commune_of_form() -> str | None:
    return (request.form.get("commune") or "").strip()[:8] or None


@bp.post("/units/add")
@staff_page(MANAGE_UNITS)
def unit_add():
    commune = _commune_of_form()
    try:
        unit = local.add(db.session, scope(), request.form.get("parent", ""),
                         request.form.get("name", ""), by=scope().actor)
        db.session.commit()
    except A0Error as error:
        return _refused(error, "add", request.form.get("parent", "")[:32])
    flash(gettext("Đã thêm %(name)s (%(code)s).", name=unit.name, code=unit.code))
    return _back(commune)


@bp.post("/units/<code>/rename")
@staff_page(MANAGE_UNITS)
def unit_rename(code: str):
    try:
        local.rename(db.session, scope(), code, request.form.get("name", ""), by=scope().actor)
        db.session.commit()
    except A0Error as error:
        return _refused(error, "rename", code)
    flash(gettext("Đã đổi tên %(code)s.", code=code))
    return _back(_commune_of_form())


@bp.post("/units/<code>/retire")
@staff_page(MANAGE_UNITS)
def unit_retire(code: str):
    try:
        local.retire(db.session, scope(), code, by=scope().actor)
        db.session.commit()
    except A0Error as error:
        return _refused(error, "retire", code)
    flash(gettext("Đã ngừng %(code)s.", code=code))
    return _back(_commune_of_form())


@bp.post("/units/<code>/move")
@staff_page(MANAGE_UNITS)
def unit_move(code: str):
    try:
        migration = local.move(db.session, scope(), code, request.form.get("to", ""),
                               by=scope().actor)
        number = migration.id
        db.session.commit()
    except A0Error as error:
        return _refused(error, "move", code)
    full_recompute(db.session, workers=DEFAULT_WORKERS)  # the figures follow the move
    flash(gettext("Đã chuyển %(code)s cùng mọi hộ của nó (lần chuyển %(n)s).", code=code,
                  n=number))
    return _back(_commune_of_form())


@bp.post("/units/<code>/move-households")
@staff_page(MANAGE_UNITS)
def unit_move_households(code: str):
    try:
        moved = local.move_households(db.session, scope(), code, request.form.get("to", ""),
                                      by=scope().actor, hlc=server_clock(current_app).now())
        db.session.commit()
    except A0Error as error:
        return _refused(error, "move_households", code)
    full_recompute(db.session, workers=DEFAULT_WORKERS)
    flash(gettext("Đã chuyển %(n)s hộ của %(code)s.", n=moved, code=code))
    return _back(_commune_of_form())


@bp.post("/units/<code>/assign")
@staff_page(MANAGE_UNITS)
def unit_assign(code: str):
    form = request.form
    try:
        chosen = None
        if (wanted := form_id("collaborator_id", "collaborator_unknown")) is not None:
            chosen = find_collaborator(db.session, wanted, scope())
        who = local.assign(db.session, scope(), code, by=scope().actor, collaborator=chosen,
                           name=None if chosen else form.get("collaborator_name", ""),
                           phone=None if chosen else form.get("phone") or None,
                           new_person=form.get("new_person") == "1",
                           revoke_devices=form.get("revoke_devices") == "1")
        name = who.full_name
        db.session.commit()
    except A0Error as error:
        return _refused(error, "assign", code)
    flash(gettext("%(name)s phụ trách địa bàn %(code)s.", name=name, code=code))
    return _back(_commune_of_form())


@bp.get("/units/lookup")
@staff_page(VIEW_SYNC)
def unit_lookup():
    code = (request.args.get("code") or "").strip()[:32]
    found = where(db.session, code) if code else None
    if found is not None and found.current is None and found.old is None:
        return error_page(A0Error("orgunit_unknown", record=code), 404)
    return render_template("unit_lookup.html", code=code, found=found)


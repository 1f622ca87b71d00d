"""Commune staff pages: sync status, a device's batches and receipts, the conflicts
queue, enrolling and revoking devices, importing a batch file. Thin handlers: parse,
call the query or domain module, commit, render."""

from __future__ import annotations

import datetime as dt

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from a0core.enrol_uri import build_enrol_uri
from a0core.errors import A0Error
from server.extensions import db
from server.models.sync import REJECTED, WAITING
from server.security import enrolment
from server.security.scope import IMPORT_BATCHES, MANAGE_DEVICES, REVIEW, VIEW_SYNC
from server.security.totp import qr_svg
from server.sync.carried import import_carried_batch
from server.sync.review import resolve_conflict, typed_value
from server.sync.runtime import ingest_context
from server.web.dashboard.shell import (
    add_nav,
    bp,
    error_page,
    page_args,
    require,
    scope,
    staff_page,
)
from server.web.queries import conflicts as conflict_queries
from server.web.queries import enrolment as enrolment_queries
from server.web.queries import sync_status as status_queries

add_nav("dashboard.sync_status", lazy_gettext("Tình trạng đồng bộ"), VIEW_SYNC, 10)
add_nav("dashboard.conflicts", lazy_gettext("Xung đột"), REVIEW, 20)
add_nav("dashboard.enrol", lazy_gettext("Đăng ký máy"), MANAGE_DEVICES, 30)
add_nav("dashboard.import_batch", lazy_gettext("Nhập gói dữ liệu"), IMPORT_BATCHES, 40)


def _commune_arg() -> str | None:
    value = request.args.get("commune", "").strip()
    return value[:8] or None


@bp.get("/")
@staff_page(VIEW_SYNC)
def sync_status():
    page, per_page = page_args()
    commune, gaps_only = _commune_arg(), request.args.get("gaps") == "1"
    rows = status_queries.status_page(db.session, scope(), page, per_page, commune=commune,
                                      gaps_only=gaps_only)
    return render_template(
        "sync_status.html", rows=rows, commune=commune, gaps_only=gaps_only,
        summary=status_queries.status_summary(db.session, scope(), commune),
        communes=status_queries.communes_in_scope(db.session, scope()),
        may_manage=scope().may(MANAGE_DEVICES))


@bp.get("/devices/<device_id>")
@staff_page(VIEW_SYNC)
def device(device_id: str):
    found = require(status_queries.device_in_scope(db.session, scope(), device_id[:36]))
    page, per_page = page_args(20)
    return render_template(
        "device.html", row=status_queries.device_detail(db.session, found),
        batches=status_queries.batch_history(db.session, found, page, per_page),
        rejected=status_queries.open_ops(db.session, found, REJECTED),
        waiting=status_queries.open_ops(db.session, found, WAITING),
        may_manage=scope().may(MANAGE_DEVICES))


@bp.get("/batches/<batch_id>")
@staff_page(VIEW_SYNC)
def batch(batch_id: str):
    found = require(status_queries.batch_in_scope(db.session, scope(), batch_id[:36]))
    page, per_page = page_args(100)
    return render_template("batch.html", batch=found,
                           verdicts=status_queries.receipt_verdicts(found, page, per_page))


@bp.get("/conflicts")
@staff_page(REVIEW)
def conflicts():
    page, per_page = page_args(20)
    commune = _commune_arg()
    return render_template("conflicts.html", commune=commune,
                           conflicts=conflict_queries.open_conflicts(db.session, scope(), page,
                                                                     per_page, commune),
                           communes=status_queries.communes_in_scope(db.session, scope()))


@bp.post("/conflicts/<int:conflict_id>/resolve")
@staff_page(REVIEW)
def resolve(conflict_id: int):
    found = require(conflict_queries.conflict_in_scope(db.session, scope(), conflict_id))
    choice = request.form.get("choice")
    if choice == "other":  # neither side is right: the reviewer types the value
        value = typed_value(found.entity, found.field, request.form.get("other", ""))
        if value is None:
            return error_page(A0Error("choice_invalid"))
    elif choice in ("a", "b"):
        value = found.a_value if choice == "a" else found.b_value
    else:
        return error_page(A0Error("choice_invalid"))
    try:
        resolve_conflict(db.session, ingest_context(current_app), conflict_id, value,
                         scope().actor, scope())
        db.session.commit()
    except A0Error as error:
        return error_page(error)
    flash(gettext("Đã lưu lựa chọn cho xung đột #%(id)s.", id=conflict_id))
    return redirect(url_for("dashboard.conflicts", page=request.args.get("page", 1)))


@bp.route("/devices/enrol", methods=["GET", "POST"])
@staff_page(MANAGE_DEVICES)
def enrol():
    communes = status_queries.communes_in_scope(db.session, scope())
    commune = (request.values.get("commune") or "").strip()[:8] or (
        communes[0][0] if communes and len(communes) == 1
        else scope().code if scope().level == "commune" else None)
    context = {"communes": communes, "commune": commune,
               "areas": enrolment_queries.areas_of(db.session, scope(), commune)
               if commune else [],
               "collaborators": enrolment_queries.collaborators_of(db.session, scope(), commune)
               if commune else []}
    if request.method == "GET":
        return render_template("enrol.html", **context)
    form = request.form
    try:
        collaborator = None
        if form.get("collaborator_id"):
            try:
                wanted = int(form["collaborator_id"])
            except ValueError:
                raise A0Error("collaborator_unknown", record=form["collaborator_id"][:20]) \
                    from None
            collaborator = enrolment.find_collaborator(db.session, wanted, scope())
        ttl = dt.timedelta(seconds=current_app.config["A0SYNC_ENROL_CODE_TTL_S"])
        code, row = enrolment.issue_code(
            db.session, area_code=form.get("area_code", ""), collaborator=collaborator,
            collaborator_name=None if collaborator else form.get("collaborator_name", ""),
            phone=None if collaborator else form.get("phone") or None,
            created_by=scope().actor, scope=scope(), ttl=ttl)
        issued = {"code": code, "expires_at": row.expires_at, "area_code": row.area_code,
                  "collaborator": row.collaborator.full_name}
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        return render_template("enrol.html", error=error, form=form, **context), \
            {"forbidden": 403, "collaborator_unknown": 404}.get(error.code, 400)
    return render_template("enrol_code.html", issued=issued,
                           qr=qr_svg(build_enrol_uri(request.url_root, issued["code"])))


@bp.post("/devices/<device_id>/revoke")
@staff_page(MANAGE_DEVICES)
def revoke(device_id: str):
    require(status_queries.device_in_scope(db.session, scope(), device_id[:36]))
    try:
        enrolment.revoke_device(db.session, device_id, by=scope().actor, scope=scope())
        db.session.commit()
    except A0Error as error:
        return error_page(error)
    flash(gettext("Đã thu hồi máy. Máy này không thể gửi dữ liệu nữa."))
    return redirect(url_for("dashboard.device", device_id=device_id))


@bp.route("/import", methods=["GET", "POST"])
@staff_page(IMPORT_BATCHES)
def import_batch():
    if request.method == "GET":
        return render_template("import.html")
    limit = current_app.config["A0SYNC_MAX_BATCH_BYTES"]
    try:
        if request.content_length is not None and request.content_length > limit + 65536:
            raise A0Error("batch_too_large", limit=limit)
        upload = request.files.get("batch")
        if upload is None or not upload.filename:
            raise A0Error("batch_file_missing")
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            raise A0Error("batch_too_large", limit=limit)
        receipt = import_carried_batch(db.session, data, ingest_context(current_app), scope(),
                                       filename=upload.filename, ip=request.remote_addr)
    except A0Error as error:
        db.session.rollback()
        return render_template("import.html", error=error), \
            {"device_unknown": 404, "batch_too_large": 413}.get(error.code, 400)
    found = status_queries.batch_in_scope(db.session, scope(), receipt["batch"])
    counts: dict[str, int] = {}
    for verdict in receipt["verdicts"]:
        counts[verdict["verdict"]] = counts.get(verdict["verdict"], 0) + 1
    return render_template("import.html", receipt=receipt, counts=counts, batch=found,
                           verdicts=status_queries.receipt_verdicts(found, 1, 100)
                           if found else None)

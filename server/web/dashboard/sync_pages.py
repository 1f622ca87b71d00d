"""Commune staff pages: sync status, a device's batches and receipts, the conflicts
queue, enrolling and revoking devices, importing a batch file. Thin handlers: parse,
call the query or domain module, commit, render."""

from __future__ import annotations

import datetime as dt

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from a0core import p0
from a0core.enrol_uri import build_enrol_uri
from a0core.errors import A0Error
from server import formats
from server.extensions import db
from server.models.people import Device
from server.models.sync import REJECTED, WAITING
from server.reporting import deadline_day
from server.reporting.status import area_months
from server.security import enrolment
from server.security.scope import IMPORT_BATCHES, MANAGE_DEVICES, NATIONAL, REVIEW, VIEW_SYNC
from server.security.totp import qr_svg
from server.sync.carried import import_carried_batch
from server.sync.describe import describe_ops, waits
from server.sync.locks import again_if_crossed
from server.sync.review import resolve_conflict, typed_value
from server.sync.runtime import ingest_context
from server.web.dashboard.shell import (
    Refused,
    add_nav,
    audit_page,
    bp,
    error_page,
    page_args,
    refused_form,
    require,
    scope,
    staff_page,
)
from server.web.http import form_id
from server.web.queries import conflicts as conflict_queries
from server.web.queries import enrolment as enrolment_queries
from server.web.queries import sync_status as status_queries

add_nav("dashboard.sync_status", lazy_gettext("Tình trạng đồng bộ"), VIEW_SYNC, 10,
        count=lambda where: status_queries.overdue_slips(db.session, where, p0.vn_day(),
                                                         deadline_day()),
        count_label=lazy_gettext("địa bàn chưa nộp phiếu P0 quá hạn"))
add_nav("dashboard.conflicts", lazy_gettext("Xung đột"), REVIEW, 20,
        count=lambda where: conflict_queries.open_count(db.session, where),
        count_label=lazy_gettext("xung đột chờ xem xét"))
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
    # the slips due now, and before their deadline the month before (still missing
    # ones are overdue: the menu counts them)
    today, day = p0.vn_day(), deadline_day()
    months = sorted({status_queries.overdue_month(today, day), p0.last_closed_month(today)},
                    reverse=True)
    return render_template(
        "sync_status.html", rows=rows, commune=commune, gaps_only=gaps_only,
        summary=status_queries.status_summary(db.session, scope(), commune),
        communes=status_queries.communes_in_scope(db.session, scope()),
        may_manage=scope().may(MANAGE_DEVICES),
        slip_months=[(m, formats.day(p0.deadline(m, day)),
                      status_queries.slip_totals(db.session, scope(), commune, m))
                     for m in months],
        slips=area_months(db.session, {r.collaborator.area_code for r in rows.items}, months),
        sections=p0.section_labels(formats.language()))


@bp.get("/devices/<device_id>")
@staff_page(VIEW_SYNC)
def device(device_id: str):
    found = require(status_queries.device_in_scope(db.session, scope(), device_id[:36]))
    page, per_page = page_args(20)
    rejected = status_queries.open_ops(db.session, found, REJECTED)
    waiting = status_queries.open_ops(db.session, found, WAITING)
    return render_template(
        "device.html", row=status_queries.device_detail(db.session, found),
        batches=status_queries.batch_history(db.session, found, page, per_page),
        rejected=rejected, waiting=waiting, may_manage=scope().may(MANAGE_DEVICES),
        described=describe_ops(db.session, found.id, (op.seq for op in rejected + waiting),
                               formats.language()),
        waits=waits(db.session, waiting, formats.language()))


@bp.get("/batches/<batch_id>")
@staff_page(VIEW_SYNC)
def batch(batch_id: str):
    found = require(status_queries.batch_in_scope(db.session, scope(), batch_id[:36]))
    page, per_page = page_args(100)
    verdicts = status_queries.receipt_verdicts(found, page, per_page)
    return render_template("batch.html", batch=found, verdicts=verdicts,
                           device=db.session.get(Device, found.device_id),
                           described=_described(found, verdicts))


def _described(batch, verdicts) -> dict[int, str]:
    """What each operation on this page of a receipt was, in the page's language."""
    return describe_ops(db.session, batch.device_id, (v["seq"] for v in verdicts.items),
                        formats.language())


@bp.get("/conflicts")
@staff_page(REVIEW)
def conflicts():
    return _conflicts_page()


def _conflicts_page(refused: Refused | None = None):
    page, per_page = page_args(20)
    commune = _commune_arg()
    shown = conflict_queries.open_conflicts(db.session, scope(), page, per_page, commune)
    audit_page("conflicts.view", (v.conflict.entity_id for v in shown.items), commune)
    return render_template("conflicts.html", commune=commune, conflicts=shown,
                           communes=status_queries.communes_in_scope(db.session, scope()),
                           refused=refused), 400 if refused else 200


@bp.post("/conflicts/<int:conflict_id>/resolve")
@staff_page(REVIEW)
def resolve(conflict_id: int):
    found = require(conflict_queries.conflict_in_scope(db.session, scope(), conflict_id))
    choice = request.form.get("choice")
    if choice == "other":  # neither side is right: the reviewer types the value
        value = typed_value(found.entity, found.field, request.form.get("other", ""))
        if value is None:
            return _conflicts_page(refused_form(A0Error("other_value_missing"),
                                                str(conflict_id)))
    elif choice in ("a", "b"):
        value = found.a_value if choice == "a" else found.b_value
    else:
        return error_page(A0Error("choice_invalid"))

    def once() -> None:
        resolve_conflict(db.session, ingest_context(current_app), conflict_id, value,
                         scope().actor, scope())
        db.session.commit()

    try:
        again_if_crossed(db.session, once)
    except A0Error as error:
        refused = refused_form(error, str(conflict_id))
        return _conflicts_page(refused) if refused else error_page(error)
    flash(gettext("Đã lưu lựa chọn cho xung đột #%(id)s.", id=conflict_id))
    return redirect(url_for("dashboard.conflicts", page=request.args.get("page", 1),
                            commune=_commune_arg()))


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
    if request.method != "POST":  # GET and HEAD only read
        return render_template("enrol.html", **context)
    form = request.form
    try:
        collaborator = None
        if (wanted := form_id("collaborator_id", "collaborator_unknown")) is not None:
            collaborator = enrolment.find_collaborator(db.session, wanted, scope())
        ttl = dt.timedelta(seconds=current_app.config["A0SYNC_ENROL_CODE_TTL_S"])
        code, row = enrolment.issue_code(
            db.session, area_code=form.get("area_code", ""), collaborator=collaborator,
            collaborator_name=None if collaborator else form.get("collaborator_name", ""),
            phone=None if collaborator else form.get("phone") or None,
            created_by=scope().actor, scope=scope(), ttl=ttl,
            new_person=form.get("new_person") == "1")
        issued = {"code": code, "expires_at": row.expires_at, "area_code": row.area_code,
                  "collaborator": row.collaborator.full_name}
        db.session.commit()
    except A0Error as error:
        db.session.rollback()
        return render_template("enrol.html", error=error, form=form, **context), \
            {"forbidden": 403, "collaborator_unknown": 404}.get(error.code, 400)
    return render_template("enrol_code.html", issued=issued,
                           qr=qr_svg(build_enrol_uri(request.url_root, issued["code"])))


@bp.route("/devices/<device_id>/revoke", methods=["GET", "POST"])
@staff_page(MANAGE_DEVICES)
def revoke(device_id: str):
    """A confirmation step first (GET: what revoking means for this device, what has
    not arrived from it yet); the POST of that page, with ``confirm=1``, revokes."""
    found = require(status_queries.device_in_scope(db.session, scope(), device_id[:36]))
    if request.method != "POST" or request.form.get("confirm") != "1":
        if found.revoked_at is not None:
            return redirect(url_for("dashboard.device", device_id=found.id))
        return render_template("revoke_confirm.html",
                               row=status_queries.device_detail(db.session, found))
    return _device_change(device_id, enrolment.revoke_device,
                          gettext("Đã thu hồi máy. Máy này không thể gửi dữ liệu nữa."))


@bp.post("/devices/<device_id>/reinstate")
@staff_page(MANAGE_DEVICES)
def reinstate(device_id: str):
    return _device_change(device_id, enrolment.reinstate_device,
                          gettext("Đã khôi phục máy. Máy này lại gửi được dữ liệu."))


def _device_change(device_id: str, change, done: str):
    """Revoke or reinstate a device in scope, then back to its page."""
    require(status_queries.device_in_scope(db.session, scope(), device_id[:36]))
    try:
        change(db.session, device_id, by=scope().actor, scope=scope())
        db.session.commit()
    except A0Error as error:
        return error_page(error)
    flash(done)
    return redirect(url_for("dashboard.device", device_id=device_id))


@bp.route("/import", methods=["GET", "POST"])
@staff_page(IMPORT_BATCHES)
def import_batch():
    may_override = scope().level == NATIONAL  # an administrator's decision
    if request.method != "POST":  # GET and HEAD only read
        return render_template("import.html", may_override=may_override)
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
        receipt = import_carried_batch(
            db.session, data, ingest_context(current_app), scope(), filename=upload.filename,
            ip=request.remote_addr, accept_revoked=request.form.get("accept_revoked") == "1")
    except A0Error as error:
        db.session.rollback()
        return render_template("import.html", error=error, may_override=may_override), \
            {"device_unknown": 404, "batch_too_large": 413, "forbidden": 403,
             "device_revoked": 403, "batch_sealed_after_revocation": 403}.get(error.code, 400)
    found = status_queries.batch_in_scope(db.session, scope(), receipt["batch"])
    verdicts = status_queries.receipt_verdicts(found, 1, 100) if found else None
    return render_template("import.html", receipt=receipt, batch=found,
                           may_override=may_override, verdicts=verdicts,
                           described=_described(found, verdicts) if found else {})

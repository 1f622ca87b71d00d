"""The duplicates queue for commune staff: the list (most likely pairs first), the two
records side by side with their households and fellow members, merge (choosing the
record that stays), reject, and undo a merge. Thin handlers over
:mod:`server.sync.duplicates.review`, which checks, writes, audits and commits."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from a0core.errors import A0Error
from server.extensions import db
from server.models.duplicates import MERGED, OPEN
from server.security.scope import MERGE
from server.sync.clock import server_clock
from server.sync.duplicates import review
from server.sync.duplicates.explain import explain
from server.web.dashboard.shell import (
    add_nav,
    audit_page,
    bp,
    error_page,
    page_args,
    require,
    scope,
    staff_page,
)
from server.web.http import commit_read
from server.web.queries import duplicates as queries
from server.web.queries import sync_status as status_queries

add_nav("dashboard.duplicates", lazy_gettext("Trùng lặp"), MERGE, 25,
        count=lambda where: sum(review.count_candidates(db.session, where).values()),
        count_label=lazy_gettext("cặp chờ xem xét"))

# refusals of the review domain → HTTP status (a pair outside the scope looks absent)
STATUS = {"duplicate_out_of_scope": 404, "duplicate_not_open": 409, "duplicate_not_merged": 409,
          "duplicate_stale": 409, "duplicate_already_merged": 409,
          "duplicate_record_deleted": 409, "duplicate_survivor_invalid": 400}


def _refused(error: A0Error):
    return error_page(error, STATUS.get(error.code))


@bp.get("/duplicates")
@staff_page(MERGE)
def duplicates():
    status, kind = queries.clean_filters(request.args.get("status"), request.args.get("kind"))
    commune = request.args.get("commune", "").strip()[:8] or None
    page, per_page = page_args(20)
    pairs = queries.pair_page(db.session, scope(), status, kind, commune, page, per_page)
    audit_page("duplicates.view", (i for row in pairs.items
                                   for i in (row.pair.a_id, row.pair.b_id)), commune)
    return render_template("duplicates.html", status=status, kind=kind, commune=commune,
                           pairs=pairs,
                           counts=review.count_candidates(db.session, scope()),
                           communes=status_queries.communes_in_scope(db.session, scope()))


@bp.get("/duplicates/<int:candidate_id>")
@staff_page(MERGE)
def duplicate(candidate_id: int):
    require(queries.candidate_in_scope(db.session, scope(), candidate_id))
    try:
        view = review.candidate_view(db.session, scope(), candidate_id, actor=scope().actor)
        commit_read(db.session)  # the person-level read's audit row
    except A0Error as error:
        return _refused(error)
    kind = view["candidate"]["kind"]
    why = queries.dated(explain(view["candidate"]["reasons"], view["a"], view["b"]),
                        view["a"], view["b"]) if kind == "member" else []
    return render_template("duplicate.html", view=view, c=view["candidate"], kind=kind,
                           rows=queries.compare(kind, view["a"], view["b"], queries.area_names(
                               db.session, view["a"], view["b"])), why=why,
                           OPEN=OPEN, MERGED=MERGED)


@bp.post("/duplicates/<int:candidate_id>/merge")
@staff_page(MERGE)
def merge(candidate_id: int):
    require(queries.candidate_in_scope(db.session, scope(), candidate_id))
    survivor = request.form.get("survivor", "")[:36]
    try:
        review.merge_candidate(db.session, server_clock(current_app), candidate_id, survivor,
                               scope=scope(), actor=scope().actor,
                               expected_version=request.form.get("version") or None)
    except A0Error as error:
        return _refused(error)
    flash(gettext("Đã gộp cặp #%(id)s. Có thể hoàn tác nếu nhầm.", id=candidate_id))
    return redirect(url_for("dashboard.duplicate", candidate_id=candidate_id))


@bp.post("/duplicates/<int:candidate_id>/reject")
@staff_page(MERGE)
def reject(candidate_id: int):
    require(queries.candidate_in_scope(db.session, scope(), candidate_id))
    try:
        review.reject_candidate(db.session, candidate_id, scope=scope(), actor=scope().actor)
    except A0Error as error:
        return _refused(error)
    flash(gettext("Cặp #%(id)s không phải trùng lặp: đã bỏ khỏi danh sách.", id=candidate_id))
    return redirect(url_for("dashboard.duplicates"))


@bp.post("/duplicates/<int:candidate_id>/undo")
@staff_page(MERGE)
def undo(candidate_id: int):
    require(queries.candidate_in_scope(db.session, scope(), candidate_id))
    try:
        review.undo_merge(db.session, server_clock(current_app), candidate_id, scope=scope(),
                          actor=scope().actor)
    except A0Error as error:
        return _refused(error)
    flash(gettext("Đã hoàn tác việc gộp cặp #%(id)s.", id=candidate_id))
    return redirect(url_for("dashboard.duplicate", candidate_id=candidate_id))

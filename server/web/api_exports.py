"""HTTP exports: ``GET /api/v1/exports/<rollups|persons>.<csv|xlsx|json>``.

Thin: parse, take the scope, call :mod:`server.exports.service`, stream. The
scope comes from :func:`request_scope` alone: an API token
(``Authorization: Bearer``, a district system) or else the dashboard's logged-in
session; nobody is refused ``login_required``. Filters for roll-ups: ``month``,
``level``, ``unit`` (repeatable; checked by :mod:`server.exports.filters`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from flask import Blueprint, Response, request, stream_with_context

from a0core.errors import A0Error
from server.exports import writers
from server.exports.queries import RollupFilter
from server.exports.service import Export, audit_export, count_rows, open_export
from server.extensions import db
from server.security.api_tokens import authenticate_token, bearer_token
from server.security.scope import Scope
from server.web.dashboard.shell import scope as dashboard_scope
from server.web.errors import error_response
from server.web.http import commit_read
from server.web.openapi import api_doc, query

bp = Blueprint("api_exports", __name__, url_prefix="/api/v1/exports")
STATUS = {"person_level_forbidden": 403, "login_required": 401, "not_found": 404}


STATUS.update({"api_token_missing": 401, "api_token_invalid": 401, "api_token_revoked": 401,
               "export_format_unknown": 400})


def request_scope() -> Scope:
    """The one place this blueprint learns who is asking: a bearer token's user, else
    the dashboard session's user (the dashboard's own scope helper); nobody →
    ``login_required``. A present but bad token is refused, never ignored."""
    header = request.headers.get("Authorization")
    if header:
        token = authenticate_token(db.session, bearer_token(header))
        return Scope.for_user(db.session, token.user)
    scope = dashboard_scope()
    if scope.level == "none":
        raise A0Error("login_required")
    return scope


@bp.get("/<kind>.<fmt>")
@api_doc("Xuất số liệu / export roll-ups or person-level records", tags=["exports"],
         security=["sessionCookie", "bearerToken"],
         description="`rollups`: one row per (unit, month, indicator) in the caller's scope; "
         "`persons`: person-level records, only with person access (audited). "
         "Formats csv, xlsx, json (roll-ups in xlsx: Vietnamese headings in row 1, the "
         "column codes in row 2, names beside the codes). "
         "Dữ liệu theo phạm vi của tài khoản.",
         params=(query("month", "Tháng / month YYYY-MM (repeatable; roll-ups only)"),
         query("level", "Cấp / unit level (repeatable; roll-ups only)"),
         query("unit", "Mã đơn vị / unit code (repeatable; roll-ups only)")),
         responses={200: ("The file (attachment)", None)},
         errors={400: ("export_format_unknown", "request_malformed", "orgunit_unknown",
                       "orgunit_replaced"),
                 401: ("login_required", "api_token_missing", "api_token_invalid",
                       "api_token_revoked"),
                 403: ("person_level_forbidden",), 404: ("not_found",)})
def export(kind: str, fmt: str) -> Response:
    try:
        scope = request_scope()
        if scope.level == "none":
            raise A0Error("login_required")
        where = RollupFilter(request.args.getlist("month"), request.args.getlist("level"),
                             request.args.getlist("unit"))
        job = open_export(db.session, scope, kind, fmt, where)
    except A0Error as error:
        db.session.rollback()
        return error_response(error, STATUS.get(error.code))
    headers = {"Content-Disposition": f'attachment; filename="{job.filename}"'}
    if fmt == "xlsx":  # written whole first: its rows are counted before it leaves
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        job.write(spool)
        spool.seek(0)
        audit_export(db.session, scope, job, rows=job.rows.count, ip=request.remote_addr)
        commit_read(db.session)
        return Response(_drain(spool), content_type=writers.CONTENT_TYPES[fmt],
                        headers=headers)
    logged = audit_export(db.session, scope, job, rows=None, ip=request.remote_addr)
    commit_read(db.session)  # the read is logged before the first byte leaves
    audit_id = logged.id if logged is not None and request.method != "HEAD" else None
    return Response(stream_with_context(_counted(job, audit_id)),
                    content_type=writers.CONTENT_TYPES[fmt], headers=headers)


def _counted(job: Export, audit_id: int | None) -> Iterator[bytes]:
    """The stream; then the rows it sent go on its audit row (also when cut short)."""
    try:
        yield from job.chunks()
    finally:
        if audit_id is not None:
            count_rows(db.session, audit_id, job.rows.count)


def _drain(spool: tempfile.SpooledTemporaryFile) -> Iterator[bytes]:
    """Send the spooled workbook, then close (delete) it."""
    with spool:
        while chunk := spool.read(64 * 1024):
            yield chunk

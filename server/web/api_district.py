"""The district data API under ``/api/v1/district`` (docs/district-api.md). Thin handlers.

A district or province system is a machine: it sends ``Authorization: Bearer
<token>`` (:mod:`server.security.api_tokens`) and reads incremental, cursor-paged
feeds (:mod:`server.district.feeds`) within its user's scope. The handler
authenticates, parses the query, calls the domain, commits (the audit row of a
person-level page and the token's last use) and only then renders the page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request

from server.district import feeds
from server.district.cursor import cursor_key
from server.extensions import db
from server.security.api_tokens import authenticate_token, bearer_token
from server.security.scope import Scope
from server.web.http import commit_read
from server.web.openapi import api_doc, query

bp = Blueprint("api_district", __name__, url_prefix="/api/v1/district")

TOKEN_ERRORS = ("api_token_missing", "api_token_invalid", "api_token_revoked")
PAGE_PARAMS = (
    query("cursor", "Con trỏ trang trước / the `cursor` of the previous page; none to start "
          "from the beginning. Opaque, signed, bound to this feed, account and unit."),
    query("limit", f"Số dòng tối đa / most rows in the page (1–{feeds.MAX_LIMIT})",
          {"type": "integer", "minimum": 1, "maximum": feeds.MAX_LIMIT,
           "default": feeds.DEFAULT_LIMIT}),
    query("unit", "Chỉ một đơn vị trong phạm vi / only one org unit within the account's "
          "scope (province, district, commune or area code)"),
)


@bp.after_request
def _headers(response):  # no-store, as on every response: server/web/http.py
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="a0sync"'
    return response


def _page_schema(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["feed", "items", "count", "more", "cursor"],
            "properties": {"feed": {"type": "string"}, "items": {"type": "array", "items": item},
                           "count": {"type": "integer"}, "more": {"type": "boolean"},
                           "cursor": {"type": "string"}}}


def _item_schema(feed: feeds.Feed) -> dict[str, Any]:
    objects = {"data", "payload"}
    props: dict[str, Any] = {"id": {"type": "string"}, "seq": {"type": "integer"}}
    for name in feed.columns:
        if name in objects:
            props[name] = {"type": "object"}
        elif name in ("deleted", "voided", "pregnant", "active"):
            props[name] = {"type": "boolean"}
        elif name not in props:
            props[name] = {"type": ["string", "integer", "null"]}
    return {"type": "object", "properties": props}


def _authenticate() -> tuple[Any, Scope]:
    """The request's token and its user's scope (memoised for the request)."""
    if "a0_api_token" not in g or g.get("a0_api_environ") is not request.environ:
        token = authenticate_token(db.session, bearer_token(request.headers.get("Authorization")))
        g.a0_api_environ = request.environ
        g.a0_api_token = (token, Scope.for_user(db.session, token.user))
    return g.a0_api_token


def _serve_feed(name: str):
    try:
        token, scope = _authenticate()
        limit = feeds.parse_limit(request.args.get("limit"))
        ctx = feeds.ReadContext(scope=scope, endpoint=request.path,
                                cursor_key=cursor_key(current_app.config["SECRET_KEY"]),
                                ip=request.remote_addr, via={"api_token": token.id})
        page = feeds.read_page(db.session, ctx, name, cursor=request.args.get("cursor"),
                               limit=limit, unit_code=request.args.get("unit"))
        commit_read(db.session)
    except BaseException:
        db.session.rollback()
        raise
    return jsonify(page)


def _feed_doc(feed: feeds.Feed, summary: str):
    errors = {400: ("cursor_invalid", "request_malformed", "orgunit_unknown", "orgunit_replaced",
                    "unit_level_unsupported"),
              401: TOKEN_ERRORS,
              403: (("forbidden", "person_access_required", "unit_out_of_scope")
                    if feed.person_level else ("forbidden", "unit_out_of_scope"))}
    person = ("Dữ liệu cá nhân: cần quyền xem dữ liệu cá nhân; mỗi trang được ghi nhật ký. "
              "Person-level: needs person access; every page read is written to the audit log. "
              if feed.person_level else "")
    return api_doc(
        summary, tags=["district"], params=PAGE_PARAMS, security=["bearerToken"],
        description=person + "Rows changed after the cursor (updates, tombstones, voids, "
        "merges), by province then change sequence. Read until `more` is false; keep the last "
        "`cursor` and send it next time to get only what changed since.",
        responses={200: ("A page of changes", _page_schema(_item_schema(feed)))},
        errors=errors)


@bp.get("/scope")
@api_doc("Phạm vi của mã truy cập / what this token reaches", tags=["district"],
         security=["bearerToken"], errors={401: TOKEN_ERRORS},
         responses={200: ("The token's user, role and scope", {
             "type": "object", "required": ["user", "role", "scope", "feeds"],
             "properties": {"user": {"type": "string"}, "role": {"type": "string"},
                            "token": {"type": "object", "properties": {
                                "id": {"type": "integer"}, "label": {"type": "string"}}},
                            "scope": {"type": "object", "required": ["level", "code",
                                                                     "person_level"]},
                            "feeds": {"type": "array", "items": {"type": "object"}}}})})
def scope_info():
    try:
        token, scope = _authenticate()
        answer = {"user": token.user.username, "role": token.user.role,
                  "token": {"id": token.id, "label": token.label},
                  "scope": feeds.describe_scope(scope),
                  "feeds": [{"name": f.name, "person_level": f.person_level,
                             "allowed": scope.level != "none"
                             and (scope.person_level or not f.person_level)}
                            for f in feeds.FEEDS.values()]}
        commit_read(db.session)
    except BaseException:
        db.session.rollback()
        raise
    return jsonify(answer)


@bp.get("/households")
@_feed_doc(feeds.FEEDS["households"], "Hộ gia đình / households")
def households():
    return _serve_feed("households")


@bp.get("/members")
@_feed_doc(feeds.FEEDS["members"], "Nhân khẩu / members (person-level)")
def members():
    return _serve_feed("members")


@bp.get("/events")
@_feed_doc(feeds.FEEDS["events"], "Sự kiện biến động / events of the change slip")
def events():
    return _serve_feed("events")


@bp.get("/distributions")
@_feed_doc(feeds.FEEDS["distributions"], "Cấp phát phương tiện tránh thai / distributions")
def distributions():
    return _serve_feed("distributions")


@bp.get("/aliases")
@_feed_doc(feeds.FEEDS["aliases"], "Bản ghi trùng đã gộp / merge redirects (old id → survivor)")
def aliases():
    return _serve_feed("aliases")


@bp.get("/stock_movements")
@_feed_doc(feeds.FEEDS["stock_movements"],
           "Phiếu xuất nhập phương tiện tránh thai / contraceptive stock movements (LMIS)")
def stock_movements():
    return _serve_feed("stock_movements")


def init_app(app: Flask) -> None:
    """Register the district API and the OpenAPI document (one line in ``create_app``)."""
    from server.web.errors import STATUS
    from server.web.openapi import bp as openapi_bp

    STATUS.update({"api_token_missing": 401, "api_token_invalid": 401,
                   "api_token_revoked": 401, "person_access_required": 403,
                   "unit_out_of_scope": 403})
    app.register_blueprint(bp)
    app.register_blueprint(openapi_bp)

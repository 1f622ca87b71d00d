"""Refusals over HTTP: every A0Error becomes ``{"error": {code, message_vi, message_en}}``.

An address that does not exist (404) or a method a route does not take (405,
with ``Allow``) gets the same coded answer under ``/api/``, and the dashboard's
error page elsewhere: never the framework's own page. An unexpected failure (500)
is ``internal_error`` under ``/api/``, never a traceback.
"""

from __future__ import annotations

from flask import Flask, jsonify, make_response, request
from werkzeug.exceptions import HTTPException

from a0core.errors import A0Error

STATUS = {
    "batch_too_large": 413,
    "device_unknown": 401,
    "request_signature_invalid": 401,
    "batch_signature_invalid": 401,
    "device_revoked": 403,
    "forbidden": 403,
    "login_required": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "enrol_code_used": 409,
    "enrol_code_expired": 410,
    "collaborator_unknown": 404,
    "username_taken": 409,
    "enrol_throttled": 429,
    "login_throttled": 429,
    "server_busy": 503,
    "database_unavailable": 503,
}


def error_response(error: A0Error, status: int | None = None):
    status = status or STATUS.get(error.code, 400)
    if status == 503:  # come back later (server.web.outage)
        from server.web.outage import unavailable_response

        return unavailable_response(error.code)
    return jsonify({"error": error.to_dict()}), status


def register(app: Flask) -> None:
    app.register_error_handler(A0Error, error_response)

    @app.errorhandler(413)
    def _too_large(_exc: HTTPException):
        return error_response(A0Error("batch_too_large",
                                      limit=app.config["A0SYNC_MAX_BATCH_BYTES"]))

    @app.errorhandler(500)
    def _internal(exc: HTTPException):
        """A bug: Flask has logged the traceback; an API client gets a code, not a page."""
        if not request.path.startswith("/api/"):
            return exc
        return error_response(A0Error("internal_error"), 500)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _no_route(exc: HTTPException):
        error = A0Error("not_found") if exc.code == 404 else \
            A0Error("method_not_allowed", method=request.method[:10])
        if request.path.startswith("/api/"):
            response = make_response(error_response(error, exc.code))
        else:
            from server.web.dashboard.shell import error_page

            response = make_response(error_page(error, exc.code))
        if exc.code == 405:
            response.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None)
                                                         or ()))
        return response

"""Refusals over HTTP: every A0Error becomes ``{"error": {code, message_vi, message_en}}``."""

from __future__ import annotations

from flask import Flask, jsonify
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
    "enrol_code_used": 409,
    "enrol_code_expired": 410,
    "collaborator_unknown": 404,
    "username_taken": 409,
}


def error_response(error: A0Error, status: int | None = None):
    body = {"error": error.to_dict()}
    return jsonify(body), status or STATUS.get(error.code, 400)


def register(app: Flask) -> None:
    app.register_error_handler(A0Error, error_response)

    @app.errorhandler(413)
    def _too_large(_exc: HTTPException):
        return error_response(A0Error("batch_too_large",
                                      limit=app.config["A0SYNC_MAX_BATCH_BYTES"]))

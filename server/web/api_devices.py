"""Device enrolment and management over HTTP, under ``/api/v1`` (docs/protocol.md).

Thin handlers: parse, call :mod:`server.security.enrolment`, commit or roll back.

* ``POST /devices/enrol`` — the app, with a one-time code (no login, no signature);
* ``GET /devices/me`` — a signed device request: the device's own status (with the
  ranges of its sequence that never arrived), or ``device_revoked`` (how the app
  learns that it was revoked);
* ``POST /enrolment-codes`` and ``POST /devices/<id>/revoke`` — logged-in staff,
  within their scope. Both take a JSON body (``{}`` for a revocation): a
  cross-site form cannot send ``application/json``, so a forged request from
  another site is refused before the dashboard's CSRF tokens exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from a0core.envelope import request_target, strict_loads
from a0core.errors import A0Error
from server.extensions import db
from server.models.base import utcnow
from server.security import enrolment
from server.security.keys import keystore_for
from server.security.login import policy_from as login_policy
from server.security.session import current_scope, login_required
from server.sync.clock import server_clock
from server.sync.ledger import sequence_states
from server.web.openapi import api_doc, protocol_ref

bp = Blueprint("api_devices", __name__, url_prefix="/api/v1")

MAX_JSON_BYTES = 16 * 1024
ENROL_KEYS = frozenset({"code", "sign_public_key", "box_public_key", "label", "hlc"})
CODE_KEYS = frozenset({"area_code", "collaborator_name", "collaborator_id", "phone"})


def _transaction(view: Callable[..., Any]) -> Callable[..., Any]:
    """Commit what the handler did, or roll all of it back on any refusal or failure."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = view(*args, **kwargs)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return result

    return wrapper


def _json_body(allowed: frozenset[str]) -> dict[str, Any]:
    """The request's JSON object: ``application/json``, small, strict, no unknown keys."""
    if request.mimetype != "application/json":
        raise A0Error("request_malformed")
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise A0Error("request_malformed")
    data = request.stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise A0Error("request_malformed")
    try:
        doc = strict_loads(data or b"{}")
    except (ValueError, RecursionError):
        raise A0Error("request_malformed") from None
    if not isinstance(doc, dict):
        raise A0Error("request_malformed")
    extra = sorted(set(doc) - allowed)
    if extra:
        raise A0Error("request_malformed", field=extra[0][:48])
    return doc


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.post("/devices/enrol")
@api_doc("Đăng ký máy bằng mã một lần / enrol a device with a one-time code",
         tags=["devices"], body=protocol_ref("enrol_request.v1"),
         responses={200: ("The device's identity, area and the server key",
                          protocol_ref("enrol_response.v1"))},
         errors={400: ("request_malformed", "enrol_code_unknown", "device_key_invalid",
                       "field_required", "field_too_long", "field_type", "hlc_future"),
                 409: ("enrol_code_used",), 410: ("enrol_code_expired",),
                 429: ("enrol_throttled",)})
@_transaction
def enrol():
    doc = _json_body(ENROL_KEYS)
    missing = sorted(ENROL_KEYS - set(doc))
    if missing:
        raise A0Error("request_malformed", field=missing[0])
    hlc = doc["hlc"]
    if type(hlc) is not int or not 0 <= hlc < 2**63:
        raise A0Error("request_malformed", field="hlc")
    ip = request.remote_addr or "unknown"
    try:
        enrolment.refuse_if_throttled_enrolment(db.session, doc["code"], ip,
                                                login_policy(current_app.config))
    except A0Error:
        db.session.commit()  # the refusal's audit row
        raise
    try:
        answer = enrolment.enrol_device(
            db.session, code=doc["code"], sign_public_key=doc["sign_public_key"],
            box_public_key=doc["box_public_key"], label=doc["label"],
            server_key=keystore_for(current_app).public(), now=utcnow(),
            clock=server_clock(current_app), device_hlc=hlc,
            max_clock_ahead_ms=current_app.config["A0SYNC_MAX_CLOCK_AHEAD_S"] * 1000)
    except A0Error as error:
        db.session.rollback()
        enrolment.record_failed_enrolment(db.session, doc["code"], ip, error)
        db.session.commit()
        raise
    return jsonify(answer)


@bp.get("/devices/me")
@api_doc("Trạng thái của máy / the signed device's own status", tags=["devices"],
         security=["deviceSignature"],
         responses={200: ("Profile and status of the device", {
             "type": "object", "required": ["device_id", "status", "server_hlc",
                                            "highest_contiguous_seq", "max_seq", "missing"],
             "properties": {"device_id": {"type": "string"}, "status": {"const": "active"},
                            "enrolled_at": {"type": "string", "format": "date-time"},
                            "server_hlc": {"type": "integer"},
                            "highest_contiguous_seq": {"type": "integer"},
                            "max_seq": {"type": "integer"},
                            "missing": {"type": "array", "items": {
                                "type": "array", "items": {"type": "integer"}}}}})},
         errors={401: ("device_unknown", "request_signature_invalid"),
                 403: ("device_revoked",)})
@_transaction
def device_me():
    device = enrolment.authenticate_request(
        db.session, request.method, request_target(request.path, request.query_string),
        request.get_data(), request.headers)
    now = utcnow()
    device.last_seen_at = now
    return jsonify({**enrolment.device_profile(db.session, device), "status": "active",
                    "enrolled_at": _iso(device.enrolled_at),
                    "server_hlc": server_clock(current_app).now(),
                    **sequence_states(db.session, [device.id])[device.id]})


@bp.post("/enrolment-codes")
@api_doc("Cấp mã đăng ký máy / issue a device enrolment code", tags=["devices"],
         security=["sessionCookie"],
         body={"type": "object", "additionalProperties": False, "required": ["area_code"],
               "properties": {"area_code": {"type": "string"},
                              "collaborator_name": {"type": "string"},
                              "collaborator_id": {"type": "integer"},
                              "phone": {"type": "string"}}},
         responses={201: ("The one-time code, shown once", {
             "type": "object", "required": ["code", "expires_at", "collaborator", "area"],
             "properties": {"code": {"type": "string"},
                            "expires_at": {"type": "string", "format": "date-time"},
                            "collaborator": {"type": "object"}, "area": {"type": "object"}}})},
         errors={400: ("request_malformed", "area_unknown", "collaborator_inactive",
                       "collaborator_area_mismatch", "field_required", "field_too_long",
                       "field_pattern"),
                 401: ("login_required",), 403: ("forbidden",),
                 404: ("collaborator_unknown",)})
@login_required
@_transaction
def issue_enrolment_code():
    doc = _json_body(CODE_KEYS)
    scope = current_scope()
    if "area_code" not in doc:
        raise A0Error("request_malformed", field="area_code")
    if ("collaborator_name" in doc) == ("collaborator_id" in doc):
        raise A0Error("request_malformed", field="collaborator_name")
    collaborator = None
    if "collaborator_id" in doc:
        if "phone" in doc:
            raise A0Error("request_malformed", field="phone")
        collaborator = enrolment.find_collaborator(db.session, doc["collaborator_id"], scope)
    ttl = dt.timedelta(seconds=current_app.config["A0SYNC_ENROL_CODE_TTL_S"])
    code, row = enrolment.issue_code(
        db.session, area_code=doc["area_code"], collaborator=collaborator,
        collaborator_name=(doc.get("collaborator_name") or "") if collaborator is None
        else None,
        phone=doc.get("phone"), created_by=scope.actor, scope=scope, ttl=ttl)
    area = enrolment.area_unit(db.session, row.area_code)
    return jsonify({"code": code, "expires_at": _iso(row.expires_at),
                    "collaborator": {"id": row.collaborator.id,
                                     "full_name": row.collaborator.full_name},
                    "area": {"code": area.code, "name": area.full_name}}), 201


@bp.post("/devices/<device_id>/revoke")
@api_doc("Thu hồi máy / revoke a device at once", tags=["devices"],
         security=["sessionCookie"], body={"type": "object", "maxProperties": 0},
         responses={200: ("When the device was revoked", {
             "type": "object", "required": ["device_id", "revoked_at"],
             "properties": {"device_id": {"type": "string"},
                            "revoked_at": {"type": "string", "format": "date-time"}}})},
         errors={400: ("request_malformed",), 401: ("login_required",),
                 403: ("forbidden",), 404: ("not_found",)})
@login_required
@_transaction
def revoke(device_id: str):
    _json_body(frozenset())
    device = enrolment.revoke_device(db.session, device_id, by=current_scope().actor,
                                     scope=current_scope())
    return jsonify({"device_id": device.id, "revoked_at": _iso(device.revoked_at)})

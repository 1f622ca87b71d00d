"""Device sync over HTTPS: upload a sealed batch, pull a sealed page. Thin handlers."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from a0core import collector
from a0core.envelope import request_device, request_target, seal_to_device, verify_request
from a0core.errors import A0Error
from server.extensions import db
from server.forms import schemas_digest
from server.models.people import Device
from server.security.keys import keystore_for
from server.sync.clock import server_clock
from server.sync.ingest import ingest_batch
from server.sync.pull import CLOCK_FORMS, DEFAULT_LIMIT, FIELDS, MAX_LIMIT, pull_page
from server.sync.runtime import ingest_context
from server.web.http import int_arg
from server.web.openapi import api_doc, protocol_ref, query

bp = Blueprint("api_sync", __name__, url_prefix="/api/v1/sync")


def _body() -> bytes:
    limit = current_app.config["A0SYNC_MAX_BATCH_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise A0Error("batch_too_large", limit=limit)
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise A0Error("batch_too_large", limit=limit)
    return data


@bp.post("/batches")
@api_doc("Gửi gói dữ liệu đã niêm phong / upload a sealed batch", tags=["sync"],
         description="The envelope is signed by the device and encrypted to the server; it "
         "authenticates itself (no other credentials). Re-sending changes nothing and answers "
         "the same receipt (docs/protocol.md).",
         body=protocol_ref("envelope.v1"),
         responses={200: ("Signed receipt with a verdict per operation",
                          protocol_ref("receipt.v1"))},
         errors={400: ("batch_malformed", "batch_body_malformed", "batch_header_mismatch",
                       "batch_decrypt_failed", "protocol_version_unknown", "key_unknown",
                       "batch_id_reused", "hlc_future"),
                 401: ("device_unknown", "batch_signature_invalid"),
                 403: ("device_revoked",), 413: ("batch_too_large",)})
def upload_batch():
    receipt = ingest_batch(db.session, _body(), ingest_context(current_app), carrier="https")
    return jsonify(receipt)


def _signed_device() -> Device:
    device = db.session.get(Device, request_device(request.headers))
    if device is None:
        raise A0Error("device_unknown")
    if device.revoked:
        raise A0Error("device_revoked")
    verify_request(request.method, request_target(request.path, request.query_string),
                   request.get_data(), request.headers, device.sign_public_key)
    return device


@bp.get("/pull")
@api_doc("Lấy thay đổi của địa bàn / pull the area's changes", tags=["sync"],
         description="A signed device request; the answer is an envelope sealed to the device "
         "whose body is a pull_page.v1.",
         params=[query("cursor", "Last change sequence the device holds", {"type": "integer",
                                                                           "minimum": 0}),
                 query("limit", "Most changes in the page", {"type": "integer", "minimum": 1,
                                                     "maximum": MAX_LIMIT}),
                 query("kid", "Server key id to sign with (default: the current key)"),
                 query("clocks", "How households' and members' field clocks are written: "
                       "'fields' ({field: [hlc, device]}, the default) or 'packed' (one "
                       "[hlc, device, field…] group per stamp)",
                       {"type": "string", "enum": list(CLOCK_FORMS)})],
         security=["deviceSignature"],
         responses={200: ("Envelope sealed to the device (body: pull_page.v1)",
                          protocol_ref("envelope.v1"))},
         errors={400: ("key_unknown", "cursor_invalid", "request_malformed"),
                 401: ("device_unknown", "request_signature_invalid"),
                 403: ("device_revoked",)})
def pull():
    device = _signed_device()
    keys = keystore_for(current_app)
    current = keys.current()
    signer = keys.get(request.args.get("kid", current.kid))
    clock = server_clock(current_app)
    cursor = int_arg("cursor", 0, code="cursor_invalid")
    limit = int_arg("limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    with collector.paused():  # a page is bounded by MAX_LIMIT
        body = pull_page(db.session, device, cursor, limit,
                         clocks=request.args.get("clocks", FIELDS))
        body.update(server_hlc=clock.now(), server_key=current.public().to_dict(),
                    schemas={"hash": schemas_digest()})
        box_public_key, device_id = device.box_public_key, device.id  # not read again after
        db.session.commit()
        sealed = seal_to_device(body, box_public_key, signer.sign_private, signer.kid,
                                device_id=device_id, hlc=body["server_hlc"], decoded=True)
    return Response(sealed, mimetype="application/json")

"""Device sync over HTTPS: upload a sealed batch, pull a sealed page. Thin handlers."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from a0core.envelope import request_device, request_target, seal_to_device, verify_request
from a0core.errors import A0Error
from server.extensions import db
from server.forms import schemas_digest
from server.models.people import Device
from server.security.keys import keystore_for
from server.sync.clock import server_clock
from server.sync.ingest import ingest_batch
from server.sync.pull import DEFAULT_LIMIT, pull_page
from server.sync.runtime import ingest_context

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
def pull():
    device = _signed_device()
    keys = keystore_for(current_app)
    current = keys.current()
    signer = keys.get(request.args.get("kid", current.kid))
    clock = server_clock(current_app)
    body = pull_page(db.session, device, request.args.get("cursor", 0, type=int),
                     request.args.get("limit", DEFAULT_LIMIT, type=int))
    body.update(server_hlc=clock.now(), server_key=current.public().to_dict(),
                schemas={"hash": schemas_digest()})
    db.session.commit()
    sealed = seal_to_device(body, device.box_public_key, signer.sign_private, signer.kid,
                            device_id=device.id, hlc=body["server_hlc"])
    return Response(sealed, mimetype="application/json")

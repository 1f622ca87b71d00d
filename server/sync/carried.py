"""Batch files carried in by hand and imported by staff on the dashboard.

The same ingestion as the HTTPS endpoint and ``a0sync import-batch``
(:func:`server.sync.ingest.ingest_batch`); the one addition is the importer's
scope: the clear header names the device, and a file of a device outside the
staff member's scope is refused (as ``not_found``, like an unknown device)
before anything is opened or stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from a0core.envelope import parse_envelope
from a0core.errors import A0Error
from server.models.people import Device
from server.models.sync import SyncBatch
from server.security import audit
from server.security.scope import Scope
from server.sync.ingest import IngestContext, ingest_batch


def import_carried_batch(session: Session, data: bytes, ctx: IngestContext, scope: Scope,
                         *, filename: str = "", ip: str | None = None) -> dict[str, Any]:
    """Ingest one ``.a0b`` file for a staff member; returns the receipt (its body).

    Refusals change nothing (the ingestion's own transaction rolls back). The
    import itself is audited in a short transaction of its own after the batch.
    """
    if not data:
        raise A0Error("batch_file_missing")
    envelope = parse_envelope(data, max_bytes=ctx.max_batch_bytes, expected_type="batch")
    device = session.get(Device, envelope.header["device"])
    if device is None or not scope.covers(device.province_code, device.commune_code,
                                          device.area_code):
        session.rollback()
        raise A0Error("device_unknown")
    session.rollback()
    receipt = ingest_batch(session, data, ctx, carrier="file")["receipt"]
    batch = session.get(SyncBatch, receipt["batch"])
    audit.record(session, scope.actor, "batch.import_file", target=f"batch:{receipt['batch']}",
                 province_code=device.province_code, commune_code=device.commune_code, ip=ip,
                 details={"device_id": device.id, "file": filename[:120],
                          "carrier": batch.carrier if batch is not None else None},
                 row_count=len(receipt.get("verdicts", [])))
    session.commit()
    return receipt

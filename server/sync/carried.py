"""Batch files carried in by hand and imported by staff (dashboard and ``a0sync
import-batch``).

The same ingestion as the HTTPS endpoint (:func:`server.sync.ingest.ingest_batch`);
the one addition is the importer's scope: the clear header names the device, and a
file of a device outside the staff member's scope is refused (as ``not_found``,
like an unknown device) before anything is opened or stored.

A revoked device's file is refused like its network batches, unless an
administrator overrides (``accept_revoked``): then a file whose every stamp is
older than the revocation is imported (a phone replaced, not stolen: the batches
it sealed before are the collaborator's work), and the override is audited as
``batch.import_revoked``. Anything sealed after the revocation stays refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from a0core.envelope import parse_envelope
from a0core.errors import A0Error
from server.models.people import Device
from server.models.sync import SyncBatch
from server.security import audit
from server.security.scope import NATIONAL, Scope
from server.sync.ingest import IngestContext, ingest_batch


def import_carried_batch(session: Session, data: bytes, ctx: IngestContext, scope: Scope,
                         *, filename: str = "", ip: str | None = None,
                         accept_revoked: bool = False) -> dict[str, Any]:
    """Ingest one ``.a0b`` file for a staff member; returns the receipt (its body).

    Refusals change nothing (the ingestion's own transaction rolls back). The
    import itself is audited in a short transaction of its own after the batch.
    """
    if not data:
        raise A0Error("batch_file_missing")
    if accept_revoked and scope.level != NATIONAL:
        raise A0Error("forbidden")  # an administrator's decision
    envelope = parse_envelope(data, max_bytes=ctx.max_batch_bytes, expected_type="batch")
    device = session.get(Device, envelope.header["device"])
    if device is None or not scope.covers(device.province_code, device.commune_code,
                                          device.area_code):
        session.rollback()
        raise A0Error("device_unknown")
    revoked_at = device.revoked_at
    session.rollback()
    receipt = ingest_batch(session, data, ctx, carrier="file",
                           accept_revoked=accept_revoked)["receipt"]
    batch = session.get(SyncBatch, receipt["batch"])
    overridden = accept_revoked and revoked_at is not None
    audit.record(session, scope.actor, "batch.import_revoked" if overridden
                 else "batch.import_file", target=f"batch:{receipt['batch']}",
                 province_code=device.province_code, commune_code=device.commune_code, ip=ip,
                 details={"device_id": device.id, "file": filename[:120],
                          "carrier": batch.carrier if batch is not None else None,
                          **({"revoked_at": revoked_at.isoformat()} if overridden else {})},
                 row_count=len(receipt.get("verdicts", [])))
    session.commit()
    return receipt

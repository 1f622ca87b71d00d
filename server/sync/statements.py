"""The SQL of a batch's ingestion, built once per database kind, run with bound values.

A batch runs about twenty statements, and for the village-sized batches of the
steady state, building each statement anew (SQLAlchemy's expression objects and
their cache keys) cost more than the database took to run it. So every one is
built once here, with named parameters, for the dialect of the session's engine.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from server.models.base import id_list, in_param, list_param
from server.models.logistics import StockMovement
from server.models.people import Device
from server.models.register import Distribution, Event, Household, Member
from server.models.reports import P0Report
from server.models.sync import WAITING_ONLY, Alias, DeviceSync, SyncBatch, SyncOp

MODELS = {"household": Household, "member": Member, "event": Event,
          "distribution": Distribution, "p0_report": P0Report, "stock_movement": StockMovement}


@dataclass(frozen=True)
class Statements:
    dialect: str
    sender: Select          # :device
    known_batch: Select     # :batch
    stored_ops: Select      # :device, :first, :last
    rows_by_id: dict[str, Select]  # kind -> :ids
    seqs_by_id: dict[str, Select]  # kind -> :ids — (id, seq)
    aliases: Select         # :ids
    waiting_for: Select     # :ids — waiting operations of any device
    events_of: Select       # :ids — not voided
    children_of: Select     # :ids (mothers)
    deaths_of: Select       # :ids — not voided
    seqs_above: Select      # :device, :above
    device_state: Select    # :device
    device_state_update: Any  # b_device, and the columns to set

    def ids(self, values: Iterable[str]) -> dict[str, Any]:
        """The parameters of a look-up by ``:ids``."""
        return {"ids": id_list(self.dialect, values)}


def statements(session: Session) -> Statements:
    return _build(session.get_bind().dialect.name)


@functools.cache
def _build(dialect: str) -> Statements:
    def ids_in(column: Any) -> Any:
        return in_param(column, dialect, list_param("ids", column, dialect))

    ev = Event.__table__.c
    event_ref = (ev.member_id, ev.form, ev.payload, ev.hlc, ev.device_id)
    device = bindparam("device")
    return Statements(
        dialect=dialect,
        sender=select(Device.revoked_at, Device.id, Device.sign_public_key, Device.area_code,
                      Device.commune_code, Device.province_code).where(Device.id == device),
        known_batch=select(SyncBatch.body_hash, SyncBatch.receipt)
        .where(SyncBatch.id == bindparam("batch")),
        stored_ops=select(SyncOp.seq, SyncOp.op_hash).where(
            SyncOp.device_id == device,
            SyncOp.seq.between(bindparam("first"), bindparam("last"))),
        rows_by_id={kind: select(model.__table__).where(ids_in(model.__table__.c.id))
                    for kind, model in MODELS.items()},
        seqs_by_id={kind: select(model.__table__.c.id, model.__table__.c.seq)
                    .where(ids_in(model.__table__.c.id)) for kind, model in MODELS.items()},
        aliases=select(Alias.old_id, Alias.survivor_id).where(ids_in(Alias.old_id),
                                                              Alias.active),
        waiting_for=select(SyncOp.payload, SyncOp.device_id, SyncOp.area_code,
                           SyncOp.commune_code, SyncOp.province_code)
        .where(WAITING_ONLY, ids_in(SyncOp.waiting_on)),
        events_of=select(*event_ref).where(ids_in(ev.member_id), ~ev.voided),
        children_of=select(Member.id, Member.mother_id).where(ids_in(Member.mother_id)),
        deaths_of=select(*event_ref).where(ids_in(ev.member_id), ev.form == "death",
                                           ~ev.voided),
        seqs_above=select(SyncOp.seq).where(SyncOp.device_id == device,
                                            SyncOp.seq > bindparam("above"))
        .order_by(SyncOp.seq),
        device_state=select(DeviceSync.highest_contiguous_seq, DeviceSync.max_seq,
                            DeviceSync.last_clock_skew_ms, DeviceSync.last_hlc)
        .where(DeviceSync.device_id == device),
        device_state_update=update(DeviceSync)
        .where(DeviceSync.device_id == bindparam("b_device")),
    )

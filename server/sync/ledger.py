"""A device's sequence as the server sees it: what arrived, what never did.

Batches may arrive out of order (a file carried by hand overtakes a later
network batch), so the server keeps, per device, the highest n such that
operations 1…n are all stored and the ranges still missing above it, which the
commune dashboard shows ("operations 120–180 of this device never arrived").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from a0core.hlc import physical_ms
from server.models.sync import DeviceSync, SyncOp


def missing_ranges(contiguous: int, seqs: list[int]) -> tuple[int, list[list[int]]]:
    """Highest contiguous sequence and the gaps between the stored ``seqs`` above it."""
    for seq in seqs:
        if seq == contiguous + 1:
            contiguous = seq
        elif seq > contiguous + 1:
            break
    gaps: list[list[int]] = []
    previous = contiguous
    for seq in seqs:
        if seq <= contiguous:
            continue
        if seq > previous + 1:
            gaps.append([previous + 1, seq - 1])
        previous = seq
    return contiguous, gaps


def update_device_state(session: Session, device_id: str, header_hlc: int, now_ms: int,
                        now: dt.datetime) -> DeviceSync:
    state = session.get(DeviceSync, device_id)
    if state is None:
        state = DeviceSync(device_id=device_id, highest_contiguous_seq=0, max_seq=0, gaps=[],
                           pull_cursor=0, last_clock_skew_ms=0, last_hlc=0)
        session.add(state)
    seqs = list(session.scalars(select(SyncOp.seq).where(
        SyncOp.device_id == device_id, SyncOp.seq > state.highest_contiguous_seq)
        .order_by(SyncOp.seq)))
    state.highest_contiguous_seq, state.gaps = missing_ranges(state.highest_contiguous_seq, seqs)
    state.max_seq = max([state.max_seq, *seqs])
    state.last_batch_at = now
    if header_hlc:
        state.last_clock_skew_ms = physical_ms(header_hlc) - now_ms
        state.last_hlc = max(state.last_hlc, header_hlc)
    session.flush()
    return state

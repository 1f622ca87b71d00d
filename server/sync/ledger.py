"""A device's sequence as the server sees it: what arrived, what never did.

Batches may arrive out of order (a file carried by hand overtakes a later
network batch), so the server keeps, per device, the highest n such that
operations 1…n are all stored and the ranges still missing above it, which the
commune dashboard shows ("operations 120–180 of this device never arrived"), every
receipt and ``/devices/me`` tell the device itself, and ``a0sync devices list``
prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from a0core.hlc import physical_ms
from server.models.base import chunks
from server.models.pipeline import defer_statement
from server.models.sync import DeviceSync
from server.sync.statements import statements
from server.sync.workset import StaleRead


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


@dataclass(frozen=True, slots=True)
class DeviceState:
    highest_contiguous_seq: int
    last_clock_skew_ms: int
    gaps: list[list[int]]


class DeviceRow(NamedTuple):
    """A device's stored sequence state (``device_sync``), as read under its batch's lock."""

    highest_contiguous_seq: int
    max_seq: int
    last_clock_skew_ms: int
    last_hlc: int


UNREAD: Any = object()


def update_device_state(session: Session, device_id: str, header_hlc: int, now_ms: int,
                        now: dt.datetime, *, state: DeviceRow | None = UNREAD,
                        stored: Iterable[int] | None = None) -> DeviceState:
    """Fold the operations just stored into the device's contiguous mark and gaps.

    ``state``: the device's row as the caller read it (None: there is none), written
    only if it is still so: else another batch of the device committed since, and
    :class:`~server.sync.workset.StaleRead` starts this one again. ``stored``: the
    sequence numbers the batch just stored; when nothing was missing before
    (``max_seq`` is the contiguous mark, the steady state), the numbers above the mark
    are exactly those, so they are not read back."""
    sql = statements(session)
    if state is UNREAD:
        state = session.execute(sql.device_state, {"device": device_id}).first()
    contiguous, max_seq, skew, last_hlc = state if state is not None else (0, 0, 0, 0)
    if stored is not None and state is not None and max_seq <= contiguous:
        seqs = sorted(seq for seq in stored if seq > contiguous)
    else:
        seqs = list(session.scalars(sql.seqs_above, {"device": device_id,
                                                     "above": contiguous}))
    contiguous, gaps = missing_ranges(contiguous, seqs)
    if header_hlc:
        skew, last_hlc = physical_ms(header_hlc) - now_ms, max(last_hlc, header_hlc)
    values = {"highest_contiguous_seq": contiguous, "max_seq": max([max_seq, *seqs]),
              "gaps": gaps, "last_batch_at": now, "last_clock_skew_ms": skew,
              "last_hlc": last_hlc}
    if state is None:
        session.execute(insert(DeviceSync).values(device_id=device_id, pull_cursor=0, **values))
        return DeviceState(contiguous, skew, gaps)
    params = {"b_device": device_id, "b_contiguous": state[0], "b_max": state[1], **values}
    if sql.dialect == "postgresql":  # fails in the database if it wrote nothing
        if not defer_statement(session, sql.device_state_update, params):
            session.execute(sql.device_state_update, params)
    elif not session.execute(sql.device_state_update, params).rowcount:
        raise StaleRead("device_sync")  # another batch of the device since it was read
    return DeviceState(contiguous, skew, gaps)


def sequence_states(session: Session, device_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What arrived of each device's sequence: ``highest_contiguous_seq``, ``max_seq``
    and ``missing`` (the ranges below it that never arrived, ``[[first, last], ...]``),
    for the device itself (``/devices/me``) and ``a0sync devices list``. A device
    holding operations above ``max_seq`` that the server once acknowledged knows the
    server lost them (a restore from a backup) and sends them again."""
    out = {device: {"highest_contiguous_seq": 0, "max_seq": 0, "missing": []}
           for device in device_ids}
    for ids in chunks(device_ids):
        for device, contiguous, top, gaps in session.execute(
                select(DeviceSync.device_id, DeviceSync.highest_contiguous_seq,
                       DeviceSync.max_seq, DeviceSync.gaps)
                .where(DeviceSync.device_id.in_(ids))):
            out[device] = {"highest_contiguous_seq": contiguous, "max_seq": top,
                           "missing": gaps or []}
    return out

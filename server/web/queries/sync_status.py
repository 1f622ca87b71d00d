"""Sync status for commune staff: collaborators, their devices, batches and verdicts.

A status page is one page of (collaborator, device) rows plus two grouped
queries for just the devices on that page (verdict counts over the
``(device_id, status)`` index and batch counts over ``(device_id, received_at)``),
so it costs the same whatever the size of the register.

Verdict counts read only the few operations that are not plainly applied
(duplicate, waiting, conflict, rejected: a short range of the index each); the
applied ones are what remains of what the device stored, which its sequence
state already knows (``max_seq`` less the gaps: :mod:`server.sync.ledger` keeps
both from the stored sequence numbers). A device's counts thus cost the same
after one month or five years of operations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core import p0
from server.models.orgunits import OrgUnit
from server.models.people import Collaborator, Device
from server.models.sync import APPLIED, VERDICTS, DeviceSync, SyncBatch, SyncOp
from server.orgunits.queries import current_tree
from server.security.scope import Scope
from server.web.queries.paging import Page, page_of, paginate


@dataclass
class DeviceRow:
    collaborator: Collaborator
    device: Device | None
    state: DeviceSync | None
    area_name: str = ""
    batches: int = 0
    last_batch_at: dt.datetime | None = None
    ops: dict[str, int] = field(default_factory=dict)

    @property
    def gaps(self) -> list[list[int]]:
        return list(self.state.gaps or []) if self.state is not None else []

    @property
    def skew_s(self) -> float | None:
        if self.state is None or self.state.last_batch_at is None:
            return None
        return round((self.state.last_clock_skew_ms or 0) / 1000, 1) + 0.0  # never "-0.0"


def unit_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Full names of org units of the current tree by code (codes missing map to nothing)."""
    if not codes:
        return {}
    tree = current_tree(session)
    return dict(session.execute(select(OrgUnit.code, OrgUnit.full_name).where(
        OrgUnit.tree == tree, OrgUnit.code.in_(sorted(codes)))).all())


def stored_ops(state: DeviceSync | None) -> int:
    """How many operations of the device the ledger holds: every sequence number up
    to the highest received, less the gaps."""
    if state is None:
        return 0
    return state.max_seq - sum(last - first + 1 for first, last in state.gaps or [])


def op_counts(session: Session, states: dict[str, DeviceSync | None]
              ) -> dict[str, dict[str, int]]:
    """Verdict counts per device (``states``: device id → its sequence state)."""
    out: dict[str, dict[str, int]] = {d: dict.fromkeys(VERDICTS, 0) for d in states}
    if states:
        for device_id, status, count in session.execute(
                select(SyncOp.device_id, SyncOp.status, func.count())
                .where(SyncOp.device_id.in_(sorted(states)),
                       SyncOp.status.in_([v for v in VERDICTS if v != APPLIED]))
                .group_by(SyncOp.device_id, SyncOp.status)):
            out[device_id][status] = count
    for device_id, counts in out.items():
        counts[APPLIED] = max(0, stored_ops(states[device_id]) - sum(counts.values()))
    return out


def batch_counts(session: Session, device_ids: list[str]) -> dict[str, tuple[int, Any]]:
    if not device_ids:
        return {}
    return {d: (n, last) for d, n, last in session.execute(
        select(SyncBatch.device_id, func.count(), func.max(SyncBatch.received_at))
        .where(SyncBatch.device_id.in_(device_ids)).group_by(SyncBatch.device_id))}


def status_page(session: Session, scope: Scope, page: int, per_page: int, *,
                commune: str | None = None, gaps_only: bool = False) -> Page[DeviceRow]:
    """One page of collaborators in scope with each of their devices (or none yet)."""
    stmt = (select(Collaborator, Device, DeviceSync)
            .outerjoin(Device, Device.collaborator_id == Collaborator.id)
            .outerjoin(DeviceSync, DeviceSync.device_id == Device.id)
            .where(scope.where(Collaborator)))
    if commune:
        stmt = stmt.where(Collaborator.commune_code == commune)
    if gaps_only:
        stmt = stmt.where(DeviceSync.max_seq > DeviceSync.highest_contiguous_seq)
    stmt = stmt.order_by(Collaborator.commune_code, Collaborator.area_code,
                         Collaborator.full_name, Collaborator.id, Device.enrolled_at, Device.id)
    raw = paginate(session, stmt, page, per_page)
    rows = [DeviceRow(c, d, s) for c, d, s in raw.items]
    states = {r.device.id: r.state for r in rows if r.device is not None}
    counts, batches = op_counts(session, states), batch_counts(session, list(states))
    names = unit_names(session, {r.collaborator.area_code for r in rows})
    for row in rows:
        row.area_name = names.get(row.collaborator.area_code, "")
        if row.device is not None:
            row.ops = counts.get(row.device.id, {})
            row.batches, row.last_batch_at = batches.get(row.device.id, (0, None))
    return Page(rows, raw.page, raw.per_page, raw.total)


def status_summary(session: Session, scope: Scope, commune: str | None = None) -> dict[str, int]:
    """Headline numbers: collaborators, active devices, devices with gaps (all in scope)."""
    def count(stmt) -> int:
        if commune:
            stmt = stmt.where(Device.commune_code == commune)
        return session.scalar(stmt) or 0

    collaborators = select(func.count()).select_from(Collaborator).where(
        scope.where(Collaborator))
    if commune:
        collaborators = collaborators.where(Collaborator.commune_code == commune)
    return {
        "collaborators": session.scalar(collaborators) or 0,
        "devices": count(select(func.count()).select_from(Device).where(
            scope.where(Device), Device.revoked_at.is_(None))),
        "with_gaps": count(select(func.count()).select_from(Device).join(
            DeviceSync, DeviceSync.device_id == Device.id).where(
            scope.where(Device), DeviceSync.max_seq > DeviceSync.highest_contiguous_seq)),
    }


def slip_totals(session: Session, scope: Scope, commune: str | None,
                month: str) -> dict[str, int]:
    """Areas expected, reported, on time and whose slip does not match, in the scope (or
    the commune filtered on) for ``month``: read from the roll-up cell of that unit."""
    from server.web.queries.rollups import cells, find_unit, home_code

    code = home_code(scope)
    if commune:
        unit = find_unit(session, scope, commune)
        code = unit.code if unit is not None else None
    if code is None:
        return {}
    values = cells(session, [code], [month]).get((code, month))
    if values is None:  # no phone has synced there yet: nothing to count, not 0/0
        return {}
    return {k: int(values.get(k, 0)) for k in ("areas_expected", "areas_reported",
                                               "areas_on_time", "areas_incomplete")}


def overdue_month(today: dt.date, day: int) -> str:
    """The newest month whose P0 slips are past their deadline (day ``day`` of the
    next month): last month once the deadline has gone by, else the month before."""
    month = p0.last_closed_month(today)
    return month if today > p0.deadline(month, day) else p0.shift(month, -1)


def overdue_slips(session: Session, scope: Scope, today: dt.date, day: int) -> int:
    """Areas in the scope whose slip of :func:`overdue_month` has not arrived (the
    menu's cue; from the scope's roll-up cell, one indexed read)."""
    totals = slip_totals(session, scope, None, overdue_month(today, day))
    return max(0, totals.get("areas_expected", 0) - totals.get("areas_reported", 0))


# a filter lists at most this many communes (a province has about a hundred); past
# it — a national user, 3,321 communes — it takes a commune code instead, so a page
# never carries thousands of options
COMMUNE_CHOICES = 300


def communes_in_scope(session: Session, scope: Scope) -> list[tuple[str, str]] | None:
    """(code, name) of the communes that have collaborators in scope, for filters;
    ``None`` when there are more than :data:`COMMUNE_CHOICES` (type a code)."""
    codes = set(session.scalars(select(Collaborator.commune_code).where(
        scope.where(Collaborator)).distinct().limit(COMMUNE_CHOICES + 1)))
    if len(codes) > COMMUNE_CHOICES:
        return None
    names = unit_names(session, codes)
    return sorted(((c, names.get(c, c)) for c in codes), key=lambda x: x[0])


def device_in_scope(session: Session, scope: Scope, device_id: str) -> Device | None:
    """The device, or ``None`` when it does not exist or lies outside the scope."""
    return session.scalar(select(Device).where(Device.id == device_id, scope.where(Device)))


def device_detail(session: Session, device: Device) -> DeviceRow:
    row = DeviceRow(device.collaborator, device, session.get(DeviceSync, device.id))
    row.ops = op_counts(session, {device.id: row.state})[device.id]
    row.batches, row.last_batch_at = batch_counts(session, [device.id]).get(device.id, (0, None))
    row.area_name = unit_names(session, {device.area_code}).get(device.area_code, "")
    return row


def batch_history(session: Session, device: Device, page: int,
                  per_page: int) -> Page[SyncBatch]:
    stmt = (select(SyncBatch).where(SyncBatch.device_id == device.id)
            .order_by(SyncBatch.received_at.desc(), SyncBatch.id))
    return paginate(session, stmt, page, per_page, scalars=True)


def open_ops(session: Session, device: Device, status: str, limit: int = 100) -> list[SyncOp]:
    """Operations still rejected or waiting (what the collaborator must fix or send)."""
    return list(session.scalars(select(SyncOp).where(
        SyncOp.device_id == device.id, SyncOp.status == status)
        .order_by(SyncOp.seq).limit(limit)))


def batch_in_scope(session: Session, scope: Scope, batch_id: str) -> SyncBatch | None:
    return session.scalar(select(SyncBatch).where(SyncBatch.id == batch_id,
                                                  scope.where(SyncBatch)))


def receipt_body(batch: SyncBatch) -> dict[str, Any]:
    """The receipt as sent to the device is ``{"receipt": body, "signature": ...}``."""
    stored = batch.receipt or {}
    return stored.get("receipt", stored)


def receipt_verdicts(batch: SyncBatch, page: int, per_page: int,
                     problems_first: bool = True) -> Page[dict[str, Any]]:
    """The receipt's verdicts, refused and waiting ones first, paged in memory."""
    verdicts = list(receipt_body(batch).get("verdicts", []))
    if problems_first:
        order = {"rejected": 0, "conflict": 1, "waiting": 2}
        verdicts.sort(key=lambda v: (order.get(v.get("verdict"), 3), v.get("seq", 0)))
    return page_of(verdicts, page, per_page)

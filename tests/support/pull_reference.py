"""The pull page as it was built before its statements were prepared once (issue 19,
part 4): ORM reads and a dict per row, the place and the held months as they were.
Kept only so that ``tests/test_pull_identical.py`` can show that the faster page is
the same, byte for byte, and ``bench/pull.py`` can time both. Do not use it elsewhere."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    JSON,
    case,
    literal_column,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from a0core import p0
from a0core.errors import A0Error
from server.models.logistics import StockMovement
from server.models.orgunits import LEVEL_VILLAGE, OrgTree, OrgUnit
from server.models.people import Device
from server.models.register import ChangeCounter, Distribution, Event, Household, Member
from server.models.reports import P0Report
from server.models.sync import Alias, Conflict, DeviceSync, SyncOp
from server.reporting.status import area_months
from server.sync.pull import DEFAULT_LIMIT, MAX_LIMIT


def _entities(session: Session, model: Any, kind: str, area: str, cursor: int,
              high: int) -> Iterator[tuple[int, dict[str, Any]]]:
    t = model.__table__.c
    packed = type_coerce(t.clocks, JSON).label("clocks")  # as stored: expanded below
    for r in session.execute(select(t.id, t.seq, t.data, packed, t.deleted, t.merged_into)
                             .where(t.area_code == area, t.seq > cursor, t.seq <= high)
                             .order_by(t.seq)):
        yield r.seq, {"seq": r.seq, "kind": kind, "id": r.id, "data": r.data,
                      "clocks": _wire_clocks(r.clocks), "deleted": r.deleted,
                      "merged_into": r.merged_into}


def _wire_clocks(value: Any) -> dict[str, Any] | None:
    """Stored clocks (packed by stamp, or a row still in the old form) as the wire has
    them, ``{field: [hlc, device]}``. Unlike :func:`a0core.clocks.unpack` the fields of
    one stamp share one list: the page is only serialised, never changed, and this is
    most of a first download's Python time otherwise."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {name: [stamp[0], stamp[1]] for name, stamp in value.items()}
    out: dict[str, Any] = {}
    for group in value:
        out.update(dict.fromkeys(group[2:], group[:2]))
    return out


def _facts(session: Session, model: Any, kind: str, area: str, cursor: int,
           high: int) -> Iterator[tuple[int, dict[str, Any]]]:
    t = model.__table__.c
    cols = [t.id, t.seq, t.form_version, t.hlc, t.device_id, t.voided]
    cols += [t.form, t.payload] if kind == "event" else [t.household_id, t.member_id, t.method,
                                                          t.quantity, t.distributed_on, t.source,
                                                          t.unit_price]
    for r in session.execute(select(*cols).where(t.area_code == area,
                                                 t.seq > cursor, t.seq <= high)
                             .order_by(t.seq)):
        if kind == "event":
            data = {"form": r.form, "version": r.form_version, "record": r.payload}
        else:
            data = {"form": "distribution", "version": r.form_version,
                    "record": {"id": r.id, "area_code": area, "household_id": r.household_id,
                               "member_id": r.member_id, "method": r.method,
                               "quantity": r.quantity, "distributed_on": r.distributed_on}}
            for name in ("source", "unit_price"):
                if getattr(r, name) is not None:
                    data["record"][name] = getattr(r, name)
        data.update(voided=r.voided, hlc=r.hlc, device=r.device_id)
        yield r.seq, {"seq": r.seq, "kind": kind, "id": r.id, "data": data}


def _stock(session: Session, area: str, cursor: int,
           high: int) -> Iterator[tuple[int, dict[str, Any]]]:
    t = StockMovement.__table__.c
    for r in session.execute(select(t.id, t.seq, t.form, t.form_version, t.payload, t.voided,
                                    t.hlc, t.device_id)
                             .where(t.area_code == area, t.seq > cursor, t.seq <= high)
                             .order_by(t.seq)):
        yield r.seq, {"seq": r.seq, "kind": "stock", "id": r.id, "data": {
            "form": r.form, "version": r.form_version, "record": r.payload,
            "voided": r.voided, "hlc": r.hlc, "device": r.device_id}}


def _aliases(session: Session, area: str, cursor: int,
             high: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for a in session.scalars(select(Alias).where(Alias.area_code == area,
                                                 Alias.seq > cursor, Alias.seq <= high)
                             .order_by(Alias.seq)):
        yield a.seq, {"seq": a.seq, "kind": "alias", "id": a.old_id,
                      "data": {"survivor_id": a.survivor_id, "entity": a.entity,
                               "active": a.active}}


def _conflicts(session: Session, area: str, cursor: int,
               high: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for c in session.scalars(select(Conflict).where(Conflict.area_code == area,
                                                    Conflict.seq > cursor, Conflict.seq <= high)
                             .order_by(Conflict.seq)):
        yield c.seq, {"seq": c.seq, "kind": "conflict", "id": str(c.id), "data": {
            "entity": c.entity, "entity_id": c.entity_id, "field": c.field,
            "a": {"value": c.a_value, "hlc": c.a_hlc, "device": c.a_device},
            "b": {"value": c.b_value, "hlc": c.b_hlc, "device": c.b_device},
            "status": c.status, "resolved_value": c.resolved_value}}


def _verdicts(session: Session, device_id: str, cursor: int,
              high: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for op in session.scalars(select(SyncOp).where(SyncOp.device_id == device_id,
                                                   SyncOp.change_seq > cursor,
                                                   SyncOp.change_seq <= high)
                              .order_by(SyncOp.change_seq)):
        verdict: dict[str, Any] = {"seq": op.seq, "verdict": op.status}
        detail = op.detail or {}
        if op.code:
            verdict.update(code=op.code, message_vi=detail.get("message_vi", ""),
                           message_en=detail.get("message_en", ""))
        if detail.get("warnings"):
            verdict["warnings"] = detail["warnings"]
        if op.waiting_on and op.status == "waiting":
            verdict["waiting_on"] = op.waiting_on
        if detail.get("conflicts"):
            verdict["conflicts"] = [{"id": i} for i in detail["conflicts"]]
        yield op.change_seq, {"verdict": verdict}


def horizon(session: Session, province_code: str) -> int:
    """The highest change number every transaction below which has committed: the
    province counter's committed value. A batch holds the counter's row lock from
    taking its numbers to its commit (:mod:`server.sync.ingest`), so every number
    at or below it is final, and every later commit has higher numbers. The pull's
    tables are read by separate statements (each its own snapshot on PostgreSQL):
    capped at the horizon, none of them can return a number above a change that
    another one has not seen yet, so the cursor never passes a change that
    commits later."""
    value = session.scalar(select(ChangeCounter.value)
                           .where(ChangeCounter.province_code == province_code))
    return value or 0


def _seqs(session: Session, device: Device, cursor: int, high: int, limit: int) -> Any:
    """One statement: the ``limit`` lowest change numbers in ``(cursor, high]`` of every
    source of the device's pull, with their kind (each source read from its
    ``(area, seq)`` index, the sources merged by the database)."""
    area = device.area_code

    def lowest(column: Any, kind: str, *where: Any) -> Any:
        inner = (select(column.label("seq"), literal_column(f"'{kind}'").label("kind"))
                 .where(*where, column > cursor, column <= high)
                 .order_by(column).limit(limit).subquery())
        return select(inner.c.seq, inner.c.kind)

    parts = [lowest(m.__table__.c.seq, kind, m.__table__.c.area_code == area)
             for m, kind in ((Household, "household"), (Member, "member"), (Event, "event"),
                             (Distribution, "distribution"), (StockMovement, "stock"),
                             (Alias, "alias"), (Conflict, "conflict"))]
    parts.append(lowest(SyncOp.change_seq, "verdict", SyncOp.device_id == device.id))
    merged = union_all(*parts).subquery()
    return session.execute(select(merged.c.seq, merged.c.kind)
                           .order_by(merged.c.seq).limit(limit)).all()


def page_bound(session: Session, device: Device, cursor: int, high: int,
               limit: int) -> tuple[int, set[str], bool]:
    """Where the page starting above ``cursor`` ends: ``(upper, kinds, more)``.

    Found from change numbers alone (a few bytes a row), so that the rows themselves
    are read only once, each source only for ``(cursor, upper]`` and only the sources
    that have something there: a first download's page no longer reads ``limit`` rows
    of every table to keep ``limit`` of them. ``more`` says that changes remain above
    ``upper`` (at or below the horizon). Every change at or below ``upper`` belongs to
    the page, so a number shared by two rows is never split between two pages."""
    rows = _seqs(session, device, cursor, high, limit + 1)
    if not rows:
        return cursor, set(), False
    more = len(rows) > limit
    page = rows[:limit]
    upper = page[-1].seq
    kinds = {r.kind for r in page}
    if more and rows[limit].seq == upper:  # a number shared at the edge: read every source
        kinds = {r.kind for r in rows} | {"household", "member", "event", "distribution",
                                          "stock", "alias", "conflict", "verdict"}
    return upper, kinds, more


def pull_page(session: Session, device: Device, cursor: int, limit: int = DEFAULT_LIMIT,
              now: dt.datetime | None = None) -> dict[str, Any]:
    """The next page of changes above ``cursor`` for the device's area (body without keys)."""
    if device.revoked:
        raise A0Error("device_revoked")
    limit = max(1, min(limit, MAX_LIMIT))
    area = device.area_code
    high = horizon(session, device.province_code)
    upper, kinds, more = page_bound(session, device, cursor, high, limit)
    sources = {
        "household": lambda: _entities(session, Household, "household", area, cursor, upper),
        "member": lambda: _entities(session, Member, "member", area, cursor, upper),
        "event": lambda: _facts(session, Event, "event", area, cursor, upper),
        "distribution": lambda: _facts(session, Distribution, "distribution", area, cursor,
                                       upper),
        "stock": lambda: _stock(session, area, cursor, upper),
        "alias": lambda: _aliases(session, area, cursor, upper),
        "conflict": lambda: _conflicts(session, area, cursor, upper),
        "verdict": lambda: _verdicts(session, device.id, cursor, upper),
    }
    page = list(heapq.merge(*[list(sources[k]()) for k in sources if k in kinds],
                            key=lambda item: item[0]))
    changes = [item for _, item in page if "verdict" not in item]
    verdicts = [item["verdict"] for _, item in page if "verdict" in item]
    next_cursor = upper if more else (page[-1][0] if page else cursor)

    place = place_names(session, device.area_code, device.commune_code, device.province_code)
    reports = device_months(session, area, now)
    # what the device holds (tombstones wait for it): one statement, no read first, last
    # (its row lock, shared with the device's batches, is held only to the commit)
    session.execute(update(DeviceSync).where(DeviceSync.device_id == device.id).values(
        pull_cursor=case((DeviceSync.pull_cursor < cursor, cursor),
                         else_=DeviceSync.pull_cursor),
        last_pull_at=now or dt.datetime.now(dt.UTC)).execution_options(
        synchronize_session="fetch"))
    return {"changes": changes, "verdicts": verdicts, "cursor": next_cursor, "more": more,
            "place": place, "reports": reports}


def place_names(session: Session, area_code: str, commune_code: str,
                province_code: str) -> dict[str, Any]:
    """Where an area is, for every pull page: ``{area, commune, province}`` as
    ``{"code", "name"}`` and the ``villages`` :func:`villages_for_area` gives, in two
    statements (looked up one by one it took eleven, a third of a pull page's trips
    to the database)."""
    parent = aliased(OrgUnit)
    current = select(OrgTree.name).where(OrgTree.current).scalar_subquery()
    rows = session.execute(
        select(OrgUnit.code, OrgUnit.full_name, OrgUnit.tree, OrgUnit.commune_code,
               parent.code.label("parent_code"))
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .where(OrgUnit.tree == current,
               OrgUnit.code.in_(sorted({area_code, commune_code, province_code})))).all()
    found = {r.code: r for r in rows}
    out: dict[str, Any] = {
        key: {"code": code, "name": found[code].full_name if code in found else code}
        for key, code in (("area", area_code), ("commune", commune_code),
                          ("province", province_code))}
    area = found.get(area_code)
    villages: list[dict[str, str]] = []
    if area is not None and area.commune_code is not None:
        listed = session.execute(select(OrgUnit.code, OrgUnit.name).where(
            OrgUnit.tree == area.tree, OrgUnit.level == LEVEL_VILLAGE, OrgUnit.active,
            OrgUnit.commune_code == area.commune_code).order_by(OrgUnit.code)).all()
        listed.sort(key=lambda r: r.code != area.parent_code)
        villages = [{"code": r.code, "name": r.name} for r in listed]
    out["villages"] = villages
    return out


def device_months(session: Session, area: str, now: dt.datetime | None = None,
                  back: int = 12) -> list[dict[str, Any]]:
    """The slips the server holds for an area over the last ``back`` months (a pull
    tells the device which of its months are closed, and whether they match)."""
    now = now or dt.datetime.now(dt.UTC)
    newest = p0.last_closed_month(p0.vn_day(now))
    months = set(session.scalars(select(P0Report.month).where(
        P0Report.area_code == area, P0Report.month >= p0.shift(newest, 1 - back))))
    if not months:  # no slip held: nothing more to read (every pull page asks)
        return []
    rows = area_months(session, [area], sorted(months), now)
    return [rows[(area, m)].to_dict() for m in sorted(months)]

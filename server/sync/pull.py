"""Incremental, paged pull of what changed in a device's area (DESIGN §3.7).

Every register row carries the change sequence of its province; a device asks
for what is above its cursor and gets pages in sequence order: households,
members, events, distributions, contraceptive stock movements (``stock``: what the
station issued to the area and its confirmations, the area's own receipts,
returns, losses and counts), aliases of merged duplicates, conflicts and their
resolutions, and verdicts of its own operations that were decided after their
receipt (waiting → applied). Every page also says where the area is now
(``place``: area, commune and province with their names) and which of the area's
recent months the server holds a closed P0 slip for, and whether it matches what
the server holds (``reports``, :func:`server.reporting.status.device_months`). A
first download is the same request from 0, page after page; the cursor a device
sends also tells the server what it already has, which decides when tombstones
may go.

A household's or member's per-field clocks go on the wire as the device asks:
``{field: [hlc, device]}`` (:data:`FIELDS`, what apps before issue 19 read), or
packed by stamp as the server stores them (:data:`PACKED`,
:mod:`a0core.clocks`): a first download's page is then half the bytes to encode,
compress, decrypt and read, on the server and on the phone.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from a0core.clocks import pack, unpack
from a0core.errors import A0Error
from server.models.logistics import StockMovement
from server.models.people import Device
from server.models.register import ChangeCounter, Distribution, Event, Household, Member
from server.models.sync import Alias, Conflict, DeviceSync, SyncOp
from server.orgunits.queries import place_names
from server.reporting.status import device_months

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
KINDS = ("household", "member", "event", "distribution", "stock", "alias", "conflict",
         "verdict")
FIELDS, PACKED = "fields", "packed"  # how a page's clocks are written (``clocks=`` asked)
CLOCK_FORMS = (FIELDS, PACKED)


@dataclass(frozen=True)
class PullStatements:
    """A page's SQL, built once (plain Core, bound values): building the eight-way union
    of :func:`page_bound` and the sources' selects anew cost about 2 ms of Python a
    page, more than PostgreSQL took to run most of them."""

    horizon: Any                    # :province
    seqs: Any                       # :area, :device, :cursor, :province, :limit
    sources: dict[str, Any]         # kind -> :area (verdicts: :device), :cursor, :upper
    record_cursor: Any              # :device, :cursor, :now (ORM update, see pull_page)


@functools.cache
def statements() -> PullStatements:
    """The pull's statements (any dialect: each engine compiles and caches its own)."""
    area, device, cursor = bindparam("area"), bindparam("device"), bindparam("cursor")
    upper, limit = bindparam("upper"), bindparam("limit")
    counter = ChangeCounter.__table__.c
    horizon = select(counter.value).where(counter.province_code == bindparam("province"))
    high = func.coalesce(horizon.scalar_subquery(), 0)  # read in the page's own statement

    def where(table: Any, owner: Any, top: Any) -> tuple[Any, ...]:
        return (owner == (device if owner is SyncOp.__table__.c.device_id else area),
                _seq(table) > cursor, _seq(table) <= top)

    def lowest(table: Any, owner: Any, kind: str) -> Any:
        inner = (select(_seq(table).label("seq"), literal_column(f"'{kind}'").label("kind"))
                 .where(*where(table, owner, high)).order_by(_seq(table)).limit(limit)
                 .subquery())
        return select(inner.c.seq, inner.c.kind)

    def rows(table: Any, owner: Any, *columns: Any) -> Any:
        return select(*columns).where(*where(table, owner, upper)).order_by(_seq(table))

    tables = {kind: model.__table__ for kind, model in _MODELS.items()}
    owners = {kind: t.c.device_id if kind == "verdict" else t.c.area_code
              for kind, t in tables.items()}
    merged = union_all(*[lowest(t, owners[k], k) for k, t in tables.items()]).subquery()
    sources = {}
    for kind in ("household", "member"):
        c = tables[kind].c
        sources[kind] = rows(tables[kind], owners[kind], c.id, c.seq, c.data,
                             type_coerce(c.clocks, JSON),  # as stored: expanded below
                             c.deleted, c.merged_into)
    c = tables["event"].c
    sources["event"] = rows(tables["event"], owners["event"], c.seq, c.id, c.form,
                            c.form_version, c.payload, c.voided, c.hlc, c.device_id)
    c = tables["distribution"].c
    sources["distribution"] = rows(
        tables["distribution"], owners["distribution"], c.seq, c.id, c.form_version,
        c.household_id, c.member_id, c.method, c.quantity, c.distributed_on, c.source,
        c.unit_price, c.voided, c.hlc, c.device_id)
    c = tables["stock"].c
    sources["stock"] = rows(tables["stock"], owners["stock"], c.seq, c.id, c.form,
                            c.form_version, c.payload, c.voided, c.hlc, c.device_id)
    c = tables["alias"].c
    sources["alias"] = rows(tables["alias"], owners["alias"], c.seq, c.old_id, c.survivor_id,
                            c.entity, c.active)
    c = tables["conflict"].c
    sources["conflict"] = rows(tables["conflict"], owners["conflict"], c.seq, c.id, c.entity,
                               c.entity_id, c.field, c.a_value, c.a_hlc, c.a_device,
                               c.b_value, c.b_hlc, c.b_device, c.status, c.resolved_value)
    c = tables["verdict"].c
    sources["verdict"] = rows(tables["verdict"], owners["verdict"], c.change_seq, c.seq,
                              c.status, c.code, c.detail, c.waiting_on)
    cursor_col = DeviceSync.pull_cursor
    return PullStatements(
        horizon=horizon,
        seqs=select(merged.c.seq, merged.c.kind).order_by(merged.c.seq).limit(limit),
        sources=sources,
        record_cursor=update(DeviceSync).where(DeviceSync.device_id == device).values(
            pull_cursor=case((cursor_col < cursor, cursor), else_=cursor_col),
            last_pull_at=bindparam("now")).execution_options(synchronize_session="fetch"))


_MODELS: dict[str, Any] = {"household": Household, "member": Member, "event": Event,
                           "distribution": Distribution, "stock": StockMovement,
                           "alias": Alias, "conflict": Conflict, "verdict": SyncOp}


def _seq(table: Any) -> Any:
    return table.c.change_seq if table is SyncOp.__table__ else table.c.seq


def _wire_clocks(value: Any) -> dict[str, Any] | None:
    """Stored clocks (packed by stamp, or a row still in the old form) as the wire has
    them, ``{field: [hlc, device]}``; the page is only serialised, never changed, so the
    fields of one stamp share one list (most of a first download's Python time else)."""
    return unpack(value, shared=True)


# Each source's rows (tuples, in its statement's column order) as the wire's changes,
# ``(seq, change)``; straight from the tuples, no intermediate objects.

def _entities(kind: str, clocks_of: Callable[[Any], Any] = _wire_clocks,
              ) -> Callable[[Any, str], list[tuple[int, dict[str, Any]]]]:
    def changes(rows: Any, area: str) -> list[tuple[int, dict[str, Any]]]:
        return [(seq, {"seq": seq, "kind": kind, "id": id_, "data": data,
                       "clocks": clocks_of(clocks), "deleted": deleted,
                       "merged_into": merged})
                for id_, seq, data, clocks, deleted, merged in rows]
    return changes


def _facts(kind: str) -> Callable[[Any, str], list[tuple[int, dict[str, Any]]]]:
    def changes(rows: Any, area: str) -> list[tuple[int, dict[str, Any]]]:
        return [(seq, {"seq": seq, "kind": kind, "id": id_, "data": {
            "form": form, "version": version, "record": payload, "voided": voided,
            "hlc": hlc, "device": device}})
            for seq, id_, form, version, payload, voided, hlc, device in rows]
    return changes


def _distributions(rows: Any, area: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for (seq, id_, version, household_id, member_id, method, quantity, distributed_on,
         source, unit_price, voided, hlc, device) in rows:
        record = {"id": id_, "area_code": area, "household_id": household_id,
                  "member_id": member_id, "method": method, "quantity": quantity,
                  "distributed_on": distributed_on}
        if source is not None:
            record["source"] = source
        if unit_price is not None:
            record["unit_price"] = unit_price
        out.append((seq, {"seq": seq, "kind": "distribution", "id": id_, "data": {
            "form": "distribution", "version": version, "record": record, "voided": voided,
            "hlc": hlc, "device": device}}))
    return out


def _aliases(rows: Any, area: str) -> list[tuple[int, dict[str, Any]]]:
    return [(seq, {"seq": seq, "kind": "alias", "id": old_id,
                   "data": {"survivor_id": survivor, "entity": entity, "active": active}})
            for seq, old_id, survivor, entity, active in rows]


def _conflicts(rows: Any, area: str) -> list[tuple[int, dict[str, Any]]]:
    return [(r.seq, {"seq": r.seq, "kind": "conflict", "id": str(r.id), "data": {
        "entity": r.entity, "entity_id": r.entity_id, "field": r.field,
        "a": {"value": r.a_value, "hlc": r.a_hlc, "device": r.a_device},
        "b": {"value": r.b_value, "hlc": r.b_hlc, "device": r.b_device},
        "status": r.status, "resolved_value": r.resolved_value}})
        for r in rows]


def _verdicts(rows: Any, area: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for change_seq, seq, status, code, detail, waiting_on in rows:
        verdict: dict[str, Any] = {"seq": seq, "verdict": status}
        detail = detail or {}
        if code:
            verdict.update(code=code, message_vi=detail.get("message_vi", ""),
                           message_en=detail.get("message_en", ""))
        if detail.get("warnings"):
            verdict["warnings"] = detail["warnings"]
        if waiting_on and status == "waiting":
            verdict["waiting_on"] = waiting_on
        if detail.get("conflicts"):
            verdict["conflicts"] = [{"id": i} for i in detail["conflicts"]]
        out.append((change_seq, verdict))
    return out


_CHANGES: dict[str, Callable[[Any, str], list[tuple[int, dict[str, Any]]]]] = {
    "household": _entities("household"), "member": _entities("member"),
    "event": _facts("event"), "distribution": _distributions, "stock": _facts("stock"),
    "alias": _aliases, "conflict": _conflicts, "verdict": _verdicts}
# packed as stored: a row still in the old form is packed on the way out
_PACKED_CHANGES = {**_CHANGES, "household": _entities("household", pack),
                   "member": _entities("member", pack)}


def horizon(session: Session, province_code: str) -> int:
    """The highest change number every transaction below which has committed: the
    province counter's committed value. A batch holds the counter's row lock from
    taking its numbers to its commit (:mod:`server.sync.ingest`), so every number
    at or below it is final, and every later commit has higher numbers. The pull's
    tables are read by separate statements (each its own snapshot on PostgreSQL):
    capped at the horizon, none of them can return a number above a change that
    another one has not seen yet, so the cursor never passes a change that
    commits later."""
    value = session.connection().scalar(statements().horizon, {"province": province_code})
    return value or 0


def page_bound(session: Session, device: Device, cursor: int,
               limit: int) -> tuple[int, set[str], bool]:
    """Where the page starting above ``cursor`` ends: ``(upper, kinds, more)``.

    Found from change numbers alone (a few bytes a row), so that the rows themselves
    are read only once, each source only for ``(cursor, upper]`` and only the sources
    that have something there: a first download's page no longer reads ``limit`` rows
    of every table to keep ``limit`` of them. ``more`` says that changes remain above
    ``upper`` (at or below the horizon). Every change at or below ``upper`` belongs to
    the page, so a number shared by two rows is never split between two pages.

    One statement: the ``limit + 1`` lowest change numbers above ``cursor`` and at or
    below the :func:`horizon` of every source of the device's pull, with their kind
    (each source read from its ``(area, seq)`` index, the sources merged by the
    database). The horizon is read in that same statement (one snapshot on
    PostgreSQL, one round trip less): every number at or below it is final there, and
    the sources read after it only for numbers at or below ``upper``."""
    rows = session.connection().execute(statements().seqs, {
        "area": device.area_code, "device": device.id, "cursor": cursor,
        "province": device.province_code, "limit": limit + 1}).all()
    if not rows:
        return cursor, set(), False
    more = len(rows) > limit
    page = rows[:limit]
    upper = page[-1].seq
    kinds = {r.kind for r in page}
    if more and rows[limit].seq == upper:  # a number shared at the edge: read every source
        kinds = set(KINDS)
    return upper, kinds, more


def pull_page(session: Session, device: Device, cursor: int, limit: int = DEFAULT_LIMIT,
              now: dt.datetime | None = None, clocks: str = FIELDS) -> dict[str, Any]:
    """The next page of changes above ``cursor`` for the device's area (body without keys).

    Changes of every source come in change-number order, a number shared by rows of
    two sources in the sources' order (households, members, events, distributions,
    stock, aliases, conflicts). ``clocks``: :data:`FIELDS` or :data:`PACKED`."""
    if device.revoked:
        raise A0Error("device_revoked")
    if clocks not in CLOCK_FORMS:
        raise A0Error("request_malformed", field="clocks")
    made = _PACKED_CHANGES if clocks == PACKED else _CHANGES
    limit = max(1, min(limit, MAX_LIMIT))
    area = device.area_code
    upper, kinds, more = page_bound(session, device, cursor, limit)
    connection, sql = session.connection(), statements().sources
    params = {"area": area, "device": device.id, "cursor": cursor, "upper": upper}
    changes: list[tuple[int, dict[str, Any]]] = []
    verdicts: list[tuple[int, dict[str, Any]]] = []
    sorted_runs = 0
    for kind in KINDS:  # the sources' order: it orders a number two of them share
        if kind in kinds:
            found = made[kind](connection.execute(sql[kind], params).all(), area)
            if kind == "verdict":
                verdicts = found
            elif found:
                changes += found
                sorted_runs += 1
    if sorted_runs > 1:  # each source is in order already; a stable sort keeps ties so
        changes.sort(key=itemgetter(0))
    last = max(changes[-1][0] if changes else cursor, verdicts[-1][0] if verdicts else cursor)
    next_cursor = upper if more else last

    place, reports = place_of(session, device), device_months(session, area, now)
    # what the device holds (tombstones wait for it): one statement, no read first, last
    # (its row lock, shared with the device's batches, is held only to the commit)
    session.execute(statements().record_cursor, {"device": device.id, "cursor": cursor,
                                                 "now": now or dt.datetime.now(dt.UTC)})
    return {"changes": [change for _, change in changes],
            "verdicts": [verdict for _, verdict in verdicts], "cursor": next_cursor,
            "more": more, "place": place, "reports": reports}


def place_of(session: Session, device: Device) -> dict[str, Any]:
    """Where the device's area is now, with codes and names, and the villages a
    household may be filed under: after a reform migration moved its area to another
    commune (issue 13), or a village was added or renamed, the next pull tells the
    phone. The same as the enrolment profile's (:func:`device_profile`), in two
    statements."""
    return place_names(session, device.area_code, device.commune_code, device.province_code)


def purge_tombstones(session: Session, before: dt.datetime | None = None) -> int:
    """Delete tombstones every active device of their area has pulled past (DESIGN §3.7)
    and, when ``before`` is given, deleted before it: district systems keep no cursor
    here, so they get a retention period to see a deletion in."""
    horizons = dict(session.execute(
        select(Device.area_code, func.min(DeviceSync.pull_cursor))
        .join(DeviceSync, DeviceSync.device_id == Device.id)
        .where(Device.revoked_at.is_(None)).group_by(Device.area_code)).all())
    removed = 0
    for area, horizon in horizons.items():
        old_enough = [Member.updated_at < before] if before is not None else []
        removed += session.execute(delete(Member).where(
            Member.area_code == area, Member.deleted, Member.seq <= horizon,
            *old_enough)).rowcount or 0
        still_referenced = select(Member.id).where(Member.household_id == Household.id).exists()
        old_enough = [Household.updated_at < before] if before is not None else []
        removed += session.execute(delete(Household).where(
            Household.area_code == area, Household.deleted, Household.seq <= horizon,
            ~still_referenced, *old_enough)).rowcount or 0
    return removed

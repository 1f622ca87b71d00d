"""Incremental feeds of the merged register for district systems (DESIGN §5). No Flask.

Each feed (households, members, events, distributions, aliases, stock_movements) pages
through one table by the register's change sequence. Every write gives the row a new
number from its province's counter (:mod:`server.register.sequence`), so

* a row changed after a client read it comes again, with a higher number
  (updates, tombstones ``deleted``, voids ``voided`` and merges ``merged_into``
  all travel this way);
* a page is ``start < seq ≤ high`` per province, where ``high`` is the counter
  read at the start of the request: every number up to a committed counter
  value belongs to a committed transaction (the counter's row lock is held to
  commit), so nothing below ``high`` can show up later and the cursor may move
  to ``high`` once a province has nothing more in scope. Paging is therefore
  complete and exactly-once: each version of a row is delivered once, and
  reading until ``more`` is false gives the register as it was at ``high``.

A page lists provinces in code order and, within one, rows by sequence. Who
sees what comes from :class:`~server.security.scope.Scope` only. Households,
members, events and distributions are person-level (names, addresses, health
events, contraceptives); aliases carry only ids. Each person-level page read is
one audit row (actor, endpoint, scope, row count).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select, true
from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.district import cursor as cursors
from server.models.logistics import StockMovement
from server.models.register import ChangeCounter, Distribution, Event, Household, Member
from server.models.sync import Alias
from server.orgunits.lineage import unknown_unit
from server.orgunits.queries import unit_by_code
from server.security import audit
from server.security.scope import Scope

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
PLACE = ("province_code", "commune_code", "area_code", "seq")
_DIGITS = re.compile(r"^[0-9]{1,6}$")  # ASCII only: "²".isdigit() is true, int("²") fails


@dataclass(frozen=True)
class Feed:
    name: str
    model: Any
    person_level: bool
    columns: tuple[str, ...]
    id_column: str = "id"


FEEDS: dict[str, Feed] = {f.name: f for f in (
    Feed("households", Household, True, (
        "id", *PLACE, "village_code", "number", "address", "head_member_id", "data",
        "deleted", "merged_into", "created_at", "updated_at")),
    Feed("members", Member, True, (
        "id", *PLACE, "household_id", "full_name", "relation", "sex", "birth_date",
        "birth_year", "ethnicity", "bhyt_number", "mother_id", "residence_status",
        "marital_status", "current_method", "method_start", "living_children", "pregnant",
        "expected_date", "death_date", "moved_out_on", "data", "deleted", "merged_into",
        "created_at", "updated_at")),
    Feed("events", Event, True, (
        "id", *PLACE, "form", "form_version", "household_id", "member_id", "event_date",
        "payload", "voided", "device_id", "created_at", "updated_at")),
    Feed("distributions", Distribution, True, (
        "id", *PLACE, "household_id", "member_id", "method", "quantity", "distributed_on",
        "form_version", "voided", "device_id", "created_at", "updated_at")),
    Feed("aliases", Alias, False, (
        "old_id", *PLACE, "survivor_id", "entity", "active", "merged_at"), "old_id"),
    # contraceptive stock movements (issue 17): no person in them; area_code "" is the
    # commune health station's own stock
    Feed("stock_movements", StockMovement, False, (
        "id", *PLACE, "form", "form_version", "method", "quantity", "day", "lot", "expiry",
        "source", "unit_price", "target_id", "voided", "device_id", "created_at",
        "updated_at")),
)}


@dataclass(frozen=True)
class ReadContext:
    """Who reads, for the scope binding and the audit row (filled by the web layer)."""

    scope: Scope
    endpoint: str
    cursor_key: bytes
    ip: str | None = None
    via: dict[str, Any] | None = None  # e.g. {"api_token": 7}


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _item(feed: Feed, row: Any) -> dict[str, Any]:
    out = {name: _json(row[name]) for name in feed.columns}
    if feed.id_column != "id":
        out["id"] = row[feed.id_column]
    return out


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not _DIGITS.match(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise A0Error("request_malformed", field="limit")
    return int(value)


def scope_for_unit(session: Session, scope: Scope, unit_code: str | None) -> Scope | None:
    """The narrowed scope for ``unit`` (``None`` when no unit is asked), or a refusal."""
    if unit_code is None or unit_code == "":
        return None
    unit = unit_by_code(session, unit_code[:40])
    if unit is None:
        raise unknown_unit(session, unit_code[:40])
    try:
        narrowed = scope.narrowed_to(session, unit)
    except ValueError:
        raise A0Error("unit_level_unsupported", record=unit.code, level=unit.level) from None
    if narrowed is None:
        raise A0Error("unit_out_of_scope", record=unit.code)
    return narrowed


def _scope_key(scope: Scope, narrowed: Scope | None, label: str | None = None) -> str:
    unit = f"{narrowed.level}:{narrowed.code}" if narrowed is not None else "-"
    return f"{scope.actor}|{label or scope.label}|{unit}"


def _positions(ctx: ReadContext, feed: Feed, narrowed: Scope | None,
               cursor: str | None) -> dict[str, int]:
    """The cursor's positions; one made before a reform migration moved the account
    (its scope then had another label) goes on where it stopped."""
    try:
        return cursors.decode(ctx.cursor_key, feed.name, _scope_key(ctx.scope, narrowed), cursor)
    except A0Error:
        if not ctx.scope.former:
            raise
        return cursors.decode(ctx.cursor_key, feed.name,
                              _scope_key(ctx.scope, narrowed, ctx.scope.former), cursor)


def describe_scope(scope: Scope, narrowed: Scope | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"level": scope.level, "code": scope.code,
                           "person_level": scope.person_level}
    if scope.group is not None:
        out["group"] = {"code": scope.group, "communes": sorted(scope.communes)}
    if narrowed is not None:
        out["unit"] = {"level": narrowed.level, "code": narrowed.code}
    return out


def _counters(session: Session, provinces: frozenset[str] | None) -> dict[str, int]:
    query = select(ChangeCounter.province_code, ChangeCounter.value)
    if provinces is not None:
        if not provinces:
            return {}
        query = query.where(ChangeCounter.province_code.in_(sorted(provinces)))
    return {p: v for p, v in session.execute(query)}


def read_page(session: Session, ctx: ReadContext, feed_name: str, *,
              cursor: str | None = None, limit: int = DEFAULT_LIMIT,
              unit_code: str | None = None) -> dict[str, Any]:
    """The next page of ``feed_name`` after ``cursor`` in the reader's scope.

    Adds the audit row of a person-level read to the caller's transaction: the
    caller commits before the page leaves the server.
    """
    feed = FEEDS.get(feed_name)
    if feed is None:
        raise A0Error("not_found")
    scope = ctx.scope
    if scope.level == "none":
        raise A0Error("forbidden")
    if feed.person_level and not scope.person_level:
        raise A0Error("person_access_required")
    if not 1 <= limit <= MAX_LIMIT:
        raise A0Error("request_malformed", field="limit")
    narrowed = scope_for_unit(session, scope, unit_code)
    scope_key = _scope_key(scope, narrowed)
    positions = _positions(ctx, feed, narrowed, cursor)

    model = feed.model
    table = model.__table__
    in_scope = and_(scope.where(model), narrowed.where(model) if narrowed else true())
    counters = _counters(session, (narrowed or scope).provinces(session))

    items: list[dict[str, Any]] = []
    more = False
    for province in sorted(counters):
        start, high = positions.get(province, 0), counters[province]
        if high <= start:
            continue
        window = and_(table.c.province_code == province, table.c.seq > start,
                      table.c.seq <= high, in_scope)
        room = limit - len(items)
        if room == 0:
            if session.scalar(select(exists().where(window))):
                more = True
                break
            positions[province] = high
            continue
        rows = session.execute(select(*[table.c[name] for name in feed.columns])
                               .where(window).order_by(table.c.seq).limit(room + 1)).all()
        if len(rows) > room:
            rows = rows[:room]
            more = True
        items.extend(_item(feed, r._mapping) for r in rows)
        positions[province] = rows[-1].seq if more else high
        if more:
            break

    if feed.person_level:
        _audit(session, ctx, feed, narrowed, len(items), cursor is not None and cursor != "",
               more)
    return {"feed": feed.name, "items": items, "count": len(items), "more": more,
            "cursor": cursors.encode(ctx.cursor_key, feed.name, scope_key, positions)}


def _audit(session: Session, ctx: ReadContext, feed: Feed, narrowed: Scope | None,
           count: int, resumed: bool, more: bool) -> None:
    scope = ctx.scope
    where = narrowed or scope
    province = where.code if where.level == "province" else None
    commune = where.code if where.level == "commune" else None
    audit.record(session, scope.actor, "district_api.read", target=ctx.endpoint,
                 province_code=province, commune_code=commune, ip=ctx.ip, row_count=count,
                 details={"feed": feed.name, "scope": describe_scope(scope, narrowed),
                          "resumed": resumed, "more": more, **(ctx.via or {})})

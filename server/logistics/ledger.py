"""Stock ledgers from the database: the movements of some holders, as :mod:`a0core.stock`
reads them.

Every movement keeps the place it was recorded in: a collaborator's side is found by
its area code (wherever the area's commune is now), the station's by the commune the
station recorded it in. A collaborator's hand-outs are the register's distributions
of the area; for roll-ups they are read summed by day, method, source and price
(hand-outs are many, and a cell needs only their sums), for flags and pages one by one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from a0core import stock
from a0core.p0 import vn_day
from server.models.base import chunks
from server.models.logistics import StockMovement
from server.models.register import Distribution

# movements that change the station's figures (server.logistics.movements.affected)
STATION_FORMS = (stock.TRANSFER, stock.DISPENSE, stock.CONFIRM, stock.RETURN)
_COLUMNS = (StockMovement.id, StockMovement.form, StockMovement.area_code,
            StockMovement.commune_code, StockMovement.province_code, StockMovement.method,
            StockMovement.quantity, StockMovement.day, StockMovement.hlc,
            StockMovement.device_id, StockMovement.voided, StockMovement.target_id,
            StockMovement.lot, StockMovement.expiry, StockMovement.source,
            StockMovement.unit_price)


FEW = 50  # holders looked up one by one (an indexed look-up each) rather than all at once
# an area's first movement, if any: built once on the table
_ANY_MOVEMENT = select(StockMovement.__table__.c.id).where(
    StockMovement.__table__.c.area_code == bindparam("area")).limit(1)


def today() -> str:
    """Today in Vietnam: days out of stock run to it."""
    return vn_day(dt.datetime.now(dt.UTC)).isoformat()


def _movement(r: Any) -> stock.Movement:
    """A row of :data:`_COLUMNS` (unpacked by position: thousands are read at once)."""
    (id_, form, area, _commune, _province, method, quantity, day, hlc, device, voided,
     target, lot, expiry, source, price) = r
    return stock.Movement(id_, form, area or stock.STATION, method, quantity, day,
                          (hlc, device), bool(voided), target, lot, expiry, source, price)


def _rows(session: Session, query: Any) -> Any:
    """Plain rows of a query of columns (the ORM's per-row work left out; pending
    writes flushed first, as the session would)."""
    session.flush()
    return session.connection().execute(query).all()


@dataclass
class Holdings:
    """The movements that concern one station or one area, and where they were recorded."""

    movements: list[stock.Movement] = field(default_factory=list)
    province_code: str = ""
    commune_code: str = ""
    _ledgers: dict[tuple[str, str], stock.Ledger] | None = field(
        default=None, init=False, repr=False, compare=False)

    def ledgers(self, holder: str) -> dict[str, stock.Ledger]:
        """The holder's ledger for each method (the postings of all the movements are
        made once: flags, leaves and pages ask for them in turn)."""
        if self._ledgers is None:
            self._ledgers = stock.ledgers(stock.postings(self.movements))
        return {method: ledger for (who, method), ledger in self._ledgers.items()
                if who == holder}


def areas_with_stock(session: Session, areas: Collection[str] | None = None) -> set[str]:
    query = select(StockMovement.area_code).distinct().where(StockMovement.area_code != "")
    if areas is None:
        return set(session.scalars(query))
    if len(areas) <= FEW:  # one indexed look-up each, not every movement of the areas,
        # all in one statement
        wanted = sorted({a for a in areas if a})
        if len(wanted) <= 1:  # one area: a statement built once
            return {a for a in wanted if session.execute(_ANY_MOVEMENT, {"area": a}).first()}
        probes = [select(literal(a, String)).where(
            select(StockMovement.id).where(StockMovement.area_code == a).exists())
            for a in wanted]
        return set(session.scalars(union_all(*probes)))
    found: set[str] = set()
    for chunk in chunks(sorted(areas), 500):
        found.update(session.scalars(query.where(StockMovement.area_code.in_(chunk))))
    return found


def area_holdings(session: Session, areas: Collection[str] | None = None, *,
                  one_by_one: bool = False) -> dict[str, Holdings]:
    """The movements of each area with a stock movement (all areas: None), its
    hand-outs included (summed by day unless ``one_by_one``)."""
    out: dict[str, Holdings] = defaultdict(Holdings)
    wanted = areas_with_stock(session, areas)
    for chunk in chunks(sorted(wanted), 500):
        for r in _rows(session, select(*_COLUMNS).where(StockMovement.area_code.in_(chunk))):
            held = out[r.area_code]
            held.movements.append(_movement(r))
            held.province_code, held.commune_code = r.province_code, r.commune_code
        out_of = _handouts_one_by_one if one_by_one else _handouts_summed
        for area, movement in out_of(session, chunk):
            out[area].movements.append(movement)
    return dict(out)


def area_since(session: Session, area: str, since: str) -> Holdings:
    """A collaborator's movements from ``since`` (and every transfer and confirmation:
    an old transfer may be confirmed in a month read), with its hand-outs summed by day;
    its place from its movements."""
    held = Holdings()
    found = _rows(session, select(*_COLUMNS).where(
        StockMovement.area_code == area,
        or_(StockMovement.day >= since, StockMovement.form.in_((stock.TRANSFER,
                                                                stock.CONFIRM)))))
    held.movements = [_movement(r) for r in found]
    place = (found[-1].province_code, found[-1].commune_code) if found else \
        session.execute(select(StockMovement.province_code, StockMovement.commune_code)
                        .where(StockMovement.area_code == area).limit(1)).one()
    held.province_code, held.commune_code = place
    held.movements += [m for _, m in _handouts_summed(session, [area], since)]
    return held


def _handouts_summed(session: Session, areas: Collection[str], since: str | None = None
                     ) -> Iterable[tuple[str, stock.Movement]]:
    """Hand-outs summed by area, day, method, source and price (from ``since``), each sum
    named by the first of its hand-outs' ids: a ledger sorts a day's lines by id, so
    the first line of a day below zero is the one it would be one by one."""
    d = Distribution
    query = (select(d.area_code, d.method, d.distributed_on, d.source, d.unit_price,
                    func.sum(d.quantity), func.min(d.id))
             .where(d.area_code.in_(list(areas)), ~d.voided)
             .group_by(d.area_code, d.method, d.distributed_on, d.source, d.unit_price))
    if since is not None:
        query = query.where(d.distributed_on >= since)
    for area, method, day, source, price, quantity, first in session.execute(query):
        yield area, stock.Movement(
            id=first, form=stock.DISTRIBUTION, area=area,
            method=method, quantity=int(quantity), day=day, source=source, unit_price=price)


def _handouts_one_by_one(session: Session, areas: Collection[str]
                         ) -> Iterable[tuple[str, stock.Movement]]:
    d = Distribution
    for r in session.execute(select(d.id, d.area_code, d.method, d.distributed_on, d.quantity,
                                    d.source, d.unit_price, d.hlc, d.device_id)
                             .where(d.area_code.in_(list(areas)), ~d.voided)):
        yield r.area_code, stock.Movement(
            id=r.id, form=stock.DISTRIBUTION, area=r.area_code, method=r.method,
            quantity=r.quantity, day=r.distributed_on, stamp=(r.hlc, r.device_id),
            source=r.source, unit_price=r.unit_price)


def holders_with_lots_by(session: Session, commune: str, holders: Collection[str],
                         expiry: str) -> set[str]:
    """Of ``holders`` (areas, and the station: ""), those that may hold a lot expiring
    on or before ``expiry``: a lot comes in with a movement naming its expiry (the
    station's also with a collaborator's return, so any in its commune counts)."""
    areas = sorted(h for h in holders if h != stock.STATION)
    query = select(StockMovement.area_code).distinct().where(
        StockMovement.expiry.is_not(None), StockMovement.expiry <= expiry, ~StockMovement.voided)
    found: set[str] = set()
    if stock.STATION in holders and session.scalar(
            query.where(StockMovement.commune_code == commune).limit(1)) is not None:
        found.add(stock.STATION)
    for chunk in chunks(areas, 500):
        found.update(session.scalars(query.where(StockMovement.area_code.in_(chunk))))
    return found & set(holders)


def stations(session: Session, communes: Collection[str] | None = None) -> set[str]:
    """Communes whose station has a movement (withdrawn ones too)."""
    concerns = or_(StockMovement.area_code == "", StockMovement.form.in_(STATION_FORMS))
    query = select(StockMovement.commune_code).distinct().where(concerns)
    if communes is None:
        return set(session.scalars(query))
    if len(communes) <= FEW:
        return {c for c in communes if session.scalar(select(StockMovement.id).where(
            StockMovement.commune_code == c, concerns).limit(1)) is not None}
    return set(session.scalars(query.where(StockMovement.commune_code.in_(sorted(communes)))))


def station_holdings(session: Session, communes: Collection[str] | None = None
                     ) -> dict[str, Holdings]:
    """Everything recorded in each commune whose station has a movement, and the
    confirmations of its transfers and returns recorded elsewhere."""
    out: dict[str, Holdings] = {}
    wanted = stations(session, communes)
    for chunk in chunks(sorted(wanted), 500):
        for r in _rows(session, select(*_COLUMNS).where(StockMovement.commune_code.in_(chunk))):
            held = out.get(r.commune_code)
            if held is None:
                held = out[r.commune_code] = Holdings(province_code=r.province_code,
                                                      commune_code=r.commune_code)
            held.movements.append(_movement(r))
    commune_of = {m.id: commune for commune, held in out.items() for m in held.movements
                  if stock.confirmed_by_receiver(m)}
    known = {m.id for held in out.values() for m in held.movements}
    loaded = sorted(out)  # every movement recorded in these communes is read already
    for chunk in chunks(sorted(commune_of), 500):
        for r in _rows(session, select(*_COLUMNS).where(
                StockMovement.target_id.in_(chunk), StockMovement.commune_code.not_in(loaded))):
            if r.id not in known:
                out[commune_of[r.target_id]].movements.append(_movement(r))
    return out


@dataclass(frozen=True, slots=True)
class Sent:
    """A transfer or a collaborator's return with the confirmation that counts (the
    latest by stamp that is not voided; None: not confirmed)."""

    id: str
    form: str
    area: str
    method: str
    day: str
    quantity: int
    voided: bool
    confirm_id: str | None
    confirm_day: str | None
    confirm_quantity: int | None


@dataclass
class StationSince:
    """What a station's months from ``since`` need, read summed where a sum will do:

    * ``own`` — the station's own movements from then (receipts, hand-outs, losses,
      counts, returns to a higher level), one by one;
    * ``issued`` — transfers to collaborators from then, summed by method and day (each
      sum named by its first id: a ledger sorts a day's lines by id);
    * ``sent`` — transfers and collaborators' returns issued from then, or confirmed
      from then, each with the confirmation that counts."""

    province_code: str = ""
    own: list[stock.Movement] = field(default_factory=list)
    issued: list[tuple[str, str, int, str]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)


@cache
def _station_since_queries() -> tuple[Any, Any, Any, Any, Any]:
    """The statements of :func:`station_since`, built once (bound per call: ``commune``,
    ``since``)."""
    m, c, counted = StockMovement, aliased(StockMovement), aliased(StockMovement)
    commune, since = bindparam("commune"), bindparam("since")
    own = select(*_COLUMNS).where(m.commune_code == commune, m.area_code == "",
                                  m.day >= since)
    province = select(m.province_code).where(m.commune_code == commune).limit(1)
    issued = (select(m.method, m.day, func.sum(m.quantity), func.min(m.id))
              .where(m.commune_code == commune, m.form == stock.TRANSFER, m.area_code != "",
                     m.day >= since, ~m.voided).group_by(m.method, m.day))
    latest = (select(c.id).where(c.target_id == m.id, c.form == stock.CONFIRM, ~c.voided)
              .order_by(c.hlc.desc(), c.device_id.desc()).limit(1).scalar_subquery())
    columns = (m.id, m.form, m.area_code, m.method, m.day, m.quantity, m.voided,
               counted.id, counted.day, counted.quantity)
    sent = (m.commune_code == commune, m.form.in_((stock.TRANSFER, stock.RETURN)),
            m.area_code != "")
    confirmed_since = select(c.target_id).where(
        c.commune_code == commune, c.form == stock.CONFIRM, c.day >= since)
    recent = select(*columns).outerjoin(counted, counted.id == latest).where(
        *sent, m.day >= since)
    # looked up by id from the confirmations (their commune checked after: as a
    # condition it would have the database read every older movement of the commune)
    older = select(*columns, m.commune_code).outerjoin(counted, counted.id == latest).where(
        m.form.in_((stock.TRANSFER, stock.RETURN)), m.area_code != "", m.day < since,
        m.id.in_(confirmed_since))
    return own, province, issued, recent, older


def station_since(session: Session, commune: str, since: str) -> StationSince:
    own, province, issued, recent, older = _station_since_queries()
    bound = {"commune": commune, "since": since}
    out = StationSince()
    session.flush()
    conn = session.connection()
    for r in conn.execute(own, bound).all():
        out.province_code = r.province_code
        out.own.append(_movement(r))
    if not out.province_code:
        out.province_code = conn.execute(province, bound).scalar() or ""
    out.issued = [tuple(r) for r in conn.execute(issued, bound).all()]  # type: ignore[misc]
    for query in (recent, older):
        out.sent += [Sent(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9])
                     for r in conn.execute(query, bound).all()
                     if query is recent or r[10] == commune]
    return out

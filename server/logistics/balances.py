"""Stored monthly balances (``stock_month``): each holder's months, computed from the
first month a change touched.

A holder's ledger for a month depends on everything before it, yet it needs only a few
numbers from the months before: the closing balance, what was handed out and issued in
the two months before (months of stock), and the stock in transit (the station). The
rows of ``stock_month`` keep them per holder (a collaborator's area, or a commune's
station), method and month, from the ledger's start to the last month computed, with
the month's first day ending below zero. So the work after a batch reads only

* the holder's stored rows of the months before the first month touched, and
* the movements and hand-outs from that month on (plus, for the station, the
  transfers and returns their confirmations name, and every confirmation of them),

and rewrites the holder's rows from that month on. Every movement's change reaches
back to the first day it can change (:func:`server.logistics.movements.first_day`), so
the rows before it stay true, and the result is the ledger of all the movements,
whatever their order of arrival (tested against the whole ledger). A holder without a
stored month before the one touched is computed from all its movements, as is everyone
in a full recompute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from a0core import stock
from server.logistics import ledger
from server.models.base import chunks
from server.models.logistics import StockMonth
from server.rollups.indicators import index_month, month_index

CTV, STATION = "ctv", "station"
ByMethod = dict[str, dict[str, dict[str, int]]]  # method -> month -> figures


@dataclass
class Computed:
    """One holder's months from ``first`` on (None: none tracked), per method."""

    kind: str
    code: str
    province_code: str = ""
    commune_code: str = ""
    first: str | None = None
    by_method: ByMethod = field(default_factory=dict)
    movements: list[stock.Movement] = field(default_factory=list)  # what was read
    # a station's transfers and returns whose confirmation is to look at, and the ids of
    # those the months computed cover (None: all of them)
    confirm_flags: dict[tuple[str, str, str, str], tuple[str, dict]] = field(
        default_factory=dict)
    sent: set[str] | None = None


def _shift(month: str, by: int) -> str:
    return index_month(month_index(month) + by)


def _current() -> str:
    return ledger.today()[:7]


# ------------------------------------------------------------------ compute


def _compute(out: Computed, lines: list[stock.Posting], holder: str,
             transits: list[stock.Transit], base: Mapping[tuple[str, str], StockMonth],
             first: str | None, transit_before: Mapping[str, int], today: str,
             last: str | None = None) -> list[dict]:
    """The holder's figures from ``first`` (None: its start) from its lines on and
    after it and the rows ``base`` of the two months before; returns the rows to store."""
    found = {method: led for (who, method), led in stock.ledgers(lines).items()
             if who == holder}
    carried_from = _shift(first, -1) if first else None
    if first is not None:
        for (method, month) in base:
            if month == carried_from and method not in found:
                found[method] = stock.Ledger(holder, method)
    rows = []
    current = _current()
    for method, led in found.items():
        carried = None
        if first is not None:
            before = base.get((method, carried_from))
            if before is not None:  # started before: carries on from the stored month
                led.start = first + "-01"
                led.base = before.closing
            moved = {}
            for back in (1, 2):
                row = base.get((method, _shift(first, -back)))
                if row is not None:
                    moved[(row.month, "distributed")] = row.distributed
                    moved[(row.month, "issued")] = row.issued
            carried = stock.Carried(moved, (before.in_transit if before else 0)
                                    + transit_before.get(method, 0))
        if led.start is None:
            continue
        end = max([current, led.start[:7], *(p.day[:7] for p in led.lines),
                   *([last] if last else [])])
        months = [index_month(i) for i in range(month_index(led.start[:7]),
                                                month_index(end) + 1)]
        figures = stock.month_figures(led, months, today,
                                      [t for t in transits if t.method == method], carried)
        negatives = led.negatives_by_month()
        out.by_method[method] = figures
        for month in months:
            values = figures.get(month, {})
            neg = negatives.get(month)
            rows.append({"kind": out.kind, "holder": out.code, "method": method,
                         "month": month, "closing": values.get("closing", 0),
                         "distributed": values.get("distributed", 0),
                         "issued": values.get("issued", 0),
                         "in_transit": values.get("in_transit", 0),
                         "negative_day": neg[0] if neg else None,
                         "negative_balance": neg[1] if neg else None,
                         "negative_movement": neg[2] if neg else None})
    out.first = first
    return rows


def _store(session: Session, kind: str, code: str, first: str | None, rows: list[dict]
           ) -> None:
    query = delete(StockMonth).where(StockMonth.kind == kind, StockMonth.holder == code)
    if first is not None:
        query = query.where(StockMonth.month >= first)
    session.execute(query)
    if rows:
        session.execute(insert(StockMonth), rows)


def _base(session: Session, kind: str, code: str, touched: str
          ) -> tuple[str | None, dict[tuple[str, str], StockMonth]]:
    """The month to compute from (None: from all movements) and the stored rows of the
    two months before it."""
    wanted = [_shift(touched, -1), _shift(touched, -2)]
    rows = session.scalars(select(StockMonth).where(
        StockMonth.kind == kind, StockMonth.holder == code, StockMonth.month.in_(wanted))).all()
    if any(r.month == wanted[0] for r in rows):
        return touched, {(r.method, r.month): r for r in rows}
    last = session.scalar(select(func.max(StockMonth.month)).where(
        StockMonth.kind == kind, StockMonth.holder == code, StockMonth.month < touched))
    if last is None:
        return None, {}
    first = _shift(last, 1)  # nothing stored since: carried on from the last month stored
    rows = session.scalars(select(StockMonth).where(
        StockMonth.kind == kind, StockMonth.holder == code,
        StockMonth.month.in_([last, _shift(last, -1)]))).all()
    return first, {(r.method, r.month): r for r in rows}


# -------------------------------------------------------------------- areas


def areas(session: Session, touched: Mapping[str, str | None], *, store: bool = True
          ) -> dict[str, Computed]:
    """The collaborators' months of these areas (with stock movements) from the month
    each was touched (None: from all its movements); stored unless ``store`` is
    False."""
    today = ledger.today()
    out: dict[str, Computed] = {}
    full = [a for a, m in touched.items() if m is None]
    if full:
        for area, held in ledger.area_holdings(session, full).items():
            done = out[area] = Computed(CTV, area, held.province_code, held.commune_code,
                                        movements=held.movements)
            rows = _compute(done, stock.postings(held.movements), area, [], {}, None, {},
                            today)
            if store:
                _store(session, CTV, area, None, rows)
    rest = ledger.areas_with_stock(session, [a for a, m in touched.items() if m is not None])
    for area in sorted(rest):
        first, base = _base(session, CTV, area, touched[area])  # type: ignore[arg-type]
        if first is None:
            out.update(areas(session, {area: None}, store=store))
            continue
        since = first + "-01"
        held = ledger.area_since(session, area, since)
        moved = held.movements
        done = out[area] = Computed(CTV, area, held.province_code, held.commune_code,
                                    movements=moved)
        lines = [p for p in stock.postings(moved) if p.holder == area and p.day >= since]
        rows = _compute(done, lines, area, [], base, first, {}, today)
        if store:
            _store(session, CTV, area, first, rows)
    return out


# ----------------------------------------------------------------- stations


def stations(session: Session, touched: Mapping[str, str | None], *, store: bool = True
             ) -> dict[str, Computed]:
    """The stations' months of these communes (with a station) from the month each
    was touched (None: from all its movements)."""
    today = ledger.today()
    out: dict[str, Computed] = {}
    full = [c for c, m in touched.items() if m is None]
    if full:
        for commune, held in ledger.station_holdings(session, full).items():
            done = out[commune] = Computed(STATION, commune, held.province_code, commune,
                                           movements=held.movements)
            done.confirm_flags = confirmation_flags(held.movements)
            rows = _compute(done, stock.postings(held.movements), stock.STATION,
                            stock.transits(held.movements), {}, None, {}, today)
            if store:
                _store(session, STATION, commune, None, rows)
    rest = ledger.stations(session, [c for c, m in touched.items() if m is not None])
    for commune in sorted(rest):
        first, base = _base(session, STATION, commune, touched[commune])  # type: ignore[arg-type]
        if first is None:
            out.update(stations(session, {commune: None}, store=store))
            continue
        since = first + "-01"
        read = ledger.station_since(session, commune, since)
        done = out[commune] = Computed(STATION, commune, read.province_code, commune)
        lines = [p for p in stock.postings(read.own) if p.holder == stock.STATION]
        lines += [stock.Posting(stock.STATION, method, day, "issued", int(quantity), first_id)
                  for method, day, quantity, first_id in read.issued]
        transits, before = [], defaultdict(int)
        done.sent = set()
        for t in read.sent:
            if t.day >= since:
                done.sent.add(t.id)
                done.confirm_flags.update(_confirm_flag(t))
            if t.voided:
                continue
            end = t.confirm_day
            if t.form == stock.RETURN and end is not None and end >= since:
                lines.append(stock.Posting(stock.STATION, t.method, end, "received_back",
                                           int(t.confirm_quantity or 0), t.confirm_id or ""))
            transit = stock.Transit(t.method, t.day, end, t.quantity, t.id)
            if t.day >= since:
                transits.append(transit)
            elif end is None or end >= since:  # open when the stored month ended
                transits.append(transit)
                before[t.method] -= t.quantity
        rows = _compute(done, lines, stock.STATION, transits, base, first, before, today)
        if store:
            _store(session, STATION, commune, first, rows)
    return out


# ------------------------------------------------------------------ alerts

MISMATCH, VOIDED = "stock_confirm_mismatch", "stock_confirm_voided"


def _confirm_flag(t: ledger.Sent) -> dict[tuple[str, str, str, str], tuple[str, dict]]:
    if t.confirm_day is None:
        return {}
    if t.voided:
        return {(t.area, t.method, VOIDED, t.id): (t.confirm_day,
                                                   {"received": t.confirm_quantity})}
    if t.confirm_quantity != t.quantity:
        return {(t.area, t.method, MISMATCH, t.id): (
            t.confirm_day, {"issued": t.quantity, "received": t.confirm_quantity})}
    return {}


def confirmation_flags(movements: list[stock.Movement]
                       ) -> dict[tuple[str, str, str, str], tuple[str, dict]]:
    """The confirmations to look at among all these movements (as :func:`_confirm_flag`)."""
    out = {}
    confirmed = stock.confirmations(movements)
    for m in movements:
        c = confirmed.get(m.id)
        if c is not None and stock.confirmed_by_receiver(m):
            out.update(_confirm_flag(ledger.Sent(
                m.id, m.form, m.area, m.method, m.day, m.quantity, m.voided, c.id, c.day,
                c.quantity)))
    return out




def first_negatives(session: Session, kind: str, codes: list[str]
                    ) -> dict[str, dict[str, tuple[str, int, str]]]:
    """Each holder's first day below zero per method, from the stored months."""
    out: dict[str, dict[str, tuple[str, int, str]]] = defaultdict(dict)
    for chunk in chunks(sorted(codes), 500):
        for r in session.execute(select(StockMonth.holder, StockMonth.method,
                                        StockMonth.negative_day, StockMonth.negative_balance,
                                        StockMonth.negative_movement)
                                 .where(StockMonth.kind == kind, StockMonth.holder.in_(chunk),
                                        StockMonth.negative_day.is_not(None))
                                 .order_by(StockMonth.month)):
            out[r.holder].setdefault(r.method, (r.negative_day, int(r.negative_balance),
                                                r.negative_movement))
    return out

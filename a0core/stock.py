"""Contraceptive stock (LMIS): what each movement does to whose balance.

Shared by the app and the server, so the stock a phone shows and the balances the
server rolls up follow one rule, whatever order the movements arrived in.

*Holders.* The commune health station (:data:`STATION`) and the collaborator of each
area (the area's code: the stock belongs to the area's collaborator post, so a new
collaborator takes over the bag). A movement record names an ``area_code`` for the
collaborator's side and none for the station's own stock.

*Movements* (forms ``stock_*`` in ``schemas/``, and the ``distribution`` form):

=====================  ==========================================================
receipt                the receiver's stock rises (``received``): the station from a
                       higher level, a collaborator from another supplier
transfer               the station issues to a collaborator: the station's stock falls
                       on the day issued (``issued``); the collaborator's rises by the
                       quantity *confirmed* on the day confirmed (``received``)
return                 a collaborator's stock falls (``returned``) and the station's
                       rises by what it confirms (``received_back``); without an area,
                       the station returns stock to a higher level (``returned``)
loss                   ``lost`` (expired, damaged, lost)
adjustment             ``adjusted`` by counted − book balance (signed)
dispense               the station hands out to clients (``distributed``)
distribution           a collaborator hands out to a household (``distributed``)
confirm                the receiving side of a transfer or a collaborator's return says
                       what arrived; the latest confirmation (by stamp) counts
=====================  ==========================================================

A voided movement counts for nothing. A holder's *ledger* for a method starts on the
first day of the month of its first stock movement (anything but a distribution):
hand-outs recorded before a commune used this ledger are history, not a shortage.

*Month figures* (:func:`month_figures`): opening, each column's flow (hand-outs also
by source, and their value when sold), closing; ``distributed_3m`` and ``issued_3m``,
the month's and the two before (a holder's consumption is what it hands out and, for
the station, what it issues: months of stock = closing ÷ (consumption over three
months / 3), :func:`months_of_stock`); ``days_out``:
days of the month (up to today) that ended with nothing on hand; ``stocked_out`` 1
when the month ends with nothing; ``holders`` 1; for the station, ``in_transit``:
issued or returned but not yet confirmed at the month's end.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STATION = ""  # the holder key of the commune health station (an area's code otherwise)

RECEIPT, TRANSFER, RETURN = "stock_receipt", "stock_transfer", "stock_return"
LOSS, ADJUSTMENT, DISPENSE, CONFIRM = "stock_loss", "stock_adjustment", "stock_dispense", \
    "stock_confirm"
DISTRIBUTION = "distribution"
STOCK_FORMS = (RECEIPT, TRANSFER, RETURN, LOSS, ADJUSTMENT, DISPENSE, CONFIRM)
# what a collaborator's device records itself (the rest is the station's)
DEVICE_FORMS = (RECEIPT, RETURN, LOSS, ADJUSTMENT, CONFIRM)

DAY_FIELD = {RECEIPT: "received_on", TRANSFER: "issued_on", RETURN: "returned_on",
             LOSS: "lost_on", ADJUSTMENT: "counted_on", DISPENSE: "dispensed_on",
             CONFIRM: "received_on", DISTRIBUTION: "distributed_on"}

# ledger columns: +1 adds to the balance, -1 takes from it
COLUMNS: dict[str, int] = {"received": 1, "received_back": 1, "adjusted": 1,
                           "issued": -1, "distributed": -1, "returned": -1, "lost": -1}
UNSTATED = "unstated"  # a distribution recorded before its form had a source (v1)
PRICED = ("social_marketing", "sold")


@dataclass(frozen=True, slots=True)
class Movement:
    """One movement as the ledger reads it (from a form record, stored or pulled)."""

    id: str
    form: str
    area: str              # the collaborator's area; STATION for the station's own
    method: str
    quantity: int          # signed for an adjustment (counted − book balance)
    day: str
    stamp: tuple[int, str] = (0, "")
    voided: bool = False
    target: str | None = None  # a confirmation's transfer or return
    lot: str | None = None
    expiry: str | None = None
    source: str | None = None
    unit_price: int | None = None


def movement(form: str, record: Mapping[str, Any], *, stamp: tuple[int, str] = (0, ""),
             voided: bool = False, target: Movement | None = None) -> Movement:
    """The movement of a valid record of ``form`` (a stock form or a distribution). A
    confirmation takes its method and area from the ``target`` it confirms."""
    if form == ADJUSTMENT:
        quantity = int(record["counted"]) - int(record["book_balance"])
    elif form == CONFIRM:
        quantity = int(record["received_quantity"])
    else:
        quantity = int(record["quantity"])
    if form == CONFIRM:
        method = target.method if target else ""
        area = target.area if target else STATION
    else:
        method, area = record["method"], record.get("area_code") or STATION
    return Movement(
        id=record["id"], form=form, area=area, method=method, quantity=quantity,
        day=record[DAY_FIELD[form]], stamp=(int(stamp[0]), str(stamp[1])), voided=voided,
        target=record.get("transfer_id"), lot=record.get("lot"), expiry=record.get("expiry"),
        source=record.get("source") if form in (DISTRIBUTION, DISPENSE) else None,
        unit_price=record.get("unit_price"))


def confirmed_by_receiver(m: Movement) -> bool:
    """A transfer, or a collaborator's return: the receiving side confirms it."""
    return m.form == TRANSFER or (m.form == RETURN and m.area != STATION)


def confirmations(movements: Iterable[Movement]) -> dict[str, Movement]:
    """The confirmation that counts for each transfer or return: the latest (by stamp)
    that is not voided."""
    out: dict[str, Movement] = {}
    for m in movements:
        if m.form == CONFIRM and not m.voided and m.target:
            kept = out.get(m.target)
            if kept is None or m.stamp > kept.stamp:
                out[m.target] = m
    return out


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of a holder's ledger."""

    holder: str
    method: str
    day: str
    column: str
    quantity: int
    movement: str
    source: str | None = None  # distributed: free | social_marketing | sold | unstated
    value: int = 0             # distributed for a price: quantity × unit price (VND)

    @property
    def signed(self) -> int:
        return COLUMNS[self.column] * self.quantity


def postings(movements: Iterable[Movement]) -> list[Posting]:
    """Every ledger line of these movements, each movement counted once."""
    movements = list(movements)
    confirmed = confirmations(movements)
    out: list[Posting] = []
    for m in movements:
        if m.voided or m.form == CONFIRM:
            continue
        own = (m.area, m.method, m.day)
        if m.form == RECEIPT:
            out.append(Posting(*own, "received", m.quantity, m.id))
        elif m.form == TRANSFER:
            out.append(Posting(STATION, m.method, m.day, "issued", m.quantity, m.id))
            if (c := confirmed.get(m.id)) is not None:
                out.append(Posting(m.area, m.method, c.day, "received", c.quantity, c.id))
        elif m.form == RETURN:
            out.append(Posting(*own, "returned", m.quantity, m.id))
            if m.area != STATION and (c := confirmed.get(m.id)) is not None:
                out.append(Posting(STATION, m.method, c.day, "received_back", c.quantity, c.id))
        elif m.form == LOSS:
            out.append(Posting(*own, "lost", m.quantity, m.id))
        elif m.form == ADJUSTMENT:
            out.append(Posting(*own, "adjusted", m.quantity, m.id))
        elif m.form in (DISPENSE, DISTRIBUTION):
            source = m.source or UNSTATED
            value = m.quantity * (m.unit_price or 0) if source in PRICED else 0
            out.append(Posting(*own, "distributed", m.quantity, m.id, source, value))
    return out


@dataclass(frozen=True, slots=True)
class Transit:
    """Stock on its way between the station and a collaborator: issued (or returned)
    on ``start`` and confirmed on ``end`` (None: not yet)."""

    method: str
    start: str
    end: str | None
    quantity: int
    movement: str


def transits(movements: Iterable[Movement]) -> list[Transit]:
    movements = list(movements)
    confirmed = confirmations(movements)
    return [Transit(m.method, m.day, c.day if (c := confirmed.get(m.id)) else None,
                    m.quantity, m.id)
            for m in movements if not m.voided and confirmed_by_receiver(m)]


# ------------------------------------------------------------------ ledgers


@dataclass
class Ledger:
    """One holder's postings for one method; ``start`` is the first day the ledger
    counts from (None: the holder has no stock movement for the method)."""

    holder: str
    method: str
    lines: list[Posting] = field(default_factory=list)
    start: str | None = None
    base: int = 0  # the balance carried in from before its lines (stored months)
    _counted: list[Posting] | None = field(default=None, repr=False, compare=False)

    @property
    def tracked(self) -> bool:
        return self.start is not None

    def counted(self) -> list[Posting]:
        """The lines from the ledger's start, by day (on one day, what comes in before
        what goes out)."""
        if self._counted is None:
            self._counted = [] if self.start is None else sorted(
                (p for p in self.lines if p.day >= self.start),  # type: ignore[operator]
                key=lambda p: (p.day, -COLUMNS[p.column], p.movement))
        return self._counted

    def balance(self, as_of: str | None = None) -> int:
        return self.base + sum(p.signed for p in self.counted() if as_of is None or p.day <= as_of)

    def end_of_days(self) -> list[tuple[str, int, list[Posting]]]:
        """(day, balance at the day's end, the day's lines) for each day with a line."""
        out: list[tuple[str, int, list[Posting]]] = []
        balance = self.base
        for p in self.counted():
            balance += p.signed
            if out and out[-1][0] == p.day:
                out[-1][2].append(p)
                out[-1] = (p.day, balance, out[-1][2])
            else:
                out.append((p.day, balance, [p]))
        return out

    def first_negative(self) -> tuple[str, int, str] | None:
        """The first day that ends below zero, its balance, and the movement of that day
        to look at (the first that took stock out)."""
        for day, balance, lines in self.end_of_days():
            if balance < 0:
                culprit = next((p for p in lines if p.signed < 0), lines[-1])
                return day, balance, culprit.movement
        return None

    def negatives_by_month(self) -> dict[str, tuple[str, int, str]]:
        """For each month, its first day that ends below zero (as :meth:`first_negative`)."""
        out: dict[str, tuple[str, int, str]] = {}
        for day, balance, lines in self.end_of_days():
            if balance < 0 and day[:7] not in out:
                culprit = next((p for p in lines if p.signed < 0), lines[-1])
                out[day[:7]] = (day, balance, culprit.movement)
        return out


def ledgers(lines: Iterable[Posting]) -> dict[tuple[str, str], Ledger]:
    """Ledgers by (holder, method); each starts with the month of its first stock line."""
    out: dict[tuple[str, str], Ledger] = {}
    for p in lines:
        ledger = out.get((p.holder, p.method))
        if ledger is None:
            ledger = out[(p.holder, p.method)] = Ledger(p.holder, p.method)
        ledger.lines.append(p)
        if p.column != "distributed" or p.holder == STATION:
            first = p.day[:7] + "-01"
            if ledger.start is None or first < ledger.start:
                ledger.start = first
    return out


# --------------------------------------------------------------- by month

MEASURES = ("opening", *COLUMNS, "closing", "distributed_3m", "issued_3m", "days_out",
            "stocked_out", "holders", "in_transit")


def _date(day: str) -> dt.date:
    return dt.date(int(day[:4]), int(day[5:7]), int(day[8:10]))


def month_bounds(month: str) -> tuple[str, str]:
    first = dt.date(int(month[:4]), int(month[5:7]), 1)
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (nxt - dt.timedelta(days=1)).isoformat()


def _days_out(points: Sequence[tuple[str, int]], start: str, first: str, last: str,
              initial: int = 0) -> int:
    """Days from ``first`` to ``last`` (on or after ``start``) ending with nothing on
    hand, given the end-of-day balances at each day with a line (``points``, by day)."""
    lo = max(first, start)
    if lo > last:
        return 0
    lo_d, hi_d = _date(lo), _date(last)
    balance, out = initial, 0
    cursor = lo_d
    for day, after in points:
        d = _date(day)
        if d < lo_d:
            balance = after
            continue
        if d > hi_d:
            break
        if balance <= 0:
            out += (d - cursor).days  # the days before this one ended as before
        cursor = d
        balance = after
    if balance <= 0:
        out += (hi_d - cursor).days + 1
    return out


@dataclass(frozen=True)
class Carried:
    """What a ledger whose lines start at a later month carries in from the months
    before (stored monthly figures): the quantities moved in the two months before, by
    (month, column), and stock in transit then (the opening is ``Ledger.base``)."""

    moved: Mapping[tuple[str, str], int] = field(default_factory=dict)
    in_transit: int = 0


def month_figures(ledger: Ledger, months: Sequence[str], today: str,
                  transit: Sequence[Transit] = (),
                  carried: Carried | None = None) -> dict[str, dict[str, int]]:
    """The ledger's figures for each of ``months`` from its start on (months before it
    are left out; so are zeros within a month's figures). A ledger holding only the
    lines from some month on gives the same figures for the months from it with what
    it ``carried`` in (and its ``base``)."""
    if ledger.start is None:
        return {}
    by_month: dict[str, list[Posting]] = defaultdict(list)
    for p in ledger.counted():
        by_month[p.day[:7]].append(p)
    net = {m: sum(p.signed for p in lines) for m, lines in by_month.items()}
    moved = {(m, p.column): 0 for m, lines in by_month.items() for p in lines}
    if carried is not None:
        moved.update(carried.moved)
    for m, lines in by_month.items():
        for p in lines:
            moved[(m, p.column)] += p.quantity
    points = [(day, balance) for day, balance, _ in ledger.end_of_days()]
    start_month = ledger.start[:7]
    out: dict[str, dict[str, int]] = {}
    for month in months:
        if month < start_month:
            continue
        first, last = month_bounds(month)
        figures: dict[str, int] = defaultdict(int)
        figures["opening"] = opening = ledger.base + sum(v for m, v in net.items() if m < month)
        for p in by_month.get(month, ()):
            figures[p.column] += p.quantity
            if p.column == "distributed":
                figures[f"distributed.{p.source}"] += p.quantity
                if p.value:
                    figures[f"value.{p.source}"] += p.value
        figures["closing"] = closing = opening + net.get(month, 0)
        for column in ("distributed", "issued"):
            figures[f"{column}_3m"] = sum(moved.get((_shift(month, -k), column), 0)
                                          for k in range(3))
        figures["days_out"] = _days_out(points, ledger.start, first, min(last, today),
                                        ledger.base)
        figures["stocked_out"] = int(closing <= 0)
        figures["holders"] = 1
        figures["in_transit"] = (carried.in_transit if carried else 0) + sum(
            t.quantity for t in transit if t.method == ledger.method
            and t.start <= last and (t.end is None or t.end > last))
        out[month] = {k: v for k, v in figures.items() if v}
    return out


def _shift(month: str, by: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_of_stock(closing: float, consumption_3m: float) -> float | None:
    """Closing ÷ the average monthly consumption of the last three months (one
    decimal); None when nothing was consumed (no rate to divide by)."""
    if consumption_3m <= 0:
        return None
    return round(max(closing, 0) / (consumption_3m / 3), 1)


# ------------------------------------------------------------------- lots


@dataclass(frozen=True, slots=True)
class Lot:
    lot: str | None
    expiry: str | None
    quantity: int


def lots(movements: Iterable[Movement], holder: str, method: str) -> list[Lot]:
    """What the holder has of each lot now: lots come in with receipts and confirmed
    transfers or returns; what goes out naming a lot leaves that lot, the rest goes
    first-expiry-first-out (an unknown expiry last). A count that adds stock adds it
    to an unknown lot."""
    movements = [m for m in movements if m.method == method]
    confirmed = confirmations(movements)
    events: list[tuple[str, int, str | None, str | None, int]] = []  # day, sign, lot, exp, qty
    for m in movements:
        if m.voided or m.form == CONFIRM:
            continue
        c = confirmed.get(m.id)
        if m.form == RECEIPT and m.area == holder:
            events.append((m.day, 1, m.lot, m.expiry, m.quantity))
        elif m.form == TRANSFER:
            if holder == STATION:
                events.append((m.day, -1, m.lot, m.expiry, m.quantity))
            elif m.area == holder and c is not None:
                events.append((c.day, 1, m.lot, m.expiry, c.quantity))
        elif m.form == RETURN:
            if m.area == holder:
                events.append((m.day, -1, m.lot, m.expiry, m.quantity))
            elif holder == STATION and m.area != STATION and c is not None:
                events.append((c.day, 1, m.lot, m.expiry, c.quantity))
        elif m.area == holder and m.form in (LOSS, DISPENSE, DISTRIBUTION, ADJUSTMENT):
            sign = 1 if m.form == ADJUSTMENT and m.quantity > 0 else -1
            events.append((m.day, sign, m.lot, m.expiry, abs(m.quantity)))
    held: dict[tuple[str | None, str | None], int] = {}
    for _day, sign, lot, expiry, qty in sorted(events, key=lambda e: (e[0], -e[1])):
        if sign > 0:
            key = (lot, expiry if lot is not None else None)
            held[key] = held.get(key, 0) + qty
            continue
        named = [k for k in held if lot is not None and k[0] == lot]
        for key in named + sorted((k for k in held if k not in named),
                                  key=lambda k: (k[1] or "9999-12-31", k[0] or "")):
            take = min(qty, held[key])
            if take > 0:
                held[key] -= take
                qty -= take
            if qty == 0:
                break
    return [Lot(lot, expiry, qty) for (lot, expiry), qty in
            sorted(held.items(), key=lambda kv: (kv[0][1] or "9999-12-31", kv[0][0] or ""))
            if qty > 0]

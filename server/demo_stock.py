"""The demo season's contraceptive stock (LMIS), recorded the way a station and its
collaborators' phones record it (:mod:`server.logistics.station`, stock operations in
the phones' batches).

From the season's first day the commune health station keeps its stock in the
product: before each month it issues (``stock_transfer``) to every collaborator with
a phone what that collaborator hands out in the month (the phones' hand-outs are
known ahead: they are the synthetic register's), or in the month before when that
was more (the month still running is only known to today), a fifth more, rounded up
to whole packs; the phone confirms (``stock_confirm``) the quantity on the day it was
issued, in its next sync; when the station's own stock would not cover an issue it
first receives two months of it from the district health centre (``stock_receipt``,
with a lot and an expiry). So no holder's balance goes below zero, and what the
collaborators received covers what they handed out.

Collaborators without a phone keep their stock on paper: a transfer to them could
never be confirmed, so the station does not issue to them here.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from a0core import p0, stock
from a0core.sync_client import make_op

if TYPE_CHECKING:
    from server.demo_season import Phone

PACK = {"condom": 10}  # pieces come in boxes; cycles and doses one by one
MARGIN = 1.2           # a fifth more than the month's hand-outs
SUPPLY_MONTHS = 2      # what the district sends when the station runs short
SHELF_LIFE_DAYS = 3 * 365
ISSUE_HOUR, RECEIPT_HOUR = 9, 8


@dataclass(frozen=True)
class StationRecord:
    """A stock form the station records on the dashboard at ``moment``."""

    moment: dt.datetime
    commune: str
    form: str
    values: dict[str, Any]
    record_id: str


def issue_day(month: str, start: dt.date) -> dt.date:
    """When the station issues a month's stock: the last weekday before the month
    (the monthly meeting), or the season's first day for its first month."""
    first = p0.first_day(month)
    if first <= start:
        return start
    day = first - dt.timedelta(days=1)
    while day.weekday() > 4:
        day -= dt.timedelta(days=1)
    return day


def handed_out(phone: Phone, start: dt.date, today: dt.date) -> dict[str, dict[str, int]]:
    """month → method → what the phone's area hands out in the season."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in phone.area.distributions:
        day = dt.date.fromisoformat(d["distributed_on"])
        if start <= day <= today:
            out[p0.month_of(day)][d["method"]] += d["quantity"]
    return out


def plan_stock(phones: Sequence[Phone], commune: str, start: dt.date, today: dt.date,
               vn: dt.tzinfo) -> list[StationRecord]:
    """The station's receipts and transfers of the season, in order; each phone's
    confirmations are planned on the phone."""
    needs = {phone.device_id: handed_out(phone, start, today) for phone in phones}
    months = sorted({m for need in needs.values() for m in need})
    on_hand: dict[str, int] = defaultdict(int)
    records: list[StationRecord] = []
    for month in months:
        day = issue_day(month, start)
        issues = []
        for phone in phones:
            need = needs[phone.device_id]
            for method, qty in sorted(need.get(month, {}).items()):
                last = need.get(p0.shift(month, -1), {}).get(method, 0)
                issues.append((phone, method, _whole(method, MARGIN * max(qty, last))))
        total: dict[str, int] = defaultdict(int)
        for _, method, qty in issues:
            total[method] += qty
        for method, qty in sorted(total.items()):
            if on_hand[method] < qty:
                received = _whole(method, SUPPLY_MONTHS * qty, pack=50)
                on_hand[method] += received
                records.append(_station(day, RECEIPT_HOUR, vn, commune, stock.RECEIPT, {
                    "method": method, "quantity": received, "supplier": "district",
                    "received_on": day.isoformat(), "lot": f"HY{day:%y%m}-{method[:2].upper()}",
                    "expiry": (day + dt.timedelta(days=SHELF_LIFE_DAYS)).isoformat()}))
        for phone, method, qty in issues:
            on_hand[method] -= qty
            transfer = _station(day, ISSUE_HOUR, vn, commune, stock.TRANSFER, {
                "area_code": phone.area.area_code, "method": method, "quantity": qty,
                "issued_on": day.isoformat()})
            records.append(transfer)
            confirm_id = str(uuid.uuid4())
            phone.plan(day.isoformat(), make_op(
                1, phone.clock.now(), "stock", stock.CONFIRM, 1, confirm_id,
                {"id": confirm_id, "transfer_id": transfer.record_id, "received_quantity": qty,
                 "received_on": day.isoformat()}))
    return records


def _whole(method: str, quantity: float, pack: int | None = None) -> int:
    size = pack or PACK.get(method, 1)
    return max(size, math.ceil(quantity / size) * size)


def _station(day: dt.date, hour: int, vn: dt.tzinfo, commune: str, form: str,
             values: dict[str, Any]) -> StationRecord:
    return StationRecord(dt.datetime.combine(day, dt.time(hour), vn), commune, form, values,
                         str(uuid.uuid4()))

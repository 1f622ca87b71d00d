"""What the station page and the monthly logistics report show (no Flask).

* :func:`station_page` — one commune's station and collaborators for a month: each
  holder's balances per method with months of stock and a status (stocked out, low
  below the configured months of stock, fine), the open alerts, lots near expiry and
  the confirmation state of the month's transfers and returns and of those still
  waiting from before;
* :func:`monthly_report` — a unit's logistics figures for a month, read from the
  roll-up cells (so a commune, a province and the nation are computed alike).

The movements themselves go to district systems through the district API's
``stock_movements`` feed (:mod:`server.district.feeds`).

The official LMIS monthly form's layout is not known to the project: the report's
rows and columns are assumed (:data:`ASSUMED_NOTE`) and say so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from a0core import stock
from a0core.p0 import vn_day
from server.logistics import ledger
from server.logistics.cells import CTV, PREFIX, STATION, key, methods, station_code
from server.logistics.station import commune_areas, commune_place
from server.models.base import chunks
from server.models.logistics import OPEN, StockFlag, StockMovement
from server.models.rollups import RollupCell
from server.rollups.store import tree_name
from server.security.scope import Scope

FLOWS = ("opening", "received", "received_back", "issued", "distributed", "returned", "lost",
         "adjusted", "closing")
SOURCES = ("free", "social_marketing", "sold", "unstated")
ASSUMED_NOTE = {
    "vi": "Mẫu báo cáo hậu cần (LMIS) chính thức chưa có trong hệ thống: các dòng và cột "
          "của báo cáo này là giả định, đối chiếu với mẫu của tỉnh trước khi nộp.",
    "en": "The official LMIS monthly form is not known to the system: this report's rows "
          "and columns are assumed; check them against the province's form before filing."}
OUT, LOW, OK = "out", "low", "ok"


@dataclass(frozen=True)
class TransferState:
    id: str
    area: str
    form: str          # stock_transfer (station → collaborator) or stock_return (back)
    method: str
    day: str
    issued: int
    received: int | None
    confirmed_on: str | None
    state: str         # waiting | confirmed | mismatch | voided


@dataclass
class Balance:
    holder: str        # "" : the station; else the collaborator's area
    method: str
    figures: dict[str, int]
    mos: float | None
    status: str


@dataclass
class StationPage:
    commune: str
    month: str
    balances: list[Balance] = field(default_factory=list)
    alerts: list[StockFlag] = field(default_factory=list)
    near_expiry: list[tuple[str, str, stock.Lot]] = field(default_factory=list)
    transfers: list[TransferState] = field(default_factory=list)


def transfer_states(session: Session, commune: str, month: str | None = None
                    ) -> list[TransferState]:
    """The commune's transfers and collaborators' returns, newest first: all of them, or
    for a ``month`` those issued in it and those issued before still waiting for their
    confirmation (what the station has to chase)."""
    m, c = StockMovement, aliased(StockMovement)
    query = select(*ledger._COLUMNS).where(
        m.commune_code == commune, m.form.in_((stock.TRANSFER, stock.RETURN)), m.area_code != "")
    if month is not None:
        first, last = stock.month_bounds(month)
        waiting = ~exists().where(c.target_id == m.id, c.form == stock.CONFIRM, ~c.voided)
        query = query.where(m.day <= last, or_(m.day >= first, and_(~m.voided, waiting)))
    sent = [ledger._movement(r) for r in ledger._rows(session, query)]
    sent = [t for t in sent if stock.confirmed_by_receiver(t)]
    found = list(sent)
    for chunk in chunks(sorted(t.id for t in sent), 500):
        found += [ledger._movement(r) for r in ledger._rows(session, select(
            *ledger._COLUMNS).where(m.form == stock.CONFIRM, m.target_id.in_(chunk)))]
    confirmed = stock.confirmations(found)
    out = []
    for t in sent:
        got = confirmed.get(t.id)
        state = ("voided" if t.voided else "waiting" if got is None
                 else "confirmed" if got.quantity == t.quantity else "mismatch")
        out.append(TransferState(t.id, t.area, t.form, t.method, t.day, t.quantity,
                                 got.quantity if got else None, got.day if got else None,
                                 state))
    return sorted(out, key=lambda t: (t.day, t.id), reverse=True)


def _status(figures: Mapping[str, int], mos: float | None, low: float) -> str:
    if figures.get("closing", 0) <= 0:
        return OUT
    return LOW if mos is not None and mos < low else OK


def station_page(session: Session, scope: Scope, commune: str, month: str,
                 config: Mapping[str, Any], today: str | None = None) -> StationPage:
    """The station page of ``commune`` (refused as unknown outside the scope).

    The balances come from the roll-up cells, which hold every holder's month already
    (the station's leaf and each area's cell); a holder without a cell for the month
    (outside the roll-ups' window) is computed from its movements. Lots are followed
    only for the holders that received one expiring within the horizon."""
    commune_place(session, scope, commune)
    today = today or ledger.today()
    page = StationPage(commune, month)
    has_station = bool(ledger.stations(session, [commune]))
    areas = commune_areas(session, commune)
    holders = ([stock.STATION] if has_station else []) + sorted(
        ledger.areas_with_stock(session, areas))
    horizon = (dt.date.fromisoformat(today)
               + dt.timedelta(days=int(config["A0SYNC_STOCK_EXPIRY_DAYS"]))).isoformat()
    expiring = ledger.holders_with_lots_by(session, commune, holders, horizon)
    stored = _stored_figures(session, commune, holders, month, today)
    own = ledger.station_holdings(session, [commune]).get(commune) if has_station and (
        stock.STATION in expiring or stock.STATION not in stored) else None
    # hand-outs summed by day: the same figures and lots, read far faster
    loaded = ledger.area_holdings(session, [h for h in holders if h != stock.STATION and (
        h in expiring or h not in stored)])
    for holder in holders:
        is_station = holder == stock.STATION
        held = own if is_station else loaded.get(holder)
        low = float(config["A0SYNC_STOCK_LOW_MONTHS_STATION" if is_station
                           else "A0SYNC_STOCK_LOW_MONTHS_CTV"])
        by_method = stored.get(holder)
        if by_method is None and held is not None:
            transit = stock.transits(held.movements) if is_station else ()
            by_method = {method: figures for method, found in held.ledgers(holder).items()
                         if (figures := stock.month_figures(found, [month], today,
                                                            transit).get(month)) is not None}
        for method, figures in sorted((by_method or {}).items()):
            used = figures.get("distributed_3m", 0) + (figures.get("issued_3m", 0)
                                                       if is_station else 0)
            mos = stock.months_of_stock(figures.get("closing", 0), used)
            page.balances.append(Balance(holder, method, figures, mos,
                                         _status(figures, mos, low)))
        if holder in expiring and held is not None:
            for method in sorted({m.method for m in held.movements}):
                page.near_expiry += [(holder, method, lot)
                                     for lot in stock.lots(held.movements, holder, method)
                                     if lot.expiry is not None and lot.expiry <= horizon]
    page.alerts = list(session.scalars(select(StockFlag).where(
        StockFlag.commune_code == commune, StockFlag.status == OPEN)
        .order_by(StockFlag.day, StockFlag.id)))
    page.transfers = transfer_states(session, commune, month) if has_station else []
    return page


def _stored_figures(session: Session, commune: str, holders: list[str], month: str,
                    today: str) -> dict[str, dict[str, dict[str, int]]]:
    """Each holder's figures per method for ``month`` from its roll-up cell (holders
    without a cell for the month are left out). Days out of stock run to ``today``: a
    cell computed before the month's end, with nothing on hand at its end, counts the
    days since as out too (nothing moved since, or the cell would be newer)."""
    units = {station_code(commune) if h == stock.STATION else h: h for h in holders}
    rows = session.execute(select(RollupCell.unit_code, RollupCell.values,
                                  RollupCell.computed_at).where(
        RollupCell.tree == tree_name(session), RollupCell.month == month,
        RollupCell.unit_code.in_(sorted(units))))
    first, last = (dt.date.fromisoformat(d) for d in stock.month_bounds(month))
    end = min(last, dt.date.fromisoformat(today))
    out: dict[str, dict[str, dict[str, int]]] = {}
    for unit, values, computed_at in rows:
        holder = units[unit]
        kind = STATION if holder == stock.STATION else CTV
        by_method: dict[str, dict[str, int]] = defaultdict(dict)
        for name, value in values.items():
            parts = name.split(".", 3)  # stock.<kind>.<method>.<measure>
            if len(parts) == 4 and parts[0] == PREFIX and parts[1] == kind \
                    and parts[3] != "mos":
                by_method[parts[2]][parts[3]] = int(value)  # counts (JSON numbers)
        if computed_at.tzinfo is None:
            computed_at = computed_at.replace(tzinfo=dt.UTC)
        since = max(vn_day(computed_at) + dt.timedelta(days=1), first)
        out[holder] = {}
        for method, figures in by_method.items():
            if not figures.get("holders"):
                continue  # no ledger for the method this month
            if figures.get("closing", 0) <= 0 and since <= end:
                figures["days_out"] = figures.get("days_out", 0) + (end - since).days + 1
            out[holder][method] = figures
    return out


# ----------------------------------------------------------- monthly report


@dataclass(frozen=True)
class ReportRow:
    method: str
    kind: str          # ctv | station
    values: dict[str, float]


def monthly_report(session: Session, unit_code: str, month: str) -> list[ReportRow]:
    """The unit's rows for ``month``: per method, its collaborators' and its stations'
    figures (the caller checked the scope). A method without stock is left out."""
    values: dict[str, Any] = dict(session.scalar(select(RollupCell.values).where(
        RollupCell.tree == tree_name(session), RollupCell.unit_code == unit_code,
        RollupCell.month == month)) or {})
    rows = []
    for method in methods():
        for kind in (CTV, STATION):
            if not values.get(key(kind, method, "holders")):
                continue
            row = {name: values.get(key(kind, method, name), 0)
                   for name in (*FLOWS, "days_out", "stocked_out", "holders", "mos")}
            row["mos"] = values.get(key(kind, method, "mos"))
            for source in SOURCES:
                row[f"distributed.{source}"] = values.get(
                    key(kind, method, f"distributed.{source}"), 0)
                row[f"value.{source}"] = values.get(key(kind, method, f"value.{source}"), 0)
            rows.append(ReportRow(method, kind, row))
    return rows


REPORT_COLUMNS = (*FLOWS, *(f"distributed.{s}" for s in SOURCES), "value.social_marketing",
                  "value.sold", "days_out", "stocked_out", "holders", "mos")

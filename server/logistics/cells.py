"""Stock balances in the roll-up cells: one registration with :mod:`server.rollups.sources`.

Cell keys, per holder kind (``ctv``: the collaborator of an area; ``station``: the
commune health station) and method (a distributable code of ``contraceptive_method``):
``stock.<kind>.<method>.<measure>`` for each measure of :data:`a0core.stock.MEASURES`,
plus ``….distributed.<source>`` and ``….value.<source>`` (VND) for hand-outs by source.
They are counts, so they add up the tree: a commune's ``stock.ctv.condom.closing`` is
what all its collaborators hold, its ``stock.station.…`` what its station holds. The
ratios, recomputed at every level from the sums:

* ``stock.ctv.<m>.mos``, ``stock.station.<m>.mos``: months of stock (closing ÷ the
  average monthly consumption of the last three months; the station's consumption is
  what it hands out and what it issues to collaborators);
* ``stock.<m>.mos``: of everything in the unit (collaborators, station and stock in
  transit between them) against what reaches clients (hand-outs of both).

An area's figures come with the area's own cell (the roll-ups ask for them whenever
they compute the area); a station's live in a leaf of its own below its commune,
``<commune>.TYT`` (level ``station``), which the after-batch hook keeps
(:mod:`server.logistics.hook`) and a full recompute rewrites.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from a0core import stock
from a0core.schemas import registry
from server.logistics import ledger
from server.models.logistics import StockMovement
from server.rollups.sources import ByMonth, Leaf

CTV, STATION = "ctv", "station"
STATION_LEVEL = "station"
PREFIX = "stock"


def station_code(commune: str) -> str:
    """The unit code of a commune's health station in the roll-ups."""
    return f"{commune}.TYT"


def key(kind: str, method: str, measure: str) -> str:
    return f"{PREFIX}.{kind}.{method}.{measure}"


@cache
def methods() -> tuple[str, ...]:
    """The methods kept in stock: those a collaborator hands out (code list attribute)."""
    return tuple(c.code for c in registry().codelist("contraceptive_method").active_codes()
                 if c.attrs.get("distributable"))


def figures(kind: str, ledgers: Mapping[str, stock.Ledger], months: list[str], today: str,
            transit: Sequence[stock.Transit] = ()) -> ByMonth:
    """One holder's cell values by month."""
    out: ByMonth = defaultdict(dict)
    for method, found in ledgers.items():
        for month, values in stock.month_figures(found, months, today, transit).items():
            out[month].update({key(kind, method, name): v for name, v in values.items()})
    return out


class StockSource:
    """The contraceptive stock ledger as a source of roll-up values."""

    name = PREFIX

    def first_month(self, session: Session) -> str | None:
        first = session.scalar(select(func.min(StockMovement.day)))
        return first[:7] if first else None

    def area_values(self, session: Session, months: list[str],
                    areas: Collection[str] | None) -> dict[str, ByMonth]:
        today = ledger.today()
        return {area: figures(CTV, held.ledgers(area), months, today)
                for area, held in ledger.area_holdings(session, areas).items()}

    def leaf_values(self, session: Session, months: list[str]) -> dict[Leaf, ByMonth]:
        return station_values(session, months)

    def derive(self, values: dict[str, float]) -> None:
        for method in methods():
            ctv = {m: values.get(key(CTV, method, m), 0) for m in ("closing", "distributed_3m")}
            own = {m: values.get(key(STATION, method, m), 0)
                   for m in ("closing", "distributed_3m", "issued_3m", "in_transit")}
            for name, ratio in (
                    (key(CTV, method, "mos"),
                     stock.months_of_stock(ctv["closing"], ctv["distributed_3m"])),
                    (key(STATION, method, "mos"),
                     stock.months_of_stock(own["closing"],
                                           own["distributed_3m"] + own["issued_3m"])),
                    (f"{PREFIX}.{method}.mos",
                     stock.months_of_stock(ctv["closing"] + own["closing"] + own["in_transit"],
                                           ctv["distributed_3m"] + own["distributed_3m"]))):
                values.pop(name, None)
                if ratio is not None:
                    values[name] = ratio


def station_values(session: Session, months: list[str],
                   communes: Collection[str] | None = None,
                   loaded: Mapping[str, ledger.Holdings] | None = None) -> dict[Leaf, ByMonth]:
    """The station leaf of each commune (all: None) and its values by month (from the
    holdings ``loaded`` already, when given)."""
    today = ledger.today()
    out: dict[Leaf, ByMonth] = {}
    if loaded is None:
        loaded = ledger.station_holdings(session, communes)
    elif communes is not None:
        loaded = {c: h for c, h in loaded.items() if c in set(communes)}
    for commune, held in loaded.items():
        leaf = Leaf(station_code(commune), STATION_LEVEL, commune, held.province_code)
        out[leaf] = figures(STATION, held.ledgers(stock.STATION), months, today,
                            stock.transits(held.movements))
    return out

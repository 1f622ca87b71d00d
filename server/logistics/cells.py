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
from collections.abc import Collection
from functools import cache

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from a0core import stock
from a0core.schemas import registry
from server.logistics import balances, flags, ledger, names
from server.models.logistics import StockMonth, StockMovement
from server.rollups import jobs
from server.rollups.sources import ByMonth, Leaf

CTV, STATION = "ctv", "station"
STATION_LEVEL = "station"
PREFIX = "stock"
STATION_SUFFIX = ".TYT"  # a station's unit code: <commune>.TYT


def station_code(commune: str) -> str:
    """The unit code of a commune's health station in the roll-ups."""
    return commune + STATION_SUFFIX


def commune_of(code: str) -> str:
    """The commune of a roll-up unit code: a station's (:func:`station_code`), or the
    code itself."""
    return code.removesuffix(STATION_SUFFIX)


def key(kind: str, method: str, measure: str) -> str:
    return f"{PREFIX}.{kind}.{method}.{measure}"


def key_name(stock_key: str, lang: str = "vi") -> str | None:
    """What a person reads for one of these keys, in the catalogue's style (measure —
    method, holder): ``stock.ctv.condom.closing`` → «Tồn cuối kỳ — Bao cao su, Cộng tác
    viên»; ``stock.condom.mos`` for everything in the unit. None for another key."""
    parts = stock_key.split(".")
    if parts[0] != PREFIX or len(parts) < 3:
        return None
    kind, rest = (parts[1], parts[2:]) if parts[1] in (CTV, STATION) else ("", parts[1:])
    if not kind and rest[1:] != ["mos"]:
        return None
    what, who, whose = (names.column(".".join(rest[1:]), lang), names.method(rest[0], lang),
                        names.holder(kind, lang))
    return f"{what} — {who}, {whose}" if what and who and whose else None


@cache
def methods() -> tuple[str, ...]:
    """The methods kept in stock: those a collaborator hands out (code list attribute)."""
    return tuple(c.code for c in registry().codelist("contraceptive_method").active_codes()
                 if c.attrs.get("distributable"))


def figures(kind: str, by_method: balances.ByMethod, months: list[str]) -> ByMonth:
    """One holder's cell values for ``months`` from its computed months."""
    out: ByMonth = defaultdict(dict)
    wanted = set(months)
    for method, by_month in by_method.items():
        for month, values in by_month.items():
            if month in wanted:
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
        """From the first of ``months`` (stored months before it carried on), with the
        areas' alerts made to match; every area from all its movements (None: a full
        recompute, which rewrites the stored months)."""
        if areas is None:
            session.execute(delete(StockMonth).where(StockMonth.kind == balances.CTV))
            touched: dict[str, str | None] = dict.fromkeys(ledger.areas_with_stock(session))
        else:  # the window's first month: the roll-ups may have moved a touch up to it
            earliest = jobs.earliest_month(jobs.this_month(), jobs.SETTINGS["max_months"])
            first = months[0] if months and months[0] > earliest else None
            touched = dict.fromkeys(areas, first)
        done = balances.areas(session, touched)
        if areas is not None:  # their alerts, in step (a full recompute leaves them)
            flags.refresh(session, areas=done)
        return {area: figures(CTV, d.by_method, months) for area, d in done.items()}

    def leaf_values(self, session: Session, months: list[str]) -> dict[Leaf, ByMonth]:
        session.execute(delete(StockMonth).where(StockMonth.kind == balances.STATION))
        return station_values(session, months, dict.fromkeys(ledger.stations(session)))

    def key_name(self, stock_key: str, lang: str) -> str | None:
        return key_name(stock_key, lang)

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


def station_values(session: Session, months: list[str], communes: dict[str, str | None]
                   ) -> dict[Leaf, ByMonth]:
    """The station leaf of each commune and its values for ``months``, computed from the
    month given for it (None: from all its movements)."""
    out: dict[Leaf, ByMonth] = {}
    for commune, done in balances.stations(session, communes).items():
        leaf = Leaf(station_code(commune), STATION_LEVEL, commune, done.province_code)
        out[leaf] = figures(STATION, done.by_method, months)
    return out

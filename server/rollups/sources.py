"""Indicators other modules keep, rolled up the tree like the register's own.

The register's figures are computed here (:mod:`server.rollups.compute`); a module
with figures of its own — contraceptive stock (:mod:`server.logistics`) — plugs in
with one call to :func:`register`, and its figures then

* add to each **area's** cell whenever the roll-ups compute the area — in a full
  recompute and after every batch, in the same transaction — so an area cell is
  always the register's figures plus every source's, and the difference the
  after-batch path adds to the ancestors carries both;
* may live in **leaves of their own** below a unit that is not an area (the
  commune's health station below its commune): a full recompute writes their cells
  and adds them up the tree; between full recomputes the source keeps them itself,
  through :func:`leaf_chains` and :func:`server.rollups.store.apply_area_cells`;
* move the window's start back to the first month they hold (:func:`first_months`);
* bring their own ratios (``Source.derive``), recomputed at every level from the summed
  counts like the register's, never summed;
* name their own keys for people (``Source.key_name``, asked by
  :func:`server.rollups.indicators.indicator_name`).

No Flask here; the registry is the process's (the roll-up workers compute the
register's figures only; sources are asked in the process that writes the cells).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from server.models.orgunits import LEVEL_COMMUNE, LEVEL_PROVINCE
from server.rollups.indicators import DERIVERS, NAMERS, add_into
from server.rollups.store import NATIONAL, Unit, ancestry

Values = dict[str, float]
ByMonth = dict[str, Values]


@dataclass(frozen=True)
class Leaf:
    """A unit of a source's own, hung below a commune (e.g. its health station)."""

    code: str
    level: str
    commune_code: str
    province_code: str

    @property
    def unit(self) -> Unit:
        return Unit(self.code, self.level, self.province_code, self.commune_code)


class Source(Protocol):
    name: str

    def first_month(self, session: Session) -> str | None:
        """The first month the source holds data for (None: none)."""

    def area_values(self, session: Session, months: list[str],
                    areas: Collection[str] | None) -> dict[str, ByMonth]:
        """Values to add to these areas' cells (every area the source knows: None)."""

    def leaf_values(self, session: Session, months: list[str]) -> dict[Leaf, ByMonth]:
        """Every leaf of the source, with its values for ``months`` (an empty mapping
        for a month before its data)."""

    def derive(self, values: dict[str, float]) -> None:
        """Replace the source's ratios in ``values`` by those of its counts."""

    def key_name(self, key: str, lang: str) -> str | None:
        """What a person reads for one of the source's keys (None: not one of them)."""


SOURCES: dict[str, Source] = {}


def register(source: Source) -> None:
    """Plug a source in (idempotent: a second app in the process registers it again)."""
    SOURCES[source.name] = source
    DERIVERS[source.name] = source.derive
    NAMERS[source.name] = source.key_name


def first_months(session: Session) -> list[str]:
    return [m for s in SOURCES.values() if (m := s.first_month(session))]


def add_area_values(session: Session, cells: dict[str, Any], months: list[str],
                    areas: Collection[str] | None = None) -> set[str]:
    """Add every source's values to the area cells (``cells[area][month]``: the
    defaultdicts :func:`server.rollups.compute.compute_areas` returns, as
    ``jobs._complete`` reads them); returns the areas that got values."""
    touched: set[str] = set()
    for source in SOURCES.values():
        for area, by_month in source.area_values(session, months, areas).items():
            for month, values in by_month.items():
                if values:
                    add_into(cells[area][month], values)
                    touched.add(area)
    return touched


def leaf_cells(session: Session, tree: str, months: list[str]
               ) -> tuple[dict[str, ByMonth], dict[str, list[Unit]]]:
    """Every source's leaves: their cells for ``months`` (empty ones included, so a leaf
    has a cell in every month like an area) and their chains up the tree."""
    leaves: dict[Leaf, ByMonth] = {}
    for source in SOURCES.values():
        leaves.update(source.leaf_values(session, months))
    chains = leaf_chains(session, tree, leaves)
    return ({leaf.code: {m: dict(by_month.get(m, {})) for m in months}
             for leaf, by_month in leaves.items()}, chains)


def leaf_chains(session: Session, tree: str, leaves: Collection[Leaf]) -> dict[str, list[Unit]]:
    """Each leaf's chain: itself, its commune and every unit above (national last). A
    commune the tree does not know hangs under its province code, as areas do."""
    communes = ancestry(session, tree, {leaf.commune_code for leaf in leaves})
    out: dict[str, list[Unit]] = {}
    for leaf in leaves:
        chain = communes.get(leaf.commune_code) or []
        if not chain or chain[0].level != LEVEL_COMMUNE:
            chain = [Unit(leaf.commune_code, LEVEL_COMMUNE, leaf.province_code,
                          leaf.commune_code),
                     Unit(leaf.province_code, LEVEL_PROVINCE, leaf.province_code, None),
                     NATIONAL]
        out[leaf.code] = [leaf.unit, *chain]
    return out



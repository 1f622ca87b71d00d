"""Real org units for tests: part of an official list, plus villages and areas.

Importing a few provinces of the real lists (``tests.conftest.TWO_LEVEL`` and
``THREE_LEVEL``) keeps the real codes, names and tree shape while staying fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from server.orgunits.formats import UnitSpec, read_official_list
from server.orgunits.importer import import_official, upsert_local_units
from server.orgunits.queries import unit_by_code


def import_provinces(session: Session, path: Path, provinces: Iterable[str]) -> str:
    """Import the official list at ``path``, only these provinces; returns the tree name."""
    wanted = set(provinces)
    official = read_official_list(path)
    subset = dataclasses.replace(official,
                                 units=[u for u in official.units if u.province_code in wanted])
    import_official(session, subset, source=str(path))
    return subset.tree


def add_areas(session: Session, tree: str, area_codes: Iterable[str]) -> None:
    """Villages and areas coded ``<commune>.<village>.<area>`` (as the demo makes them)."""
    specs: dict[str, UnitSpec] = {}
    for code in area_codes:
        commune_code, village, area = code.split(".")
        commune = unit_by_code(session, commune_code, tree)
        assert commune is not None, commune_code
        village_code = f"{commune_code}.{village}"
        specs[village_code] = UnitSpec(village_code, "village", f"Thôn {village}",
                                       f"Thôn {village}", "Thôn", commune_code,
                                       commune.province_code)
        specs[code] = UnitSpec(code, "area", f"Địa bàn {area}",
                               f"Địa bàn {area} – Thôn {village}", None, village_code,
                               commune.province_code)
    upsert_local_units(session, tree, list(specs.values()))

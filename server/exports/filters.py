"""The filters of an export, checked before anything is read.

A mistyped month or level, or a unit code that does not exist (a district code
from before the 2025 reform, say), would otherwise match nothing and give a
well-formed empty file that reads as "no data". Person-level exports take no
filter: ignoring one would hand out more records than were asked for.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from a0core.errors import A0Error
from server.exports.queries import RollupFilter
from server.logistics.cells import STATION_LEVEL, commune_of
from server.models.orgunits import (
    LEVEL_AREA,
    LEVEL_COMMUNE,
    LEVEL_DISTRICT,
    LEVEL_PROVINCE,
    LEVEL_VILLAGE,
)
from server.orgunits.lineage import unknown_unit
from server.orgunits.queries import unit_by_code
from server.rollups.store import NATIONAL_CODE, NATIONAL_LEVEL

MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
LEVELS = frozenset({LEVEL_AREA, LEVEL_VILLAGE, LEVEL_COMMUNE, LEVEL_DISTRICT, LEVEL_PROVINCE,
                    NATIONAL_LEVEL, STATION_LEVEL})


def check_filter(session: Session, where: RollupFilter, *, rollups: bool) -> None:
    """Refuse a filter that cannot mean what its sender thinks (``request_malformed``,
    ``orgunit_unknown``, ``orgunit_replaced``); a unit outside the scope is not told
    apart from one without cells: it gives no rows."""
    if not rollups:
        given = [name for name, values in (("month", where.months), ("level", where.levels),
                                           ("unit", where.units)) if values]
        if given:
            raise A0Error("request_malformed", field=given[0])
        return
    for month in where.months:
        if not MONTH.match(month):
            raise A0Error("request_malformed", field="month")
    if any(level not in LEVELS for level in where.levels):
        raise A0Error("request_malformed", field="level")
    for code in where.units:
        commune = commune_of(code)
        if code != NATIONAL_CODE and unit_by_code(session, commune[:40]) is None:
            raise unknown_unit(session, code[:40])

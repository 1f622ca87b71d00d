"""What an export reads: roll-up values and person-level records, streamed.

Both queries are filtered by :meth:`Scope.where` (the one place that decides who
sees what) and read with ``yield_per``, so rows flow from the database cursor to
the writer without the whole table in memory (PostgreSQL: a server-side cursor).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models.register import Household, Member
from server.models.rollups import RollupCell
from server.security.scope import Scope

ROLLUP_COLUMNS = ("tree", "unit_code", "level", "month", "indicator", "value")

# the person-level columns: the member's register fields and their household's place
PERSON_COLUMNS = (
    "member_id", "household_id", "household_number", "address", "province_code",
    "commune_code", "village_code", "area_code", "full_name", "relation", "sex",
    "birth_date", "ethnicity", "bhyt_number", "mother_id", "residence_status",
    "marital_status", "current_method", "method_start", "living_children", "pregnant",
    "death_date", "moved_out_on",
)
_MEMBER_FIELDS = ("full_name", "relation", "sex", "birth_date", "ethnicity", "bhyt_number",
                  "mother_id", "residence_status", "marital_status", "current_method",
                  "method_start", "living_children", "pregnant", "death_date", "moved_out_on")

PAGE = 2000


@dataclass(frozen=True)
class RollupFilter:
    months: Sequence[str] = ()
    levels: Sequence[str] = ()
    units: Sequence[str] = ()


ALL = RollupFilter()


def rollup_rows(session: Session, scope: Scope,
                where: RollupFilter = ALL) -> Iterator[tuple[Any, ...]]:
    """One row per (unit, month, indicator), in unit and month order."""
    stmt = select(RollupCell.tree, RollupCell.unit_code, RollupCell.level, RollupCell.month,
                  RollupCell.values).where(scope.where_rollup(RollupCell))
    if where.months:
        stmt = stmt.where(RollupCell.month.in_(list(where.months)))
    if where.levels:
        stmt = stmt.where(RollupCell.level.in_(list(where.levels)))
    if where.units:
        stmt = stmt.where(RollupCell.unit_code.in_(list(where.units)))
    stmt = stmt.order_by(RollupCell.level, RollupCell.unit_code, RollupCell.month)
    result = session.connection().execute(stmt.execution_options(stream_results=True))
    while cells := result.fetchmany(PAGE):
        for tree, unit, level, month, values in cells:
            for indicator in sorted(values):
                yield tree, unit, level, month, indicator, values[indicator]


def person_rows(session: Session, scope: Scope) -> Iterator[tuple[Any, ...]]:
    """Live members (each person once: no merged or deleted rows) with household info."""
    stmt = (select(Member.id, Member.household_id, Household.number, Household.address,
                   Member.province_code, Member.commune_code, Household.village_code,
                   Member.area_code, *(getattr(Member, f) for f in _MEMBER_FIELDS))
            .join(Household, Household.id == Member.household_id)
            .where(scope.where(Member), ~Member.deleted, Member.merged_into.is_(None))
            .order_by(Member.area_code, Member.seq))  # the (area, seq) index: no sort
    # Core rows from a streaming cursor: no ORM objects, no whole table in memory
    result = session.connection().execute(stmt.execution_options(stream_results=True))
    while rows := result.fetchmany(PAGE):
        yield from rows

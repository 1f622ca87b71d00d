"""What an export reads: roll-up values and person-level records, streamed.

Every query is filtered by :meth:`Scope.where` (the one place that decides who
sees what) and streamed, so rows flow from the database cursor to the writer
without the whole table in memory (PostgreSQL: a server-side cursor). A CSV of
persons is written by the database itself, line by line (:class:`csv_line`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Select, String, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from server.exports import writers
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
    for tree, unit, level, month, values in rollup_cells(session, scope, where):
        for indicator in sorted(values):
            yield tree, unit, level, month, indicator, values[indicator]


def rollup_cells(session: Session, scope: Scope,
                 where: RollupFilter = ALL) -> Iterator[Sequence[Any]]:
    """(tree, unit, level, month, values) per cell, in unit and month order."""
    stmt = select(RollupCell.tree, RollupCell.unit_code, RollupCell.level, RollupCell.month,
                  RollupCell.values).where(scope.where_rollup(RollupCell))
    if where.months:
        stmt = stmt.where(RollupCell.month.in_(list(where.months)))
    if where.levels:
        stmt = stmt.where(RollupCell.level.in_(list(where.levels)))
    if where.units:
        stmt = stmt.where(RollupCell.unit_code.in_(list(where.units)))
    stmt = stmt.order_by(RollupCell.level, RollupCell.unit_code, RollupCell.month)
    yield from _stream(session, stmt)


def person_rows(session: Session, scope: Scope) -> Iterator[Sequence[Any]]:
    """Live members (each person once: no merged or deleted rows) with household info."""
    yield from _stream(session, _persons(scope, PERSON_SELECT))


def person_csv_lines(session: Session, scope: Scope) -> Iterator[str]:
    """The same persons as CSV lines written by the database (:class:`csv_line`)."""
    for (line,) in _stream(session, _persons(scope, [csv_line(*map(as_text, PERSON_SELECT))])):
        yield line


PERSON_SELECT = [Member.id, Member.household_id, Household.number, Household.address,
                 Member.province_code, Member.commune_code, Household.village_code,
                 Member.area_code, *(getattr(Member, f) for f in _MEMBER_FIELDS)]


def _persons(scope: Scope, columns: Sequence[Any]) -> Select:
    return (select(*columns)
            .join(Household, Household.id == Member.household_id)
            .where(scope.where(Member), ~Member.deleted, Member.merged_into.is_(None))
            .order_by(Member.area_code, Member.seq))  # the (area, seq) index: no sort


def _stream(session: Session, stmt: Select) -> Iterator[Sequence[Any]]:
    """Core rows from a streaming cursor: no ORM objects, no whole table in memory."""
    result = session.connection().execute(stmt.execution_options(stream_results=True))
    while rows := result.fetchmany(PAGE):
        yield from rows


def as_text(column: Any) -> Any:
    """A column as text: '' for NULL, '1'/'0' for a flag, digits for a number, and
    text neutralised against formula injection as :func:`writers.neutralise` does."""
    if isinstance(column.type, Boolean):
        return case((column, "1"), else_="0")
    if not isinstance(column.type, String):
        return func.coalesce(cast(column, String), "")
    formula = func.substr(column, 1, 1).in_(writers.FORMULA_STARTS)
    return func.coalesce(case((formula, literal("'", String) + column), else_=column), "")


class csv_line(FunctionElement):
    """A CSV line of text arguments, every field quoted and its quotes doubled, built
    by the database: a million persons leave it as a million strings instead of 23
    million values for Python to quote (SQLite: one ``printf``, whose ``%w`` doubles
    double quotes; elsewhere ``replace`` and ``||``)."""

    type = String()
    inherit_cache = True
    name = "csv_line"


@compiles(csv_line, "sqlite")
def _csv_line_sqlite(element: csv_line, compiler: Any, **kw: Any) -> str:
    fields = ",".join(['"%w"'] * len(element.clauses))
    return f"printf('{fields}', {compiler.process(element.clauses, **kw)})"


@compiles(csv_line)
def _csv_line(element: csv_line, compiler: Any, **kw: Any) -> str:
    quoted = [compiler.process(func.replace(c, '"', '""'), **kw) for c in element.clauses]
    return """'"' || """ + """ || '","' || """.join(quoted) + """ || '"'"""

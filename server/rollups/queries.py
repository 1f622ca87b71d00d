"""The roll-ups' SQL: each statement built once per shape, run with bound parameters.

The after-batch hook runs about fifteen statements for one area; building a
SQLAlchemy statement costs more than running it on one area's rows, so each is
built (and compiled, by SQLAlchemy's cache) once per shape: with or without an
area filter, and per dialect where the SQL differs. Every value is a parameter:

``areas`` (expanding; only when ``by_area``), ``ids`` (expanding), ``t0`` (month
index of the first month), ``born_by`` (the first month's last day, ``YYYY-MM-31``), ``first_day`` /
``last_day`` (ISO dates), ``first_month`` / ``last_month`` (``YYYY-MM``),
``months`` (expanding, ``YYYY-MM``).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from server.models.orgunits import LEVEL_AREA, OrgUnit
from server.models.register import Distribution, Event, Household, Member
from server.models.reports import P0Report
from server.models.sync import SyncBatch
from server.rollups import indicators as ind

# the member record's fields the fold starts from (its register form, as merged)
BASE_CODES = ("residence_status", "marital_status", "current_method", "household_id")

FIRST_DAY, LAST_DAY = bindparam("first_day", type_=String), bindparam("last_day", type_=String)
BORN_BY = bindparam("born_by", type_=String)
T0 = bindparam("t0", type_=Integer)


def params(areas: Collection[str] | None, **values: Any) -> dict[str, Any]:
    """Parameters for a statement built with ``by_area=areas is not None``."""
    return values if areas is None else {**values, "areas": sorted(areas)}


def _in_areas(column: Any, by_area: bool) -> ColumnElement[bool]:
    return column.in_(bindparam("areas", expanding=True)) if by_area else true()


def positions(n: int) -> list[Any]:
    """``GROUP BY 1, 2, …``: PostgreSQL would not match expressions with bound parameters."""
    return [literal_column(str(i)) for i in range(1, n + 1)]


def live(model: Any = Member) -> ColumnElement[bool]:
    return and_(~model.deleted, model.merged_into.is_(None))


class greatest(FunctionElement):
    """The largest of its arguments (SQLite: the many-argument ``max``)."""

    type = Integer()
    inherit_cache = True
    name = "greatest"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(greatest)
def _greatest(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"greatest({compiler.process(element.clauses, **kw)})"


@cache
def events(by_area: bool) -> Select:
    """Every non-voided event with its subject (an area's whole history: the fold needs
    the facts before the window, the slip check every form)."""
    return (select(Event.member_id, Event.form, Event.id, Event.event_date, Event.hlc,
                   Event.device_id, Event.area_code, Event.payload, Member.sex,
                   Member.birth_date, Member.deleted, Member.merged_into)
            .outerjoin(Member, Member.id == Event.member_id)
            .where(~Event.voided, _in_areas(Event.area_code, by_area)))


def events_since(by_area: bool) -> Select:
    """:func:`events` dated on or after ``:since`` (flows and slip entries of the
    months from it; no fold)."""
    return events(by_area).where(Event.event_date >= bindparam("since"))


def first_events(by_area: bool) -> Select:
    """Each area's earliest non-voided event date."""
    return (select(Event.area_code, func.min(Event.event_date))
            .where(~Event.voided, _in_areas(Event.area_code, by_area))
            .group_by(Event.area_code))


def _month_index(column: Any) -> ColumnElement[int]:
    """Month index of an ISO date column; a year alone counts from January."""
    year = cast(func.substr(column, 1, 4), Integer)
    month = case((func.length(column) >= 7, cast(func.substr(column, 6, 2), Integer)), else_=1)
    return year * 12 + month - 1


def _entry() -> ColumnElement[int]:
    """Months after ``t0`` until the person is in the register (born and registered);
    0 when they are from the start — most people, told by comparing strings
    (``born_by``: the first month's last day; a year alone sorts before it when born
    by then), so the dates are parsed only for the others."""
    late = or_(Member.birth_date > BORN_BY, func.coalesce(Member.registered_on, "") >= FIRST_DAY)
    return case((late, greatest(_month_index(Member.birth_date) - T0,
                                func.coalesce(_month_index(Member.registered_on) - T0, 0), 0)),
                else_=0)


def _married_woman() -> ColumnElement[bool]:
    return and_(Member.sex == "female", Member.marital_status == "married")


def _stable_token() -> ColumnElement[str]:
    """What a person whose state stays put adds, as ``entry:recorded:sex:born:method``.

    ``entry`` is the month offset from which they count (born or registered in the
    span; 0 from the start), ``recorded`` the offset from which a married woman's
    method is known (her status recorded in the span; "none" before); ``born`` is
    the birth date's year and month as written (``YYYY-MM``, or ``YYYY``): Python
    turns it into the age group and the month of a change of group, once per
    distinct value (:func:`server.rollups.compute._canonical`), so SQL parses no
    date for most persons; ``method`` is set for married women. Entry comes first,
    so "someone counts from the start" is a string search.
    """
    married = _married_woman()
    woman = case((married, func.coalesce(Member.current_method, ind.no_method())), else_="")
    recorded = case((and_(married, Member.recorded_on >= FIRST_DAY),
                      _month_index(Member.recorded_on) - T0), else_=0)
    return (cast(_entry(), String) + ":" + cast(recorded, String) + ":" + Member.sex + ":"
            + func.substr(Member.birth_date, 1, 7) + ":" + woman)


def counted() -> list[ColumnElement[bool]]:
    """A live person with a birth date whose residence status now "lives here": the
    population (also the units page's, :func:`server.orgunits.local.list_units`)."""
    return [live(), func.length(Member.birth_date) >= 4,
            Member.residence_status.in_(ind.lives_here())]


def _counted(by_area: bool) -> list[ColumnElement[bool]]:
    return [*counted(), _in_areas(Member.area_code, by_area)]


@cache
def stable_tokens(by_area: bool) -> Select:
    """(area, household, the tokens of its counted persons, comma-separated).

    Grouped in the covering index's order (area, household): no sort. Grouping by
    the token in SQL would make SQLite sort every row first; Python tallies the
    tokens, and reads from them since when each household has someone counted.
    """
    return (select(Member.area_code, Member.household_id,
                   func.aggregate_strings(_stable_token(), ","))
            .where(*_counted(by_area)).group_by(Member.area_code, Member.household_id))


@cache
def changers() -> Select:
    """What the fold needs of the persons ``ids``, and their stable token (by the
    primary key: an area filter here would lead the planner to scan whole areas)."""
    return (select(Member.id, Member.area_code, Member.household_id, Member.sex,
                   Member.birth_date, Member.registered_on, Member.recorded_on,
                   Member.residence_status, Member.pregnant,
                   *(Member.data[f].as_string() for f in BASE_CODES), _stable_token())
            .where(Member.id.in_(bindparam("ids", expanding=True)), live(),
                   func.length(Member.birth_date) >= 4))


@cache
def clocks() -> Select:
    return select(Member.id, Member.clocks).where(Member.id.in_(bindparam("ids", expanding=True)))


@cache
def merged_households(by_area: bool) -> Select:
    """Merged household id → the survivor it counts as (few rows; indexed)."""
    return select(Household.id, Household.merged_into).where(
        Household.merged_into.is_not(None), _in_areas(Household.area_code, by_area))


@cache
def area_starts(by_area: bool) -> Select:
    """(area, its earliest registration date; '' when someone has none: since always)."""
    return (select(Member.area_code, func.min(func.coalesce(Member.registered_on, "")))
            .where(live(), _in_areas(Member.area_code, by_area)).group_by(Member.area_code))


@cache
def areas_created(by_area: bool) -> Select:
    """(area, the month it was added: earliest over the lists it is in)."""
    return (select(OrgUnit.code, func.min(func.substr(OrgUnit.created_on, 1, 7)))
            .where(OrgUnit.level == LEVEL_AREA, OrgUnit.created_on.is_not(None),
                   _in_areas(OrgUnit.code, by_area)).group_by(OrgUnit.code))


@cache
def distributed(by_area: bool) -> Select:
    """(area, month, method, source, quantity, hand-outs) of ``first_day``…``last_day``."""
    month = func.substr(Distribution.distributed_on, 1, 7)
    return (select(Distribution.area_code, month, Distribution.method, Distribution.source,
                   func.sum(Distribution.quantity), func.count())
            .where(~Distribution.voided, Distribution.distributed_on >= FIRST_DAY,
                   Distribution.distributed_on <= LAST_DAY,
                   _in_areas(Distribution.area_code, by_area))
            .group_by(*positions(4)))


@cache
def slips(by_area: bool) -> Select:
    """The P0 slips for ``first_month``…``last_month`` (every one sent: the latest
    counts, the first received decides timeliness)."""
    return (select(P0Report.area_code, P0Report.month, P0Report.counts, P0Report.hlc,
                   P0Report.device_id, P0Report.received_at)
            .where(P0Report.month >= bindparam("first_month"),
                   P0Report.month <= bindparam("last_month"),
                   _in_areas(P0Report.area_code, by_area)))


@cache
def first_slips(by_area: bool) -> Select:
    """(area, the first month it sent a slip for)."""
    return (select(P0Report.area_code, func.min(P0Report.month))
            .where(_in_areas(P0Report.area_code, by_area)).group_by(P0Report.area_code))


def month_of_timestamp(dialect: str, column: Any) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


@cache
def synced(by_area: bool, dialect: str) -> Select:
    """(area, month) of the batches received in ``months``."""
    month = month_of_timestamp(dialect, SyncBatch.received_at)
    return (select(SyncBatch.area_code, month)
            .where(_in_areas(SyncBatch.area_code, by_area),
                   month.in_(bindparam("months", expanding=True))).distinct())


@cache
def first_batches(by_area: bool, dialect: str) -> Select:
    """(area, the month its first batch arrived)."""
    return (select(SyncBatch.area_code,
                   month_of_timestamp(dialect, func.min(SyncBatch.received_at)))
            .where(_in_areas(SyncBatch.area_code, by_area)).group_by(SyncBatch.area_code))

"""The roll-ups' SQL: each statement built once per shape, run with bound parameters.

The after-batch hook runs about twenty statements for one area; building a
SQLAlchemy statement costs more than running it on one area's rows, so each is
built (and compiled, by SQLAlchemy's cache) once per shape: with or without an
area filter, and per dialect where the SQL differs. Every value is a parameter:

``areas`` (expanding; only when ``by_area``), ``ids`` (expanding), ``t0`` (month
index of the first month), ``switch_from`` (60 − span: from this age in months
within a five-year group a person passes into the next group during the span),
``first_day`` / ``last_day`` (ISO dates), ``born_by`` (the first month's end: a
year-only birth date "2026" sorts before "2026-01-01" but counts from January),
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

from server.models.register import Distribution, Event, Household, Member
from server.models.sync import SyncBatch
from server.rollups import indicators as ind

FLOW_FORMS = (*ind.COUNTED_FLOWS, "birth", "method_start")
BASE_CODES = ("residence_status", "marital_status", "current_method")  # of the member record

FIRST_DAY, LAST_DAY = bindparam("first_day", type_=String), bindparam("last_day", type_=String)
BORN_BY = bindparam("born_by", type_=String)


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


@cache
def events(by_area: bool) -> Select:
    """Non-voided events that change a state or count as a flow, with their subject.

    Only the payload fields each form needs are extracted (a JSON parse per field).
    """
    form, payload = Event.form, Event.payload
    forms = sorted(set(ind.STATE_FORMS) | set(FLOW_FORMS))
    return (select(Event.member_id, form, Event.id, Event.event_date, Event.hlc,
                   Event.device_id, Event.area_code,
                   case((form == "move_in", payload["residence_type"].as_string())),
                   case((form.in_(("method_start", "method_switch")),
                         payload["method"].as_string())),
                   case((form == "birth", payload["sex"].as_string())),
                   case((form == "birth", payload["birth_order"].as_integer())),
                   Member.sex, Member.birth_date, Member.deleted, Member.merged_into)
            .outerjoin(Member, Member.id == Event.member_id)
            .where(~Event.voided, form.in_(forms), _in_areas(Event.area_code, by_area)))


def _birth_index(column: Any) -> ColumnElement[int]:
    year = cast(func.substr(column, 1, 4), Integer)
    month = case((func.length(column) >= 7, cast(func.substr(column, 6, 2), Integer)), else_=1)
    return year * 12 + month - 1


def _dated_before(by_area: bool) -> list[ColumnElement[bool]]:
    """A live person born by ``born_by``, registered and recorded before ``first_day``."""
    return [live(), func.length(Member.birth_date) >= 4, Member.birth_date <= BORN_BY,
            func.coalesce(Member.registered_on, "") < FIRST_DAY,
            func.coalesce(Member.recorded_on, "") < FIRST_DAY,
            _in_areas(Member.area_code, by_area)]


def _stable_token() -> ColumnElement[str]:
    """What a person whose state stays put adds, as ``sex:age:method``.

    ``age`` is their age in months at ``t0`` when they pass into the next five-year
    group within the span, otherwise the start of their group at ``t0`` (so all
    members of a group share it); ``method`` is set for married women.
    """
    age = bindparam("t0", type_=Integer) - _birth_index(Member.birth_date)
    # (a CASE evaluates its condition and one branch: the birth date is parsed twice)
    age_key = case((age % 60 >= bindparam("switch_from", type_=Integer), age),
                   else_=age // 60 * 60)
    woman = case((and_(Member.sex == "female", Member.marital_status == "married"),
                  func.coalesce(Member.current_method, ind.no_method())), else_="")
    return Member.sex + ":" + cast(age_key, String) + ":" + woman


def _counted(by_area: bool) -> list[ColumnElement[bool]]:
    return [*_dated_before(by_area), Member.residence_status.in_(ind.lives_here())]


@cache
def stable_tokens(by_area: bool) -> Select:
    """(area, the tokens of its persons dated before ``first_day``, comma-separated).

    Grouped by area only, in the covering index's order: grouping by the token in
    SQL would make SQLite sort every row first; Python tallies the tokens.
    """
    return (select(Member.area_code, func.aggregate_strings(_stable_token(), ","))
            .where(*_counted(by_area)).group_by(Member.area_code))


@cache
def stable_households(by_area: bool) -> Select:
    """(area, household, persons dated before ``first_day``), in index order: no sort."""
    return (select(Member.area_code, Member.household_id, func.count())
            .where(*_counted(by_area)).group_by(Member.area_code, Member.household_id))


@cache
def dated_from(by_area: bool) -> Select:
    """Ids of live persons born after ``born_by``, registered or recorded on or after
    ``first_day``."""
    return select(Member.id).where(
        live(), func.length(Member.birth_date) >= 4,
        or_(Member.birth_date > BORN_BY, func.coalesce(Member.registered_on, "") >= FIRST_DAY,
            func.coalesce(Member.recorded_on, "") >= FIRST_DAY),
        _in_areas(Member.area_code, by_area))


@cache
def changers() -> Select:
    """What the fold needs of the persons ``ids``, and their stable token (by the
    primary key: an area filter here would lead the planner to scan whole areas)."""
    return (select(Member.id, Member.area_code, Member.household_id, Member.sex,
                   Member.birth_date, Member.registered_on, Member.recorded_on,
                   Member.residence_status, *(Member.data[f].as_string() for f in BASE_CODES),
                   _stable_token())
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
def distributed(by_area: bool) -> Select:
    month = func.substr(Distribution.distributed_on, 1, 7)
    return (select(Distribution.area_code, month, Distribution.method,
                   func.sum(Distribution.quantity))
            .where(~Distribution.voided, Distribution.distributed_on >= FIRST_DAY,
                   Distribution.distributed_on <= LAST_DAY,
                   _in_areas(Distribution.area_code, by_area))
            .group_by(*positions(3)))


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

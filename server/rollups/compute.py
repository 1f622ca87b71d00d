"""Compute the indicators of collaborator areas for a list of months.

Speed (a million persons in seconds) decides the shape. Most persons' state does
not change during the months computed: nothing dated on or after the first
month's first day concerns them. Those *stable* persons are counted by one
``GROUP BY`` over the member table; the key carries the age group at the first
month and the offset of the one month (if any) in which they pass into the next
five-year group, so a single pass serves every month of a window shorter than
five years. The few *changers* (born, registered, moved, married, died or
changed method during or after the window) are folded in Python at the months
where something about them changed, with the same fold as the register
(:func:`a0core.projection.fold`). Flows are ``GROUP BY`` over events and
distributions. Definitions: :mod:`server.rollups.indicators`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from a0core.projection import SELF, Fact, base_facts, fold
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import SyncBatch
from server.rollups import indicators as ind

Cells = dict[str, dict[str, dict[str, float]]]  # area code → month → values
MAX_SPAN = 59  # months per stock pass: at most one change of five-year group per person


def live(model: Any = Member) -> ColumnElement[bool]:
    return and_(~model.deleted, model.merged_into.is_(None))


def positions(n: int) -> list[Any]:
    """``GROUP BY 1, 2, …``: PostgreSQL would not match expressions with bound parameters."""
    return [literal_column(str(i)) for i in range(1, n + 1)]


def _in_areas(column: Any, areas: Collection[str] | None) -> ColumnElement[bool]:
    return column.in_(sorted(areas)) if areas is not None else true()


def compute_areas(session: Session, months: Sequence[str],
                  areas: Collection[str] | None = None) -> Cells:
    """Every indicator for ``areas`` (all when None) and ``months`` (YYYY-MM)."""
    months = sorted(set(months))
    cells: Cells = defaultdict(lambda: defaultdict(dict))
    if not months:
        return cells
    start = 0
    while start < len(months):
        t0 = ind.month_index(months[start])
        end = start
        while end + 1 < len(months) and ind.month_index(months[end + 1]) - t0 <= MAX_SPAN:
            end += 1
        _stocks(session, months[start:end + 1], areas, cells)
        start = end + 1
    _flows(session, months, areas, cells)
    _synced(session, months, areas, cells)
    return cells


# ---------------------------------------------------------------- stocks

def _birth_index(column: Any) -> ColumnElement[int]:
    year = cast(func.substr(column, 1, 4), Integer)
    month = case((func.length(column) >= 7, cast(func.substr(column, 6, 2), Integer)), else_=1)
    return year * 12 + month - 1


def _state_events(first_day: str, areas: Collection[str] | None) -> Any:
    """Ids of persons with a state-changing fact dated on or after ``first_day``.

    A plain (uncorrelated) subquery: both databases build it once and probe it.
    """
    return (select(Event.member_id).where(~Event.voided, Event.form.in_(ind.STATE_FORMS),
                                          Event.event_date >= first_day,
                                          _in_areas(Event.area_code, areas)))


def _stable(first_day: str, areas: Collection[str] | None,
            events: bool = True) -> list[ColumnElement[bool]]:
    """A live person with nothing dated on or after ``first_day`` (of the second month).

    Their state at the end of the first month is their current state, and stays so.
    ``events=False`` leaves out the test on their events (the caller knows the changers).
    """
    registered = func.coalesce(Member.registered_on, "")
    recorded = func.coalesce(Member.recorded_on, "")
    return [live(), func.length(Member.birth_date) >= 4, Member.birth_date < first_day,
            registered < first_day, recorded < first_day,
            _in_areas(Member.area_code, areas),
            *([Member.id.not_in(_state_events(first_day, areas))] if events else [])]


def _changers(first_day: str, areas: Collection[str] | None) -> ColumnElement[bool]:
    registered = func.coalesce(Member.registered_on, "")
    recorded = func.coalesce(Member.recorded_on, "")
    return and_(live(), func.length(Member.birth_date) >= 4,
                or_(Member.birth_date >= first_day, registered >= first_day,
                    recorded >= first_day, Member.id.in_(_state_events(first_day, areas))),
                _in_areas(Member.area_code, areas))


# coded fields of the member's own records that the fold's base facts set
_BASE_CODES = ("residence_status", "marital_status", "current_method")


@cache
def _stock_keys(sex: str, group: int, method: str | None) -> tuple[str, ...]:
    """The counts one person adds: population, by sex and age group, married women."""
    values: dict[str, float] = {}
    ind.add_stock(values, sex, group, method)
    return tuple(values)


@dataclass
class _AreaStock:
    """Counts valid from the first month, and changes from later month offsets."""

    base: dict[str, float] = field(default_factory=lambda: defaultdict(int))
    changes: dict[int, dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, offset: int, keys: Iterable[str], n: int) -> None:
        target = self.base if offset <= 0 else self.changes[offset]
        for key in keys:
            target[key] += n


def _stocks(session: Session, months: Sequence[str], areas: Collection[str] | None,
            cells: Cells) -> None:
    t0 = ind.month_index(months[0])
    first_day = f"{ind.index_month(t0 + 1)}-01"  # a fact from here on changes a stock
    offsets = [ind.month_index(m) - t0 for m in months]
    span = offsets[-1]
    by_area: dict[str, _AreaStock] = defaultdict(_AreaStock)

    age = t0 - _birth_index(Member.birth_date)
    group = age // 60
    switch = case((age % 60 >= 60 - span, 60 - age % 60), else_=0) if span else literal(0)
    woman = case((and_(Member.sex == "female", Member.marital_status == "married",
                       group.between(2, 9)),
                  func.coalesce(Member.current_method, ind.no_method())), else_=None)
    here = [Member.residence_status.in_(ind.lives_here())]
    counted = [*_stable(first_day, areas), *here]
    rows = session.execute(
        select(Member.area_code, Member.sex, group, switch, woman, func.count())
        .where(*counted).group_by(*positions(5)))
    for area, sex, g, s, method, n in rows:
        stock = by_area[area]
        g = min(g, ind.MAX_GROUP)
        stock.add(0, _stock_keys(sex, g, method), n)
        if s and g < ind.MAX_GROUP:
            stock.add(s, _stock_keys(sex, g, method), -n)
            stock.add(s, _stock_keys(sex, g + 1, method), n)

    # households a stable member counts (a merged household counts as its survivor; a
    # deleted household has no live members, the register refuses to delete it before)
    survivor = merged_households(session, areas)
    covered: set[str] = set()
    per_area: dict[str, set[str]] = defaultdict(set)
    for area, household in session.connection().execute(
            select(Member.area_code, Member.household_id).where(*counted).distinct()).all():
        household = survivor.get(household, household)
        per_area[area].add(household)
        covered.add(household)
    for area, households in per_area.items():
        by_area[area].add(0, ("households",), len(households))

    _fold_changers(session, first_day, t0, offsets, areas, covered, survivor, by_area)

    for area, stock in by_area.items():
        running = defaultdict(int, stock.base)
        steps = sorted(stock.changes)
        i = 0
        for month, offset in zip(months, offsets, strict=True):
            while i < len(steps) and steps[i] <= offset:
                for key, delta in stock.changes[steps[i]].items():
                    running[key] += delta
                i += 1
            cell = cells[area][month]
            for key, value in running.items():
                if value:
                    cell[key] = cell.get(key, 0) + value


def _fold_changers(session: Session, first_day: str, t0: int, offsets: list[int],
                   areas: Collection[str] | None, covered: set[str],
                   survivor: dict[str, str], by_area: dict[str, _AreaStock]) -> None:
    """Fold each changer at the months where their state may differ; record the changes."""
    conn = session.connection()  # Core rows: no ORM bookkeeping for a hundred thousand rows
    people = conn.execute(   # from the covering index alone
        select(Member.id, Member.area_code, Member.household_id, Member.sex, Member.birth_date,
               Member.registered_on, Member.recorded_on)
        .where(_changers(first_day, areas))).all()
    if not people:
        return
    changer_ids = {p[0] for p in people}
    facts = _state_facts(session, changer_ids, areas)
    base: dict[str, tuple] = {}
    for chunk in _chunks(sorted(changer_ids), 500):
        for row in conn.execute(select(Member.id, *(Member.data[f].as_string()
                                                    for f in _BASE_CODES))
                                .where(Member.id.in_(chunk))).all():
            base[row[0]] = tuple(row[1:])
    present: dict[str, set[int]] = defaultdict(set)  # household → offsets a changer counts it
    area_of_household: dict[str, str] = {}
    # a record and an event on the same day: the write stamps decide their order
    ties = [p[0] for p in people if {p[5], p[6]} & {f.date for f in facts.get(p[0], ())}]
    exact: dict[str, tuple[Any, Any]] = {}
    for chunk in _chunks(ties, 500):
        for mid, data, clocks in session.execute(
                select(Member.id, Member.data, Member.clocks).where(Member.id.in_(chunk))):
            exact[mid] = (data, clocks)
    ends = [ind.month_end(ind.index_month(t0 + o)) for o in offsets]
    for person in people:
        pid, area, household_id, sex, birth_date, registered, recorded = person[:7]
        if pid in exact:
            data, clocks = exact[pid]
        else:
            data = {f: v for f, v in zip(_BASE_CODES, base[pid], strict=True) if v is not None}
            if registered:
                data["registered_on"] = registered
            if recorded:
                data["recorded_on"] = recorded
            clocks = {}
        mine = sorted(base_facts(pid, data, clocks) + facts.get(pid, []))
        stock = by_area[area]
        household = survivor.get(household_id, household_id)
        track = household not in covered
        previous: tuple[str, ...] = ()
        for offset, keys in _timeline(sex, birth_date, registered or "", mine, t0, offsets,
                                      ends):
            if keys != previous:
                stock.add(offset, previous, -1)
                stock.add(offset, keys, 1)
                previous = keys
            if track and keys:
                present[household].add(offset)
                area_of_household[household] = area
    _changer_households(present, area_of_household, offsets, by_area)


def _state_facts(session: Session, ids: set[str],
                 areas: Collection[str] | None) -> dict[str, list]:
    """The non-voided state events of these persons, as facts of the register's fold.

    One pass over the state events of the areas (far fewer rows than persons),
    fetching only the payload fields the fold reads.
    """
    out: dict[str, list] = defaultdict(list)
    residence = Event.payload["residence_type"].as_string()
    method = Event.payload["method"].as_string()
    for member_id, form, eid, date, hlc, device, res, code in session.connection().execute(
            select(Event.member_id, Event.form, Event.id, Event.event_date, Event.hlc,
                   Event.device_id, residence, method)
            .where(~Event.voided, Event.form.in_(ind.STATE_FORMS),
                   _in_areas(Event.area_code, areas))).all():
        if member_id not in ids:
            continue
        record = {"id": eid, "event_date": date}
        if res is not None:
            record["residence_type"] = res
        if code is not None:
            record["method"] = code
        out[member_id].append(Fact(date, hlc, device, eid, form, SELF, record))
    return out


def _timeline(sex: str, birth_date: str, registered: str, facts: list, t0: int,
              offsets: list[int], ends: list[str]) -> list[tuple[int, tuple[str, ...]]]:
    """(offset, keys counted) at every requested month offset, evaluated where needed."""
    birth = ind.birth_index(birth_date)
    points = {ind.month_index(f.date[:7]) - t0 for f in facts if f.date}
    points.add(birth - t0)
    if registered:
        points.add(ind.month_index(registered[:7]) - t0)
    first_switch = 60 - ((t0 - birth) % 60) if t0 >= birth else (birth - t0)
    points.update(range(first_switch, offsets[-1] + 1, 60))
    pending = sorted(p for p in points if p > 0)
    dates = [f.date for f in facts]
    out: list[tuple[int, tuple[str, ...]]] = []
    keys: tuple[str, ...] = ()
    i = 0
    for n, offset in enumerate(offsets):
        if n == 0 or (i < len(pending) and pending[i] <= offset):
            while i < len(pending) and pending[i] <= offset:
                i += 1
            end = ends[n]
            if birth > t0 + offset or (registered and registered > end):
                keys = ()
            else:
                keys = _keys_of(sex, fold(facts[:bisect.bisect_right(dates, end)]),
                                t0 + offset - birth)
        out.append((offset, keys))
    return out


def _keys_of(sex: str, state: Mapping[str, Any], age_months: int) -> tuple[str, ...]:
    if state["residence_status"] not in ind.lives_here():
        return ()
    method = None
    if sex == "female" and state["marital_status"] == "married":
        method = state["current_method"] or ind.no_method()
    return _stock_keys(sex, ind.age_group(age_months), method)


def merged_households(session: Session, areas: Collection[str] | None) -> dict[str, str]:
    """Merged household id → the survivor it counts as (few rows; indexed)."""
    return dict(session.connection().execute(
        select(Household.id, Household.merged_into)
        .where(Household.merged_into.is_not(None), _in_areas(Household.area_code, areas))).all())


def _changer_households(present: dict[str, set[int]], area_of: dict[str, str],
                        offsets: list[int], by_area: dict[str, _AreaStock]) -> None:
    """Households counted only through changers, at the months a changer counts them."""
    per_area: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for household, seen in present.items():
        for offset in seen:
            per_area[area_of[household]][offset] += 1
    for area, counts in per_area.items():
        previous = 0
        for offset in offsets:
            if counts.get(offset, 0) != previous:
                by_area[area].add(offset, ("households",), counts.get(offset, 0) - previous)
                previous = counts.get(offset, 0)


# ----------------------------------------------------------------- flows

def _flows(session: Session, months: Sequence[str], areas: Collection[str] | None,
           cells: Cells) -> None:
    first_day, last_day = f"{months[0]}-01", ind.month_end(months[-1])
    wanted = set(months)
    month = func.substr(Event.event_date, 1, 7)
    in_range = [~Event.voided, Event.event_date >= first_day, Event.event_date <= last_day,
                _in_areas(Event.area_code, areas), live()]
    subject = Member.id == Event.member_id

    def add(area: str, m: str, keys: Iterable[str], n: float) -> None:
        if m in wanted:
            cell = cells[area][m]
            for key in keys:
                cell[key] = cell.get(key, 0) + n

    for area, m, form, sex, n in session.execute(
            select(Event.area_code, month, Event.form, Member.sex, func.count())
            .join(Member, subject).where(*in_range, Event.form.in_(ind.COUNTED_FLOWS))
            .group_by(*positions(4))):
        name = ind.COUNTED_FLOWS[form]
        add(area, m, (name,) + ((f"{name}.{sex}",) if form == "death" else ()), n)

    child_sex = Event.payload["sex"].as_string()
    third = Event.payload["birth_order"].as_integer() >= 3
    mother_age = (cast(func.substr(Event.event_date, 1, 4), Integer)
                  - cast(func.substr(Member.birth_date, 1, 4), Integer)
                  - case((and_(func.length(Member.birth_date) >= 10,
                               func.substr(Member.birth_date, 6, 5)
                               > func.substr(Event.event_date, 6, 5)), 1), else_=0))
    young = mother_age < 20
    for area, m, sex, is_third, is_young, n in session.execute(
            select(Event.area_code, month, child_sex, third, young, func.count())
            .join(Member, subject).where(*in_range, Event.form == "birth")
            .group_by(*positions(5))):
        keys = ["births", f"births.{sex}"]
        if is_third:
            keys.append("births.order3plus")
        if is_young:
            keys.append("births.mother_under20")
        add(area, m, keys, n)

    method = Event.payload["method"].as_string()
    for area, m, code, n in session.execute(
            select(Event.area_code, month, method, func.count())
            .join(Member, subject).where(*in_range, Event.form == "method_start")
            .group_by(*positions(3))):
        add(area, m, ("new_acceptors", f"new_acceptors.{code}"), n)

    d_month = func.substr(Distribution.distributed_on, 1, 7)
    for area, m, code, quantity in session.execute(
            select(Distribution.area_code, d_month, Distribution.method,
                   func.sum(Distribution.quantity))
            .where(~Distribution.voided, Distribution.distributed_on >= first_day,
                   Distribution.distributed_on <= last_day,
                   _in_areas(Distribution.area_code, areas))
            .group_by(*positions(3))):
        add(area, m, (f"distributed.{code}",), int(quantity))


# ---------------------------------------------------------- completeness

def month_of_timestamp(session: Session, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _synced(session: Session, months: Sequence[str], areas: Collection[str] | None,
            cells: Cells) -> None:
    month = month_of_timestamp(session, SyncBatch.received_at)
    rows = session.execute(
        select(SyncBatch.area_code, month).where(_in_areas(SyncBatch.area_code, areas),
                                                 month.in_(list(months))).distinct())
    for area, m in rows:
        cells[area][m]["areas_synced"] = 1


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]

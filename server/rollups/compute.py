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
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
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
    events = _read_events(session, areas)
    start = 0
    while start < len(months):
        t0 = ind.month_index(months[start])
        end = start
        while end + 1 < len(months) and ind.month_index(months[end + 1]) - t0 <= MAX_SPAN:
            end += 1
        _stocks(session, months[start:end + 1], areas, events, cells)
        start = end + 1
    _flows(months, events, cells)
    _distributed(session, months, areas, cells)
    _synced(session, months, areas, cells)
    return cells


# ---------------------------------------------------------------- events

FLOW_FORMS = (*ind.COUNTED_FLOWS, "birth", "method_start")


@dataclass
class _Events:
    """The events of the areas, read once: the state facts the fold needs and the flows."""

    facts: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))
    latest: dict[str, str] = field(default_factory=dict)  # member → last state event's date
    # (area, date, form, subject's sex, subject's birth date, child's sex, order, method)
    flows: list[tuple[Any, ...]] = field(default_factory=list)


def _read_events(session: Session, areas: Collection[str] | None) -> _Events:
    """One pass over the non-voided events that change a state or count as a flow.

    Only the payload fields each form needs are extracted (a JSON parse per field).
    The subject is joined for the flows: events of a merged or deleted person, or of
    none, are not counted.
    """
    form = Event.form
    payload = Event.payload
    residence = case((form == "move_in", payload["residence_type"].as_string()))
    method = case((form.in_(("method_start", "method_switch")), payload["method"].as_string()))
    child_sex = case((form == "birth", payload["sex"].as_string()))
    order = case((form == "birth", payload["birth_order"].as_integer()))
    out = _Events()
    state_forms = set(ind.STATE_FORMS)
    for (member_id, kind, eid, date, hlc, device, area, res, code, sex_of_child, birth_order,
         sex, born, deleted, merged_into) in session.connection().execute(
            select(Event.member_id, form, Event.id, Event.event_date, Event.hlc,
                   Event.device_id, Event.area_code, residence, method, child_sex, order,
                   Member.sex, Member.birth_date, Member.deleted, Member.merged_into)
            .outerjoin(Member, Member.id == Event.member_id)
            .where(~Event.voided, form.in_(sorted(state_forms | set(FLOW_FORMS))),
                   _in_areas(Event.area_code, areas))):
        if kind in state_forms:
            record = {"id": eid, "event_date": date}
            if res is not None:
                record["residence_type"] = res
            if code is not None:
                record["method"] = code
            out.facts[member_id].append(Fact(date, hlc, device, eid, kind, SELF, record))
            if date > out.latest.get(member_id, ""):
                out.latest[member_id] = date
        if kind in FLOW_FORMS and sex is not None and not deleted and merged_into is None:
            out.flows.append((area, date, kind, sex, born, sex_of_child, birth_order, code))
    return out


# ---------------------------------------------------------------- stocks

def _birth_index(column: Any) -> ColumnElement[int]:
    year = cast(func.substr(column, 1, 4), Integer)
    month = case((func.length(column) >= 7, cast(func.substr(column, 6, 2), Integer)), else_=1)
    return year * 12 + month - 1


def _dated_before(first_day: str, areas: Collection[str] | None) -> list[ColumnElement[bool]]:
    """A live person born, registered and recorded before ``first_day``."""
    registered = func.coalesce(Member.registered_on, "")
    recorded = func.coalesce(Member.recorded_on, "")
    return [live(), func.length(Member.birth_date) >= 4, Member.birth_date < first_day,
            registered < first_day, recorded < first_day, _in_areas(Member.area_code, areas)]


def _dated_from(first_day: str, areas: Collection[str] | None) -> list[ColumnElement[bool]]:
    """A live person born, registered or recorded on or after ``first_day``."""
    registered = func.coalesce(Member.registered_on, "")
    recorded = func.coalesce(Member.recorded_on, "")
    return [live(), func.length(Member.birth_date) >= 4,
            or_(Member.birth_date >= first_day, registered >= first_day,
                recorded >= first_day), _in_areas(Member.area_code, areas)]


def _stable_token(t0: int, span: int) -> ColumnElement[str]:
    """What a person whose state stays put adds, as ``sex:age:method`` (see :func:`_parse`).

    ``age`` is their age in months at ``t0`` when they pass into the next five-year
    group within the ``span`` months, otherwise the start of their group at ``t0``
    (so all members of a group share it); ``method`` is set for married women.
    """
    age = t0 - _birth_index(Member.birth_date)
    within = age % 60
    age_key = case((within >= 60 - span, age), else_=age - within)
    woman = case((and_(Member.sex == "female", Member.marital_status == "married"),
                  func.coalesce(Member.current_method, ind.no_method())), else_="")
    return Member.sex + ":" + cast(age_key, String) + ":" + woman


@cache
def _parse(token: str) -> tuple[str, int, int, str | None]:
    """``sex:age:method`` → (sex, age group at t0, offset of the next group or 0, method
    of a married woman who is or becomes 15–49)."""
    sex, age, method = token.split(":")
    group, within = divmod(int(age), 60)
    woman = method if method and 2 <= group <= 9 else None
    return sex, group, 60 - within if within else 0, woman


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

    def add_stable(self, token: str, n: int) -> None:
        """``n`` persons of a stable token (:func:`_stable_token`), from the first month."""
        sex, group, switch, method = _parse(token)
        group = min(group, ind.MAX_GROUP)
        self.add(0, _stock_keys(sex, group, method), n)
        if switch and group < ind.MAX_GROUP:
            self.add(switch, _stock_keys(sex, group, method), -n)
            self.add(switch, _stock_keys(sex, group + 1, method), n)


def _stocks(session: Session, months: Sequence[str], areas: Collection[str] | None,
            events: _Events, cells: Cells) -> None:
    """Stocks of ``months`` (at most :data:`MAX_SPAN` apart).

    Everyone dated before the second month is counted at their current state (the
    state the register folded from all their facts): that is their state in every
    month unless a state event is dated on or after the second month's first day.
    Those few, and the persons born, registered or recorded since, are the
    *changers*: a changer counted with the others is taken out again (by the same
    token, from the same SQL expression) and every changer is folded.

    The count: one pass in index order grouped by area only, whose tokens Python
    tallies. (Grouping by the token in SQL makes SQLite sort every row first.)
    """
    t0 = ind.month_index(months[0])
    first_day = f"{ind.index_month(t0 + 1)}-01"  # a fact from here on changes a stock
    offsets = [ind.month_index(m) - t0 for m in months]
    by_area: dict[str, _AreaStock] = defaultdict(_AreaStock)
    conn = session.connection()  # Core rows: no ORM bookkeeping
    token = _stable_token(t0, offsets[-1])
    counted = [*_dated_before(first_day, areas),
               Member.residence_status.in_(ind.lives_here())]
    for area, tokens in conn.execute(
            select(Member.area_code, func.aggregate_strings(token, ","))
            .where(*counted).group_by(Member.area_code)):
        stock = by_area[area]
        for key, n in Counter(tokens.split(",")).items():
            stock.add_stable(key, n)

    # households a counted person lives in (a merged household counts as its survivor;
    # a deleted household has no live members, the register refuses to delete it before)
    survivor = merged_households(session, areas)
    households: dict[tuple[str, str], int] = defaultdict(int)  # (area, household) → persons
    for area, household, n in conn.execute(  # in index order: no sort
            select(Member.area_code, Member.household_id, func.count())
            .where(*counted).group_by(Member.area_code, Member.household_id)):
        households[(area, survivor.get(household, household))] += n

    people = _changers(session, first_day, areas, events, token)
    for person in people:
        if person.token is not None:
            by_area[person.area].add_stable(person.token, -1)
            households[(person.area, survivor.get(person.household, person.household))] -= 1
    covered: set[str] = set()
    per_area: dict[str, int] = defaultdict(int)
    for (area, household), n in households.items():
        if n > 0:
            covered.add(household)
            per_area[area] += 1
    for area, n in per_area.items():
        by_area[area].add(0, ("households",), n)

    _fold_changers(session, people, events, t0, offsets, covered, survivor, by_area)

    for area, stock in by_area.items():
        running = defaultdict(int, stock.base)
        steps = sorted(stock.changes)
        i = 0
        for month, offset in zip(months, offsets, strict=True):
            while i < len(steps) and steps[i] <= offset:
                for name, delta in stock.changes[steps[i]].items():
                    running[name] += delta
                i += 1
            cell = cells[area][month]
            for name, value in running.items():
                if value:
                    cell[name] = cell.get(name, 0) + value


@dataclass
class _Changer:
    id: str
    area: str
    household: str
    sex: str
    birth_date: str
    registered: str
    recorded: str
    codes: tuple[str | None, ...]  # the member record's _BASE_CODES
    token: str | None  # the stable token it was counted with, if it was


def _changers(session: Session, first_day: str, areas: Collection[str] | None,
              events: _Events, token: ColumnElement[str]) -> list[_Changer]:
    """Persons dated on or after ``first_day`` (from the covering index) and persons with
    a state event dated then (known from ``events``), with what the fold needs."""
    conn = session.connection()
    ids = set(conn.scalars(select(Member.id).where(*_dated_from(first_day, areas))))
    ids.update(m for m, last in events.latest.items() if last >= first_day)
    lives_here = set(ind.lives_here())
    out = []
    for chunk in _chunks(sorted(ids), 2000):
        for (pid, area, household, sex, born, registered, recorded, residence, *codes,
             stable) in conn.execute(
                select(Member.id, Member.area_code, Member.household_id, Member.sex,
                       Member.birth_date, Member.registered_on, Member.recorded_on,
                       Member.residence_status,
                       *(Member.data[f].as_string() for f in _BASE_CODES), token)
                .where(Member.id.in_(chunk), live(), func.length(Member.birth_date) >= 4,
                       _in_areas(Member.area_code, areas))):
            registered, recorded = registered or "", recorded or ""
            dated = born >= first_day or registered >= first_day or recorded >= first_day
            counted = not dated and residence in lives_here
            out.append(_Changer(pid, area, household, sex, born, registered, recorded,
                                tuple(codes), stable if counted else None))
    return out


def _tie_clocks(session: Session, people: list[_Changer],
                events: _Events) -> dict[str, dict[str, Any]]:
    """Field stamps of the changers whose record and an event share a day: the stamps,
    not the dates, then order the record's facts against the event (few persons)."""
    ties = [p.id for p in people
            if {p.registered, p.recorded} & {f.date for f in events.facts.get(p.id, ())}]
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ties, 2000):
        out.update(session.connection().execute(
            select(Member.id, Member.clocks).where(Member.id.in_(chunk))).all())
    return out


def _fold_changers(session: Session, people: list[_Changer], events: _Events, t0: int,
                   offsets: list[int], covered: set[str], survivor: dict[str, str],
                   by_area: dict[str, _AreaStock]) -> None:
    """Fold each changer at the months where their state may change; record the changes."""
    present: dict[str, int] = defaultdict(int)  # household → months a changer counts it (bits)
    area_of_household: dict[str, str] = {}
    clocks = _tie_clocks(session, people, events)
    ends = [ind.month_end(ind.index_month(t0 + o)) for o in offsets]
    for person in people:
        data = {f: v for f, v in zip(_BASE_CODES, person.codes, strict=True) if v is not None}
        if person.registered:
            data["registered_on"] = person.registered
        if person.recorded:
            data["recorded_on"] = person.recorded
        facts = base_facts(person.id, data, clocks.get(person.id, {}))
        facts = sorted(facts + events.facts[person.id]) if person.id in events.facts \
            else sorted(facts)
        stock = by_area[person.area]
        household = survivor.get(person.household, person.household)
        track = household not in covered
        previous: tuple[str, ...] = ()
        mask = 0
        for n, until, keys in _timeline(person.sex, person.birth_date, person.registered,
                                        facts, t0, offsets, ends):
            if keys != previous:
                stock.add(offsets[n], previous, -1)
                stock.add(offsets[n], keys, 1)
                previous = keys
            if track and keys:
                mask |= (1 << until) - (1 << n)  # months n … until - 1
        if mask:
            present[household] |= mask
            area_of_household[household] = person.area
    _changer_households(present, area_of_household, offsets, by_area)


def _timeline(sex: str, birth_date: str, registered: str, facts: list, t0: int,
              offsets: list[int], ends: list[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """(n, until, keys): the keys counted from month ``n`` up to ``until`` (indices into
    ``offsets``), evaluated at the first month and wherever they may change: the month
    of a fact, of the birth or registration, of a change of age group."""
    birth = ind.birth_index(birth_date)
    last = offsets[-1]
    points = [birth - t0]
    if registered:
        points.append(ind.month_index(registered) - t0)
    points += [ind.month_index(f.date) - t0 for f in facts if f.date]
    first_switch = 60 - ((t0 - birth) % 60) if t0 >= birth else (birth - t0)
    points += range(first_switch, last + 1, 60)
    at = sorted({0} | {bisect.bisect_left(offsets, p) for p in points if 0 < p <= last})
    dates = [f.date for f in facts]
    out = []
    for i, n in enumerate(at):
        end, age = ends[n], t0 + offsets[n] - birth
        if age < 0 or registered > end:
            keys: tuple[str, ...] = ()
        else:
            keys = _keys_of(sex, fold(facts[:bisect.bisect_right(dates, end)]), age)
        out.append((n, at[i + 1] if i + 1 < len(at) else len(offsets), keys))
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


def _changer_households(present: dict[str, int], area_of: dict[str, str],
                        offsets: list[int], by_area: dict[str, _AreaStock]) -> None:
    """Households counted only through changers, at the months a changer counts them."""
    per_area: dict[str, list[int]] = defaultdict(lambda: [0] * len(offsets))
    for household, mask in present.items():
        counts = per_area[area_of[household]]
        for n in range(len(offsets)):
            if mask >> n & 1:
                counts[n] += 1
    for area, counts in per_area.items():
        previous = 0
        for offset, count in zip(offsets, counts, strict=True):
            if count != previous:
                by_area[area].add(offset, ("households",), count - previous)
                previous = count


# ----------------------------------------------------------------- flows

def _flows(months: Sequence[str], events: _Events, cells: Cells) -> None:
    """Events dated within each month (of live persons)."""
    wanted = set(months)
    for area, date, form, sex, born, child_sex, order, method in events.flows:
        month = date[:7]
        if month not in wanted:
            continue
        cell = cells[area][month]
        if form == "birth":
            keys = ["births", f"births.{child_sex}"]
            if order is not None and order >= 3:
                keys.append("births.order3plus")
            if _age_on(born, date) < 20:
                keys.append("births.mother_under20")
        elif form == "method_start":
            keys = ["new_acceptors", f"new_acceptors.{method}"]
        else:
            name = ind.COUNTED_FLOWS[form]
            keys = [name, f"{name}.{sex}"] if form == "death" else [name]
        for name in keys:
            cell[name] = cell.get(name, 0) + 1


def _age_on(birth_date: str, day: str) -> int:
    """Completed years on ``day`` (a year-only birth date: the year's difference)."""
    born = int(birth_date[:4]) if birth_date[:4].isdigit() else 0
    before = len(birth_date) >= 10 and birth_date[5:10] > day[5:10]
    return int(day[:4]) - born - before


def _distributed(session: Session, months: Sequence[str], areas: Collection[str] | None,
                 cells: Cells) -> None:
    first_day, last_day = f"{months[0]}-01", ind.month_end(months[-1])
    wanted = set(months)
    month = func.substr(Distribution.distributed_on, 1, 7)
    for area, m, code, quantity in session.connection().execute(
            select(Distribution.area_code, month, Distribution.method,
                   func.sum(Distribution.quantity))
            .where(~Distribution.voided, Distribution.distributed_on >= first_day,
                   Distribution.distributed_on <= last_day,
                   _in_areas(Distribution.area_code, areas))
            .group_by(*positions(3))):
        if m in wanted:
            cell = cells[area][m]
            name = f"distributed.{code}"
            cell[name] = cell.get(name, 0) + int(quantity)


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

"""Compute the indicators of collaborator areas for a list of months.

Speed (a million persons in seconds) decides the shape. Most persons' state does
not change during the months computed: nothing dated on or after the second
month's first day concerns them. Those *stable* persons are counted in one pass
over the member table's covering index, by a token that carries their sex, their
age group at the first month and the offset of the one month (if any) in which
they pass into the next five-year group, and a married woman's method, so a
single pass serves every month of a window shorter than five years. The few
*changers* (born, registered, moved, married, died or changed method during or
after the window) are folded in Python at the months where something about them
may change, with the same fold as the register (:func:`a0core.projection.fold`).
Flows come from the same one pass over the events; distributions are summed in
SQL. The statements: :mod:`server.rollups.queries`. Definitions:
:mod:`server.rollups.indicators`.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from a0core.projection import SELF, Fact, base_facts, fold
from server.models.base import chunks
from server.rollups import indicators as ind
from server.rollups import queries as q

Cells = dict[str, dict[str, dict[str, float]]]  # area code → month → values
MAX_SPAN = 59  # months per stock pass: at most one change of five-year group per person


def compute_areas(session: Session, months: Sequence[str],
                  areas: Collection[str] | None = None) -> Cells:
    """Every indicator for ``areas`` (all when None) and ``months`` (YYYY-MM)."""
    months = sorted(set(months))
    cells: Cells = defaultdict(lambda: defaultdict(dict))
    if not months:
        return cells
    conn = session.connection()  # Core rows: no ORM bookkeeping
    events = _read_events(conn, areas)
    start = 0
    while start < len(months):
        t0 = ind.month_index(months[start])
        end = start
        while end + 1 < len(months) and ind.month_index(months[end + 1]) - t0 <= MAX_SPAN:
            end += 1
        _stocks(conn, months[start:end + 1], areas, events, cells)
        start = end + 1
    _flows(months, events, cells)
    _distributed(conn, months, areas, cells)
    _synced(conn, months, areas, cells)
    return cells


# ---------------------------------------------------------------- events

@dataclass
class _Events:
    """The events of the areas, read once: the state facts the fold needs and the flows."""

    facts: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))
    latest: dict[str, str] = field(default_factory=dict)  # member → last state event's date
    # (area, date, form, subject's sex, subject's birth date, child's sex, order, method)
    flows: list[tuple[Any, ...]] = field(default_factory=list)


def _read_events(conn: Connection, areas: Collection[str] | None) -> _Events:
    """One pass over the events; flows only of a live subject (not merged or deleted)."""
    out = _Events()
    state_forms = set(ind.STATE_FORMS)
    for (member_id, kind, eid, date, hlc, device, area, res, code, sex_of_child, birth_order,
         sex, born, deleted, merged_into) in conn.execute(q.events(areas is not None),
                                                          q.params(areas)):
        if kind in state_forms:
            record = {"id": eid, "event_date": date}
            if res is not None:
                record["residence_type"] = res
            if code is not None:
                record["method"] = code
            out.facts[member_id].append(Fact(date, hlc, device, eid, kind, SELF, record))
            if date > out.latest.get(member_id, ""):
                out.latest[member_id] = date
        if kind in q.FLOW_FORMS and sex is not None and not deleted and merged_into is None:
            out.flows.append((area, date, kind, sex, born, sex_of_child, birth_order, code))
    return out


# ---------------------------------------------------------------- stocks

@lru_cache(maxsize=1 << 16)  # a few thousand tokens per first month
def _parse(token: str) -> tuple[str, int, int, str | None]:
    """A stable token (``sex:age:method``, :func:`server.rollups.queries.stable_tokens`)
    → (sex, age group at t0, offset of the next group or 0, method of a married woman
    who is or becomes 15–49)."""
    sex, age, method = token.split(":")
    group, within = divmod(int(age), 60)
    woman = method if method and 2 <= group <= 9 else None
    return sex, group, 60 - within if within else 0, woman


Category = tuple[str, int, str | None]  # (sex, age group, method of a married woman)
HOUSEHOLDS = ("households",)  # a household counted (the category of households)


@cache
def _names(category: tuple) -> tuple[str, ...]:
    """The counts one member of ``category`` adds: population, by sex and age group,
    married women (and, for :data:`HOUSEHOLDS`, one household)."""
    if category == HOUSEHOLDS:
        return HOUSEHOLDS
    values: dict[str, float] = {}
    ind.add_stock(values, *category)
    return tuple(values)


def _expand(counts: Mapping[tuple, int]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for category, n in counts.items():
        if n:
            for name in _names(category):
                out[name] += n
    return out


@dataclass
class _AreaStock:
    """Counts by category valid from the first month, and their changes at later month
    offsets (expanded into indicator names once, at the end)."""

    base: Counter = field(default_factory=Counter)
    changes: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, offset: int, category: tuple | None, n: int) -> None:
        if category is not None:
            (self.base if offset <= 0 else self.changes[offset])[category] += n

    def add_stable(self, token: str, n: int) -> None:
        """``n`` persons of a stable token, from the first month."""
        sex, group, switch, method = _parse(token)
        group = min(group, ind.MAX_GROUP)
        self.add(0, (sex, group, method), n)
        if switch and group < ind.MAX_GROUP:
            self.add(switch, (sex, group, method), -n)
            self.add(switch, (sex, group + 1, method), n)

    def monthly(self, offsets: Sequence[int]) -> Iterable[dict[str, int]]:
        """The counts at each of ``offsets`` (ascending)."""
        running = _expand(self.base)
        steps = sorted(self.changes)
        i = 0
        for offset in offsets:
            while i < len(steps) and steps[i] <= offset:
                for name, delta in _expand(self.changes[steps[i]]).items():
                    running[name] += delta
                i += 1
            yield running


def _stocks(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
            events: _Events, cells: Cells) -> None:
    """Stocks of ``months`` (at most :data:`MAX_SPAN` apart).

    Everyone dated before the second month is counted at their current state (the
    state the register folded from all their facts): that is their state in every
    month unless a state event is dated on or after the second month's first day.
    Those few, and the persons born, registered or recorded since, are the
    *changers*: a changer counted with the others is taken out again (by the same
    token, from the same SQL expression) and every changer is folded.
    """
    t0 = ind.month_index(months[0])
    offsets = [ind.month_index(m) - t0 for m in months]
    values = q.params(areas, t0=t0, switch_from=60 - offsets[-1],
                      born_by=ind.month_end(months[0]),
                      first_day=f"{ind.index_month(t0 + 1)}-01")  # a fact from here on
    stocks: dict[str, _AreaStock] = defaultdict(_AreaStock)
    for area, tokens in conn.execute(q.stable_tokens(areas is not None), values):
        stock = stocks[area]
        for token, n in Counter(tokens.split(",")).items():
            stock.add_stable(token, n)

    # households a counted person lives in (a merged household counts as its survivor;
    # a deleted household has no live members, the register refuses to delete it before)
    survivor = dict(conn.execute(q.merged_households(areas is not None), q.params(areas)).all())
    households: dict[tuple[str, str], int] = defaultdict(int)  # (area, household) → persons
    for area, household, n in conn.execute(q.stable_households(areas is not None), values):
        households[(area, survivor.get(household, household))] += n

    people = _changers(conn, areas, events, values)
    for person in people:
        if person.token is not None:
            stocks[person.area].add_stable(person.token, -1)
            households[(person.area, survivor.get(person.household, person.household))] -= 1
    covered: set[str] = set()
    per_area: dict[str, int] = defaultdict(int)
    for (area, household), n in households.items():
        if n > 0:
            covered.add(household)
            per_area[area] += 1
    for area, n in per_area.items():
        stocks[area].add(0, HOUSEHOLDS, n)

    _fold_changers(conn, people, events, t0, offsets, covered, survivor, stocks)

    for area, stock in stocks.items():
        for month, counts in zip(months, stock.monthly(offsets), strict=True):
            cell = cells[area][month]
            for name, value in counts.items():
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
    codes: tuple[str | None, ...]  # the member record's BASE_CODES
    token: str | None  # the stable token it was counted with, if it was


def _changers(conn: Connection, areas: Collection[str] | None, events: _Events,
              values: dict[str, Any]) -> list[_Changer]:
    """Persons of ``areas`` dated on or after ``first_day`` (from the covering index) and
    persons with a state event dated then (known from ``events``), with what the fold
    needs."""
    first_day, born_by = values["first_day"], values["born_by"]
    ids = set(conn.scalars(q.dated_from(areas is not None), values))
    ids.update(m for m, last in events.latest.items() if last >= first_day)
    lives_here = set(ind.lives_here())
    wanted = None if areas is None else set(areas)
    out = []
    for chunk in chunks(sorted(ids), 2000):
        for (pid, area, household, sex, born, registered, recorded, residence, *codes,
             token) in conn.execute(q.changers(), {**values, "ids": chunk}):
            if wanted is not None and area not in wanted:  # an event here, the person elsewhere
                continue
            registered, recorded = registered or "", recorded or ""
            dated = born > born_by or registered >= first_day or recorded >= first_day
            counted = not dated and residence in lives_here
            out.append(_Changer(pid, area, household, sex, born, registered, recorded,
                                tuple(codes), token if counted else None))
    return out


def _tie_clocks(conn: Connection, people: list[_Changer],
                events: _Events) -> dict[str, dict[str, Any]]:
    """Field stamps of the changers whose record and an event share a day: the stamps,
    not the dates, then order the record's facts against the event (few persons)."""
    ties = [p.id for p in people
            if {p.registered, p.recorded} & {f.date for f in events.facts.get(p.id, ())}]
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunks(ties, 2000):
        out.update(conn.execute(q.clocks(), {"ids": chunk}).all())
    return out


def _fold_changers(conn: Connection, people: list[_Changer], events: _Events, t0: int,
                   offsets: list[int], covered: set[str], survivor: dict[str, str],
                   stocks: dict[str, _AreaStock]) -> None:
    """Fold each changer at the months where their state may change; record the changes."""
    present: dict[str, int] = defaultdict(int)  # household → months a changer counts it (bits)
    area_of_household: dict[str, str] = {}
    clocks = _tie_clocks(conn, people, events)
    ends = [ind.month_end(ind.index_month(t0 + o)) for o in offsets]
    for person in people:
        data = {f: v for f, v in zip(q.BASE_CODES, person.codes, strict=True) if v is not None}
        if person.registered:
            data["registered_on"] = person.registered
        if person.recorded:
            data["recorded_on"] = person.recorded
        facts = base_facts(person.id, data, clocks.get(person.id, {}))
        facts = sorted(facts + events.facts[person.id]) if person.id in events.facts \
            else sorted(facts)
        stock = stocks[person.area]
        household = survivor.get(person.household, person.household)
        track = household not in covered
        previous: Category | None = None
        mask = 0
        for n, until, category in _timeline(person.sex, person.birth_date, person.registered,
                                            facts, t0, offsets, ends):
            if category != previous:
                stock.add(offsets[n], previous, -1)
                stock.add(offsets[n], category, 1)
                previous = category
            if track and category:
                mask |= (1 << until) - (1 << n)  # months n … until - 1
        if mask:
            present[household] |= mask
            area_of_household[household] = person.area
    _changer_households(present, area_of_household, offsets, stocks)


def _timeline(sex: str, birth_date: str, registered: str, facts: list, t0: int,
              offsets: list[int], ends: list[str]) -> list[tuple[int, int, Category | None]]:
    """(n, until, category): the person's category (None: not counted) from month ``n``
    up to ``until`` (indices into ``offsets``), evaluated at the first month and
    wherever it may change: the month of a fact, of the birth or registration, of a
    change of age group."""
    birth = ind.birth_index(birth_date)
    last = offsets[-1]
    dates = [f.date for f in facts]
    months = {d[:7] for d in dates if d}
    if registered:
        months.add(registered[:7])
    points = {ind.month_index(m) - t0 for m in months}
    points.add(birth - t0)
    first_switch = 60 - ((t0 - birth) % 60) if t0 >= birth else (birth - t0)
    points.update(range(first_switch, last + 1, 60))
    contiguous = last == len(offsets) - 1  # offsets 0, 1, 2, …: an offset is its index
    at = sorted({0} | {p if contiguous else bisect.bisect_left(offsets, p)
                       for p in points if 0 < p <= last})
    out = []
    for i, n in enumerate(at):
        end, age = ends[n], t0 + offsets[n] - birth
        if age < 0 or registered > end:
            category = None
        else:
            category = _category(sex, fold(facts[:bisect.bisect_right(dates, end)]), age)
        out.append((n, at[i + 1] if i + 1 < len(at) else len(offsets), category))
    return out


def _category(sex: str, state: Mapping[str, Any], age_months: int) -> Category | None:
    if state["residence_status"] not in ind.lives_here():
        return None
    method = None
    if sex == "female" and state["marital_status"] == "married":
        method = state["current_method"] or ind.no_method()
    return sex, ind.age_group(age_months), method


def _changer_households(present: dict[str, int], area_of: dict[str, str],
                        offsets: list[int], stocks: dict[str, _AreaStock]) -> None:
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
                stocks[area].add(offset, HOUSEHOLDS, count - previous)
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


def _distributed(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
                 cells: Cells) -> None:
    wanted = set(months)
    for area, m, code, quantity in conn.execute(
            q.distributed(areas is not None),
            q.params(areas, first_day=f"{months[0]}-01", last_day=ind.month_end(months[-1]))):
        if m in wanted:
            cell = cells[area][m]
            name = f"distributed.{code}"
            cell[name] = cell.get(name, 0) + int(quantity)


# ---------------------------------------------------------- completeness

def _synced(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
            cells: Cells) -> None:
    for area, m in conn.execute(q.synced(areas is not None, conn.dialect.name),
                                q.params(areas, months=list(months))):
        cells[area][m]["areas_synced"] = 1


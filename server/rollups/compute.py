"""Compute the indicators of collaborator areas for a list of months.

Speed (a million persons in seconds) decides the shape. Most persons' state does
not change during the months computed: no state event of theirs is dated on or
after the second month's first day. Those *stable* persons are counted in one pass
over the member table's covering index, by a token that carries their sex, their
birth month (turned once per distinct token into their age group at the first
month and the offset of the one month, if any, in which they pass into the next
five-year group), a married woman's method, and the month offsets from which
they are in the register (born or registered within the window) and from which a
married woman's method is known (her status recorded within it). So a single
pass serves every month of a window shorter than five years, quiet months
included. The few *changers* (a state event dated in the
window, a pregnancy, or facts dated before their registration) are folded in
Python at the months where something about them may change, with the same fold
as the register (:func:`a0core.projection.fold`), household included. Flows and
the slip check come from one pass over the events; distributions are summed in
SQL. The statements: :mod:`server.rollups.queries`. Definitions:
:mod:`server.rollups.indicators`.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from a0core import collector, p0
from a0core.projection import MOTHER, PREGNANCY_SEEN, SELF, Fact, base_facts, fold_until
from server.models.base import chunks
from server.reporting import deadline_day
from server.rollups import indicators as ind
from server.rollups import queries as q

Cells = dict[str, dict[str, dict[str, float]]]  # area code → month → values
MAX_SPAN = 59  # months per stock pass: at most one change of five-year group per person


def compute_areas(session: Session, months: Sequence[str],
                  areas: Collection[str] | None = None,
                  stocks_of: Collection[str] | None = None, *, mapped: bool = False) -> Cells:
    """Every indicator for ``areas`` (all when None) and ``months`` (YYYY-MM); the
    population stocks only of ``stocks_of`` (None: of all ``areas``), when the caller
    has the others' already.

    ``mapped``: on SQLite, read the file through a memory map (a full recompute's
    passes over the whole register; for one area, mapping costs more than it saves).
    """
    months = sorted(set(months))
    cells: Cells = defaultdict(lambda: defaultdict(dict))
    if not months:
        return cells
    conn = session.connection()  # Core rows: no ORM bookkeeping
    # the computation keeps millions of small objects (rows, facts, payloads, keys) to
    # its end and makes no cycles worth collecting: each of the collector's full passes
    # walked them all for nothing, about a fifth of a shard's CPU at a million persons
    with collector.paused(), _mapped(conn, mapped):
        # no stocks to compute: the events of the months computed are enough (no fold)
        events = _read_events(conn, areas, None if stocks_of is None or stocks_of
                              else f"{months[0]}-01")
        counted = areas if stocks_of is None else stocks_of
        start = 0 if stocks_of is None or stocks_of else len(months)
        while start < len(months):
            t0 = ind.month_index(months[start])
            end = start
            while end + 1 < len(months) and ind.month_index(months[end + 1]) - t0 <= MAX_SPAN:
                end += 1
            _stocks(conn, months[start:end + 1], counted, events, cells)
            start = end + 1
        _flows(months, events, cells)
        _distributed(conn, months, areas, events, cells)
        _reporting(conn, months, areas, events, cells)
        _synced(conn, months, areas, cells)
    return cells


MMAP_BYTES = 1 << 36  # address space, not memory; SQLite caps it at its build limit (2 GB)


@contextmanager
def _mapped(conn: Connection, wanted: bool) -> Iterator[None]:
    """On SQLite, read the database file through a memory map while computing: a pass
    over a million index entries and the lookups by id then copy no pages through
    ``read`` calls and a 2 MB page cache (about an eighth of a shard's CPU at a
    million persons; but 10–15 ms more for one area, the after-batch case). Only
    reads use it (writes go to the WAL as always); the connection returns to the
    pool as it was."""
    if not wanted or conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
    conn.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA mmap_size={int(before or 0)}")


# ---------------------------------------------------------------- events

@dataclass
class _Events:
    """The events of the areas, read once: the facts the fold needs, the flows, the
    entries the slips are checked against, and each area's first fact."""

    facts: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))
    latest: dict[str, str] = field(default_factory=dict)  # member → last state fact's date
    # (area, date, form, payload, subject's sex, subject's birth date, subject)
    flows: list[tuple[Any, ...]] = field(default_factory=list)
    held: Counter = field(default_factory=Counter)  # (area, month, section) → entries
    first: dict[str, str] = field(default_factory=dict)  # area → earliest event date


def _read_events(conn: Connection, areas: Collection[str] | None,
                 since: str | None = None) -> _Events:
    """One pass over the events; flows only of a live subject (not merged or deleted).
    From ``since`` only, when given: the facts for the fold are then incomplete (no
    stocks may be computed from them), each area's first event is read apart."""
    out = _Events()
    if since is not None:
        out.first.update(conn.execute(q.first_events(areas is not None), q.params(areas)).all())
    query = q.events(areas is not None) if since is None else q.events_since(areas is not None)
    values = q.params(areas) if since is None else q.params(areas, since=since)
    state_forms = set(ind.STATE_FORMS)
    sections = p0.section_map()
    facts, latest, flows, held, first = out.facts, out.latest, out.flows, out.held, out.first
    for (member_id, form, eid, date, hlc, device, area, payload, sex, born, deleted,
         merged_into) in conn.execute(query, values):
        if form in state_forms or form == "birth":  # a birth ends its mother's pregnancy
            facts[member_id].append(Fact(date, hlc, device, eid, form,
                                         MOTHER if form == "birth" else SELF, payload))
            if date > latest.get(member_id, ""):
                latest[member_id] = date
        if sex is not None and not deleted and merged_into is None:
            flows.append((area, date, form, payload, sex, born, member_id))
        section = sections.get(form)
        if section is not None:
            held[(area, date[:7], section)] += 1
        if date < first.get(area, "9999"):
            first[area] = date
    return out


# ---------------------------------------------------------------- stocks

Category = tuple[str, int, str | None, bool]  # (sex, age group, married woman's method, pregnant)
HOUSEHOLDS = ("households",)  # a household counted (the category of households)


Steps = tuple[tuple[int, int], ...]  # (key, ±1): see :class:`_AreaStock`
_CATEGORIES: dict[tuple, int] = {}  # category → its number (a small int is cheap to hash)
_CATEGORY_LIST: list[tuple] = []
_SHIFT = 16  # key = month offset << _SHIFT | category number


def _key(offset: int, category: tuple) -> int:
    """A month offset and a category as one int."""
    number = _CATEGORIES.get(category)
    if number is None:
        number = _CATEGORIES[category] = len(_CATEGORY_LIST)
        _CATEGORY_LIST.append(category)
    return max(offset, 0) << _SHIFT | number


@lru_cache(maxsize=1 << 18)  # tens of thousands of distinct tokens per window
def _steps(token: str) -> Steps:
    """What one person of a stable token (``entry:recorded:sex:age:method``,
    :func:`server.rollups.queries.stable_tokens`) adds, as (key, ±1): their category
    from the offset from which they count, and the later changes — into the next
    five-year group at its month (at most one within a span), a married woman's
    method from the month it is known."""
    entry_s, recorded_s, sex, age, method_s = token.split(":")
    entry, recorded = int(entry_s), int(recorded_s)
    group, within = divmod(int(age), 60)
    method = method_s if method_s and 2 <= group <= 9 else None  # is or becomes 15–49
    switch = 60 - within if within else 0
    if switch and switch <= entry:  # already in the next group when they enter
        group, switch = group + 1, 0
    group = min(group, ind.MAX_GROUP)
    late_method = method is not None and recorded > entry
    shown = ind.no_method() if late_method else method
    out = [(_key(entry, (sex, group, shown, False)), 1)]
    changes = ([(switch, 0)] if switch and group < ind.MAX_GROUP else []) + (
        [(recorded, 1)] if late_method else [])
    for offset, what in sorted(changes):
        out.append((_key(offset, (sex, group, shown, False)), -1))
        if what == 0:
            group += 1
        else:
            shown = method
        out.append((_key(offset, (sex, group, shown, False)), 1))
    return tuple(out)


class _Canonical(dict):
    """A stable token as SQL writes it (``entry:recorded:sex:born:method``, ``born`` the
    birth date's ``YYYY-MM``) → the token :func:`_steps` reads, whose age is the start
    of the person's five-year group at ``t0``, or their exact age in months when they
    pass into the next group within the span (from ``switch_from`` months into their
    group on). Worked out once per distinct token of a span (a few thousand), not
    per person: SQL parses no birth date."""

    def __init__(self, t0: int, switch_from: int) -> None:
        super().__init__()
        self.t0, self.switch_from = t0, switch_from

    def __missing__(self, token: str) -> str:
        entry, recorded, sex, born, method = token.split(":")
        age = self.t0 - ind.birth_index(born)
        key = 0 if age < 0 else age if age % 60 >= self.switch_from else age // 60 * 60
        out = self[token] = f"{entry}:{recorded}:{sex}:{key}:{method}"
        return out


def _entry(token: str) -> int:
    return int(token[:token.index(":")])


@cache
def _names(number: int) -> tuple[str, ...]:
    """The counts one member of category ``number`` adds (for :data:`HOUSEHOLDS`, a
    household)."""
    category = _CATEGORY_LIST[number]
    if category == HOUSEHOLDS:
        return HOUSEHOLDS
    return ind.stock_names(*category)


class _AreaStock:
    """Counts by category and the month offset from which they hold (one int key:
    :func:`_key`), expanded into indicator names once per month offset, at the end."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def add(self, offset: int, category: tuple | None, n: int) -> None:
        if category is not None:
            key = _key(offset, category)
            self.counts[key] = self.counts.get(key, 0) + n

    def add_stable(self, token: str, n: int) -> None:
        """``n`` persons of a stable token, from their entry on."""
        self.add_tokens({token: n})

    def add_tokens(self, tokens: Mapping[str, int]) -> None:
        """Persons of stable tokens (token → how many), each from their entry on."""
        counts = self.counts
        get = counts.get
        for token, n in tokens.items():
            for key, sign in _steps(token):
                counts[key] = get(key, 0) + sign * n

    def monthly(self, offsets: Sequence[int]) -> Iterable[dict[str, int]]:
        """The counts at each of ``offsets`` (ascending)."""
        by_offset: dict[int, list[tuple[int, int]]] = defaultdict(list)
        mask = (1 << _SHIFT) - 1
        for key, n in self.counts.items():
            if n:
                by_offset[key >> _SHIFT].append((key & mask, n))
        running: dict[str, int] = defaultdict(int)
        steps = sorted(by_offset)
        i = 0
        for offset in offsets:
            while i < len(steps) and steps[i] <= offset:
                for number, n in by_offset[steps[i]]:
                    for name in _names(number):
                        running[name] += n
                i += 1
            yield running


def _stocks(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
            events: _Events, cells: Cells) -> None:
    """Stocks of ``months`` (at most :data:`MAX_SPAN` apart).

    Everyone is counted at their current state (the state the register folded from
    all their facts) from the month they enter the register: that is their state in
    every month unless a state fact is dated on or after the second month's first
    day. Those few (the *changers*) are taken out again (by the same token, from the
    same SQL expression) and folded.
    """
    t0 = ind.month_index(months[0])
    offsets = [ind.month_index(m) - t0 for m in months]
    values = q.params(areas, t0=t0, switch_from=60 - offsets[-1],
                      born_by=ind.month_end(months[0]),
                      first_day=f"{ind.index_month(t0 + 1)}-01")  # a fact from here on
    stocks: dict[str, _AreaStock] = defaultdict(_AreaStock)
    households: dict[tuple[str, str], str] = {}  # (area, household) → its persons' tokens
    per_area: dict[str, list[str]] = defaultdict(list)
    for area, household, tokens in conn.execute(q.stable_tokens(areas is not None), values):
        households[(area, household)] = tokens
        per_area[area].append(tokens)
    canonical = _Canonical(t0, values["switch_from"])
    for area, parts in per_area.items():
        stocks[area].add_tokens(Counter(map(canonical.__getitem__,
                                            ",".join(parts).split(","))))
    # households a counted person lives in (a merged household counts as its survivor;
    # a deleted household has no live members, the register refuses to delete it before)
    survivor = dict(conn.execute(q.merged_households(areas is not None), q.params(areas)).all())

    people = _changers(conn, areas, events, values)
    removed: dict[tuple[str, str], list[str]] = defaultdict(list)
    for person in people:
        if person.token is not None:
            stocks[person.area].add_stable(canonical[person.token], -1)
            removed[(person.area, person.household)].append(person.token)
    present = _fold_changers(conn, people, events, t0, offsets, survivor, stocks)
    _households(households, removed, survivor, present, offsets, stocks)

    for area, stock in stocks.items():
        for month, counts in zip(months, stock.monthly(offsets), strict=True):
            cell = cells[area][month]
            for name, value in counts.items():
                if value:
                    cell[name] = cell.get(name, 0) + value


def _households(households: Mapping[tuple[str, str], str],
                removed: Mapping[tuple[str, str], list[str]], survivor: Mapping[str, str],
                present: dict[tuple[str, str], int], offsets: Sequence[int],
                stocks: dict[str, _AreaStock]) -> None:
    """Count each household in the months one of its persons counts: from the first
    entry of its stable persons on, and in the months a changer counts it."""
    first_of: dict[tuple[str, str], int] = {}
    for key, tokens in households.items():
        gone = removed.get(key)
        if gone:
            left = tokens.split(",")
            for token in gone:
                left.remove(token)
            if not left:
                continue
            first = min(_entry(t) for t in left)
        elif tokens.startswith("0:") or ",0:" in tokens:  # someone from the start
            first = 0
        else:
            first = min(_entry(t) for t in tokens.split(","))
        key = (key[0], survivor.get(key[1], key[1]))
        if first < first_of.get(key, first + 1):
            first_of[key] = first
    every = (1 << len(offsets)) - 1
    from_first: Counter = Counter()
    for key, first in first_of.items():
        if key in present:  # a changer counts it too: its months are the union
            present[key] |= every ^ ((1 << bisect.bisect_left(offsets, first)) - 1)
        else:
            from_first[(key[0], first)] += 1
    for (area, first), n in from_first.items():
        stocks[area].add(first, HOUSEHOLDS, n)
    changes: Counter = Counter()  # (area, month index) → households counted from there
    for (area, _), mask in present.items():
        while mask:  # each run of months counted: one more at its start, one less after it
            low = mask & -mask
            above = mask + low  # the run carried into the month after it
            end = (above & -above).bit_length() - 1
            changes[(area, low.bit_length() - 1)] += 1
            changes[(area, end)] -= 1  # (end = len(offsets): after the last month, unread)
            mask &= ~((1 << end) - 1)
    for (area, n), delta in changes.items():
        if delta and n < len(offsets):
            stocks[area].add(offsets[n], HOUSEHOLDS, delta)


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
    """The persons whose state may change within the window: a state fact dated on or
    after ``first_day``, an ongoing pregnancy, or state facts and an entry (birth,
    registration, a married woman's status) within the window. Only persons with
    state facts can be one; they are read by id."""
    first_day = values["first_day"]
    lives_here = set(ind.lives_here())
    wanted = None if areas is None else set(areas)
    out = []
    for chunk in chunks(sorted(events.facts), 2000):
        for (pid, area, household, sex, born, registered, recorded, residence, pregnant,
             *codes, token) in conn.execute(q.changers(), {**values, "ids": chunk}):
            if wanted is not None and area not in wanted:  # an event here, the person elsewhere
                continue
            entry, known = token.split(":", 2)[:2]
            if events.latest[pid] < first_day and not pregnant and entry == known == "0":
                continue  # stable: their token is right for every month
            out.append(_Changer(pid, area, household, sex, born, registered or "",
                                recorded or "", tuple(codes),
                                token if residence in lives_here else None))
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
                   offsets: list[int], survivor: Mapping[str, str],
                   stocks: dict[str, _AreaStock]) -> dict[tuple[str, str], int]:
    """Fold each changer at the months where their state may change; record the changes.
    Returns the months (bits by index) each (area, household) is counted by a changer."""
    present: dict[tuple[str, str], int] = defaultdict(int)
    clocks = _tie_clocks(conn, people, events)
    months = [ind.index_month(t0 + o) for o in offsets]
    ends = [ind.month_end(m) for m in months]
    last_days = [p0.last_day(m).isoformat() for m in months]
    for person in people:
        data = {f: v for f, v in zip(q.BASE_CODES, person.codes, strict=True) if v is not None}
        if person.registered:
            data["registered_on"] = person.registered
        if person.recorded:
            data["recorded_on"] = person.recorded
        facts = sorted(base_facts(person.id, data, clocks.get(person.id, {}))
                       + events.facts[person.id], key=_FACT_ORDER)
        stock = stocks[person.area]
        previous: Category | None = None
        for n, until, category, household in _timeline(
                person.sex, person.birth_date, person.registered, facts, t0, offsets, ends,
                last_days):
            if category != previous:
                stock.add(offsets[n], previous, -1)
                stock.add(offsets[n], category, 1)
                previous = category
            if category is not None and household:
                key = (person.area, survivor.get(household, household))
                present[key] |= (1 << until) - (1 << n)  # months n … until - 1
    return present


def _timeline(sex: str, birth_date: str, registered: str, facts: list, t0: int,
              offsets: list[int], ends: list[str], last_days: list[str]
              ) -> list[tuple[int, int, Category | None, str | None]]:
    """(n, until, category, household): the person's category (None: not counted) and
    household from month ``n`` up to ``until`` (indices into ``offsets``), evaluated at
    the first month and wherever it may change: the month of a fact, of the birth or
    registration, of a change of age group, of a pregnancy running over."""
    birth = ind.birth_index(birth_date)
    last = offsets[-1]
    months = {f.date[:7] for f in facts if f.date}
    if registered:
        months.add(registered[:7])
    months.update(_run_over(f.data.get("expected_date"), f.date)[:7] for f in facts
                  if f.kind == "pregnancy" and f.data.get("outcome") == "pregnant")
    points = {_month_index(m) - t0 for m in months}
    points.add(birth - t0)
    first_switch = 60 - ((t0 - birth) % 60) if t0 >= birth else (birth - t0)
    points.update(range(first_switch, last + 1, 60))
    contiguous = last == len(offsets) - 1  # offsets 0, 1, 2, …: an offset is its index
    at = sorted({0} | {p if contiguous else bisect.bisect_left(offsets, p)
                       for p in points if 0 < p <= last})
    states = fold_until(facts, [ends[n] for n in at])
    out = []
    for i, (n, state) in enumerate(zip(at, states, strict=True)):
        age = t0 + offsets[n] - birth
        category, household = None, None
        if age >= 0 and registered <= ends[n]:
            category = _category(sex, state, age, last_days[n])
            household = state["household_id"]
        out.append((n, at[i + 1] if i + 1 < len(at) else len(offsets), category, household))
    return out


_FACT_ORDER = attrgetter("date", "hlc", "device", "id")  # a Fact's order, compared in C
_month_index = cache(ind.month_index)


@lru_cache(maxsize=1 << 14)
def _run_over(expected: str | None, seen: str) -> str:
    """The first day a pregnancy seen on ``seen`` no longer counts as ongoing."""
    if expected:
        limit = dt.date.fromisoformat(expected) + dt.timedelta(days=ind.POSTPARTUM_DAYS)
    else:
        limit = dt.date.fromisoformat(seen) + dt.timedelta(
            days=ind.PREGNANCY_DAYS + ind.POSTPARTUM_DAYS)
    return (limit + dt.timedelta(days=1)).isoformat()


def _category(sex: str, state: Mapping[str, Any], age_months: int,
              last_day: str) -> Category | None:
    if state["residence_status"] not in ind.lives_here():
        return None
    method = None
    female = sex == "female"
    if female and state["marital_status"] == "married":
        method = state["current_method"] or ind.no_method()
    pregnant = bool(female and state["pregnant"] and state[PREGNANCY_SEEN]
                    and last_day < _run_over(state["expected_date"], state[PREGNANCY_SEEN]))
    return sex, ind.age_group(age_months), method, pregnant


# ----------------------------------------------------------------- flows

def _flows(months: Sequence[str], events: _Events, cells: Cells) -> None:
    """Events dated within each month (of live persons)."""
    wanted = set(months)
    once: set[tuple[str, str, str, str]] = set()
    for area, date, form, payload, sex, born, member in events.flows:
        month = date[:7]
        if month not in wanted:
            continue
        cell = cells[area][month]
        plain, per_person = ind.flow_names(form, payload, sex, born, date)
        for name in plain:
            cell[name] = cell.get(name, 0) + 1
        for name in per_person:
            key = (area, month, name, member)
            if key not in once:
                once.add(key)
                cell[name] = cell.get(name, 0) + 1


def _distributed(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
                 events: _Events, cells: Cells) -> None:
    """Quantities by method and source; the hand-outs count as the slip's entries."""
    wanted = set(months)
    section = p0.section_of("distribution")
    for area, m, method, source, quantity, entries in conn.execute(
            q.distributed(areas is not None),
            q.params(areas, first_day=f"{months[0]}-01", last_day=ind.month_end(months[-1]))):
        if m in wanted:
            cell = cells[area][m]
            for name in ind.distributed_names(method, source):
                cell[name] = cell.get(name, 0) + int(quantity)
            events.held[(area, m, section)] += entries


# ------------------------------------------------------------- reporting

def _reporting(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
               events: _Events, cells: Cells) -> None:
    """Expected, reported, on time and incomplete, by reporting month."""
    by_area = areas is not None
    wanted = set(months)
    latest: dict[tuple[str, str], tuple[int, str, Mapping[str, Any]]] = {}
    first: dict[tuple[str, str], dt.datetime] = {}
    for area, month, counts, hlc, device, received in conn.execute(
            q.slips(by_area), q.params(areas, first_month=months[0], last_month=months[-1])):
        if month not in wanted:
            continue
        key = (area, month)
        if key not in latest or (hlc, device) > latest[key][:2]:
            latest[key] = (hlc, device, counts)
        received = received if received.tzinfo else received.replace(tzinfo=dt.UTC)
        first[key] = min(first.get(key, received), received)
    day = deadline_day()
    sections = p0.section_fields()
    for key, (_, _, counts) in latest.items():
        area, month = key
        cell = cells[area][month]
        cell["areas_reported"] = 1
        if first[key] < p0.deadline_utc(month, day):
            cell["areas_on_time"] = 1
        held = {s: events.held.get((area, month, s), 0) for s in sections}
        if p0.differing(counts, held):
            cell["areas_incomplete"] = 1
    for area, start in _area_starts(conn, areas, events).items():
        for month in months:
            if month >= start:
                cells[area][month]["areas_expected"] = 1


def area_starts(session: Session, areas: Collection[str] | None = None) -> dict[str, str]:
    """The month each area is expected to report from (the one rule, for the roll-ups
    and the sync status page); an area missing from it (neither added here nor
    holding data) is expected always."""
    conn = session.connection()
    events = _Events()
    events.first.update(conn.execute(q.first_events(areas is not None), q.params(areas)).all())
    return _area_starts(conn, areas, events)


def _area_starts(conn: Connection, areas: Collection[str] | None,
                 events: _Events) -> dict[str, str]:
    """Each area's first month: the month it was added, or its first registration
    (``""``: someone has no date, so since always), fact, slip or batch if earlier."""
    by_area = areas is not None
    starts = {area: first[:7] for area, first in conn.execute(q.area_starts(by_area),
                                                              q.params(areas))}
    found = [(area, date[:7]) for area, date in events.first.items()]
    found += conn.execute(q.first_slips(by_area), q.params(areas)).all()
    found += conn.execute(q.first_batches(by_area, conn.dialect.name), q.params(areas)).all()
    found += conn.execute(q.areas_created(by_area), q.params(areas)).all()
    for area, month in found:
        if area in starts:
            starts[area] = min(starts[area], month)
        else:
            starts[area] = month
    return starts


def _synced(conn: Connection, months: Sequence[str], areas: Collection[str] | None,
            cells: Cells) -> None:
    for area, m in conn.execute(q.synced(areas is not None, conn.dialect.name),
                                q.params(areas, months=list(months))):
        cells[area][m]["areas_synced"] = 1

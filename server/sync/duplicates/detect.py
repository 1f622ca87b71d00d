"""Find duplicate candidates for the records a batch touched (DESIGN §4). No Flask.

Runs inside the batch's transaction as an after-batch hook, and after a merge or
an undo. Only touched records are looked at, but a pair's score depends on both
records *and their households* (fellow members), so the focus is widened to
every member of every touched household: a pair is always re-scored when
anything it depends on changed, which makes the queue a function of the
register, not of the order in which batches arrived.

Candidates come from the blocking keys stored in the member rows
(:mod:`.scoring`): per commune, one index look-up per key column for every key
of the focus members' windows, and one per number (identification, social
insurance). Only focus members are
paired with what the look-ups return (never the whole block with itself), so a
batch's cost follows the records it touched, not the size of the commune; the
whole-commune scan (``a0sync duplicates scan``) is the same call with the whole
commune in focus. Every pair is scored, and the queue is brought up to date:
pairs at or above the threshold are inserted or re-scored, open pairs that fell
below it (or whose record was deleted or merged) leave the queue. Decided pairs
(merged, rejected, undone) are never reopened or re-scored.

Known limit: when a member moves to another household, the pairs of the
household it left are re-scored only when that household is next touched.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.models.base import chunks, in_values, insert_rows, utcnow
from server.models.duplicates import OPEN, DuplicateCandidate
from server.models.register import Household, Member
from server.sync.duplicates.scoring import (
    BLOCK_COLUMNS,
    DEFAULTS,
    FELLOWS_COUNTED,
    MEMBER_LINK,
    NUMBER_COLUMNS,
    HouseholdSide,
    Person,
    Thresholds,
    blocked_within,
    fellows_in_common,
    score_ceiling,
    score_households,
    score_members,
    window_keys,
)

_M = Member.__table__.c
_H = Household.__table__.c
_KEYS = (*BLOCK_COLUMNS, *NUMBER_COLUMNS)
_COLS = (_M.id, _M.household_id, _M.full_name, _M.sex, _M.birth_date, _M.ethnicity,
         _M.bhyt_number, _M.province_code, _M.commune_code, _M.area_code,
         _M.seq, _M.deleted, _M.merged_into, *(_M[k] for k in _KEYS))


@dataclass
class DetectResult:
    members_scored: int = 0
    pairs_blocked: int = 0  # pairs sharing a block
    pairs_scored: int = 0   # of those, the ones that could reach a threshold: scored in full
    open_members: set[tuple[str, str]] = field(default_factory=set)
    open_households: set[tuple[str, str]] = field(default_factory=set)



@lru_cache(maxsize=64)
def _record(names: tuple[str, ...]) -> Any:
    """A named tuple of these columns: read back field by field many times per row, a
    tuple's attribute costs a tenth of a result row's."""
    return namedtuple("Record", names)


def _where_in(session: Session, columns: Iterable[Any], key: Any, values: Iterable[Any],
              ) -> Iterator[Any]:
    """Rows whose ``key`` is among ``values``: the one, indexed, condition sent to the database.

    Whether a record is live is checked by the caller (:func:`_live`): with ``NOT
    deleted AND merged_into IS NULL`` beside it, PostgreSQL working from stale
    statistics (a register that grew since its last ANALYZE) walks another index.
    """
    columns = tuple(columns)
    make = _record(tuple(c.key for c in columns))._make
    for chunk in chunks(sorted(set(values))):
        yield from map(make, session.execute(
            select(*columns).where(in_values(session, key, chunk))).all())


def _live(rows: Iterable[Any]) -> Iterator[Any]:
    return (r for r in rows if not r.deleted and r.merged_into is None)


def _focus(session: Session, member_ids: Iterable[str], household_ids: Iterable[str],
           ) -> tuple[dict[str, Any], set[str], set[str], set[str]]:
    """Live members to re-score (every live member of a touched household), live and gone ids."""
    member_ids = set(member_ids)
    touched = list(_where_in(session, (_M.id, _M.household_id, _M.deleted, _M.merged_into),
                             _M.id, member_ids))
    focus_h = set(household_ids) | {r.household_id for r in touched}
    live_h = {r.id for r in _live(_where_in(session, (_H.id, _H.deleted, _H.merged_into),
                                            _H.id, focus_h))}
    focus = {r.id: r for r in _live(_where_in(session, _COLS, _M.household_id, live_h))}
    homeless = {r.id for r in _live(touched)} - focus.keys()  # live, in a gone household
    focus.update((r.id, r) for r in _where_in(session, _COLS, _M.id, homeless))
    return focus, live_h, member_ids - focus.keys(), focus_h - live_h


def _blocked_pairs(session: Session, members: list[Any], rows: dict[str, Any],
                   whole: bool = False) -> set[tuple[str, str]]:
    """Pairs of focus members (of one commune) with the live records sharing a key or number.

    The look-ups read ids from the key indexes alone (the focus members come back
    too, cheaply); only the records not yet in ``rows`` are then read in full. With
    ``whole`` (the focus is every live member of the commune's live households) the
    pairs come from the focus rows' stored keys alone (:func:`blocked_within`).
    """
    if whole:
        return blocked_within((r.id, r._asdict()) for r in members)
    commune = members[0].commune_code
    windows = [(r.id, window_keys(r.full_name, r.sex, r.birth_date, r.id_number, r.bhyt_number))
               for r in members]
    wanted: dict[str, set[str]] = {k: set() for k in _KEYS}
    for _, window in windows:
        for column, keys in window.items():
            wanted[column].update(keys)
    holders: dict[str, dict[str, list[str]]] = {k: defaultdict(list) for k in _KEYS}
    for column in _KEYS:
        found = holders[column]
        for chunk in chunks(sorted(wanted[column])):
            for member_id, key in session.execute(
                    select(_M.id, _M[column]).where(in_values(session, _M[column], chunk),
                                                    _M.commune_code == commune)).all():
                found[key].append(member_id)
    pairs: set[tuple[str, str]] = set()
    for own, window in windows:
        found = set()
        for column, keys in window.items():
            held = holders[column]
            for key in held.keys() & keys:  # the few keys someone holds (one's own among them)
                found.update(held[key])
        found.discard(own)
        pairs.update((own, other) if own < other else (other, own) for other in found)
    wanted = {i for pair in pairs for i in pair} - rows.keys()
    rows.update((r.id, r) for r in _live(_where_in(session, _COLS, _M.id, wanted)))
    return {(a, b) for a, b in pairs if a in rows and b in rows}


def _household_names(session: Session, focus: dict[str, Any], live_h: set[str],
                     households: set[str], known: dict[str, list[tuple[str, str]]] | None = None,
                     ) -> dict[str, list[tuple[str, str]]]:
    """(id, name) of the live members of each household; the focus holds live_h's already
    (``known``: what an earlier call made of them)."""
    names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if known is None:
        for r in focus.values():
            if r.household_id in live_h:
                names[r.household_id].append((r.id, r.full_name))
    else:
        names.update((h, known[h]) for h in live_h if h in known)
    for mid, hid, name, *_ in _live(_where_in(
            session, (_M.id, _M.household_id, _M.full_name, _M.deleted, _M.merged_into),
            _M.household_id, households - live_h)):
        names[hid].append((mid, name))
    return names


def _person(r: Any, household: Iterable[tuple[str, str]] = ()) -> Person:
    """What scoring needs of a row; ``household``: (id, name) of its household's live members."""
    fellows = tuple(sorted(name for mid, name in household if mid != r.id))
    return Person(r.id, r.household_id, r.full_name, r.sex, r.birth_date, r.ethnicity,
                  r.bhyt_number, fellows, r.id_number)


def _fellows_at_most(a: Person, b: Person, known: set[str]) -> int:
    """Fellows in common: counted when both households are known, else at their best."""
    if a.household_id in known and b.household_id in known:
        return fellows_in_common(a.fellows, b.fellows)
    return FELLOWS_COUNTED


def detect(session: Session, member_ids: Iterable[str], household_ids: Iterable[str],
           thresholds: Thresholds = DEFAULTS, whole: bool = False) -> DetectResult:
    """Bring the queue up to date for these records (and their households' members).

    ``whole``: the households given are every household of their communes (a scan),
    so candidates are found among the focus without looking keys up.
    """
    result = DetectResult()
    focus, live_h, gone_m, gone_h = _focus(session, member_ids, household_ids)
    result.members_scored = len(focus)
    rows: dict[str, Any] = dict(focus)
    by_commune: dict[str, list[Any]] = defaultdict(list)
    for r in focus.values():
        by_commune[r.commune_code].append(r)
    pairs: set[tuple[str, str]] = set()
    for members in by_commune.values():
        pairs |= _blocked_pairs(session, members, rows, whole)

    # -- a first, cheap look sets most pairs aside: fellows in common counted where both
    # households are in the focus (all of them in a whole-commune scan), at their best
    # elsewhere; names compared only for pairs the other evidence leaves hopeful
    floor = min(thresholds.member, MEMBER_LINK)  # below it a pair counts for nothing
    known = _household_names(session, focus, live_h, set())
    bare = {i: _person(rows[i], known.get(rows[i].household_id, ()))
            for i in {i for pair in pairs for i in pair}}
    hopeful = sorted(p for p in pairs if score_ceiling(
        bare[p[0]], bare[p[1]], _fellows_at_most(bare[p[0]], bare[p[1]], live_h),
        floor) >= floor)
    involved = {i for pair in hopeful for i in pair}
    names = _household_names(session, focus, live_h, {rows[i].household_id for i in involved},
                             known)
    # a focus household's names are the ones ``bare`` was made with
    people = {i: bare[i] if rows[i].household_id in live_h
              else _person(rows[i], names.get(rows[i].household_id, ())) for i in involved}
    scores = {(a, b): score_members(people[a], people[b]) for a, b in hopeful}
    result.pairs_blocked, result.pairs_scored = len(pairs), len(scores)

    found_m = {p: s for p, s in scores.items() if s[0] >= thresholds.member}
    _sync_queue(session, "member", set(focus) | gone_m, found_m,
                {p: (rows[p[0]], rows[p[1]]) for p in found_m})
    result.open_members = set(found_m)

    # -- households: scored from their members' pairs
    links: dict[tuple[str, str], dict[tuple[str, str], float]] = defaultdict(dict)
    for (a, b), (s, _) in scores.items():
        ha, hb = rows[a].household_id, rows[b].household_id
        if s >= MEMBER_LINK and ha != hb and (ha in live_h or hb in live_h):
            links[(min(ha, hb), max(ha, hb))][(a, b)] = s
    h_rows = {r.id: r for r in _live(_where_in(
        session, (_H.id, _H.number, _H.address, _H.province_code, _H.commune_code, _H.area_code,
                  _H.seq, _H.deleted, _H.merged_into), _H.id, {h for pair in links for h in pair}))}
    found_h: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
    for a, b in sorted(links):
        if a not in h_rows or b not in h_rows:
            continue
        sides = [HouseholdSide(h, h_rows[h].number, h_rows[h].address,
                               tuple(sorted(mid for mid, _ in names.get(h, ())))) for h in (a, b)]
        score = score_households(sides[0], sides[1], links[(a, b)])
        if score[0] >= thresholds.household:
            found_h[(a, b)] = score
    _sync_queue(session, "household", live_h | gone_h, found_h,
                {p: (h_rows[p[0]], h_rows[p[1]]) for p in found_h})
    result.open_households = set(found_h)
    return result


def scan_commune(session: Session, commune: str,
                 thresholds: Thresholds = DEFAULTS) -> DetectResult:
    """Re-score every household and member of a commune (bulk-loaded data has no
    after-batch hook); the caller commits."""
    ids = list(session.scalars(select(Household.id).where(Household.commune_code == commune)))
    return detect(session, [], ids, thresholds, whole=True)


def _sync_queue(session: Session, kind: str, focus: set[str],
                found: dict[tuple[str, str], tuple[float, dict[str, Any]]],
                places: dict[tuple[str, str], tuple[Any, Any]]) -> None:
    """Insert or re-score found pairs; drop open pairs of the focus that were not found.

    Every found pair has a record in the focus, so the focus's pairs are all the
    queue rows there can be to update; the new ones go in with one ``executemany``.
    """
    t = DuplicateCandidate
    existing: dict[tuple[str, str], DuplicateCandidate] = {}
    ids = sorted(focus)
    for side in (t.a_id, t.b_id):
        for chunk in chunks(ids):
            for c in session.scalars(select(t).where(t.kind == kind,
                                                     in_values(session, side, chunk))):
                existing[(c.a_id, c.b_id)] = c
    stale = [c.id for p, c in existing.items() if c.status == OPEN and p not in found]
    for chunk in chunks(stale):
        session.execute(delete(t).where(in_values(session, t.id, chunk)))
    now, new = utcnow(), []
    for pair, (score, reasons) in sorted(found.items()):
        ra, rb = places[pair]
        c = existing.get(pair)
        if c is None:
            new.append({"kind": kind, "a_id": pair[0], "b_id": pair[1], "score": score,
                        "reasons": reasons, "status": OPEN, "province_code": ra.province_code,
                        "commune_code": ra.commune_code, "area_code": ra.area_code,
                        "b_area_code": rb.area_code, "a_seq": ra.seq, "b_seq": rb.seq,
                        "created_at": now, "updated_at": now})
        elif c.status == OPEN:
            c.score, c.reasons, c.a_seq, c.b_seq = score, reasons, ra.seq, rb.seq
            c.area_code, c.b_area_code = ra.area_code, rb.area_code
    session.flush()
    insert_rows(session, t, new)

"""Find duplicate candidates for the records a batch touched (DESIGN §4). No Flask.

Runs inside the batch's transaction as an after-batch hook, and after a merge or
an undo. Only touched records are looked at, but a pair's score depends on both
records *and their households* (fellow members), so the focus is widened to
every member of every touched household: a pair is always re-scored when
anything it depends on changed, which makes the queue a function of the
register, not of the order in which batches arrived.

For each focus member the commune's live members sharing a blocking key are
fetched with one query per commune (folded-name key, birth year or BHYT number,
then keys compared in Python), every pair is scored, and the queue is brought up
to date: pairs at or above the threshold are inserted or re-scored, open pairs
that fell below it (or whose record was deleted or merged) leave the queue.
Decided pairs (merged, rejected, undone) are never reopened or re-scored.

Known limit: when a member moves to another household, the pairs of the
household it left are re-scored only when that household is next touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from server.models.duplicates import OPEN, DuplicateCandidate
from server.models.register import Household, Member
from server.sync.duplicates.scoring import (
    DEFAULTS,
    MEMBER_LINK,
    HouseholdSide,
    Person,
    Thresholds,
    block_keys,
    score_households,
    score_members,
)

_M = Member.__table__.c
_H = Household.__table__.c
_COLS = (_M.id, _M.household_id, _M.full_name, _M.sex, _M.birth_date, _M.birth_year,
         _M.ethnicity, _M.bhyt_number, _M.name_key, _M.province_code, _M.commune_code,
         _M.area_code, _M.seq)
_LIVE = (~_M.deleted) & _M.merged_into.is_(None)


@dataclass
class DetectResult:
    members_scored: int = 0
    pairs_scored: int = 0
    open_members: set[tuple[str, str]] = field(default_factory=set)
    open_households: set[tuple[str, str]] = field(default_factory=set)


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _rows(session: Session, where: Any) -> list[Any]:
    return list(session.execute(select(*_COLS).where(where)))


def detect(session: Session, member_ids: Iterable[str], household_ids: Iterable[str],
           thresholds: Thresholds = DEFAULTS) -> DetectResult:
    """Bring the queue up to date for these records (and their households' members)."""
    result = DetectResult()
    touched_m = sorted(set(member_ids))
    focus_h = set(household_ids)
    for chunk in _chunks(touched_m):
        focus_h.update(session.scalars(select(_M.household_id).where(_M.id.in_(chunk))))
    live_h: set[str] = set()
    for chunk in _chunks(sorted(focus_h)):
        live_h.update(session.scalars(select(_H.id).where(
            _H.id.in_(chunk), ~_H.deleted, _H.merged_into.is_(None))))
    focus: dict[str, Any] = {}
    for chunk in _chunks(sorted(live_h)):
        for r in _rows(session, _M.household_id.in_(chunk) & _LIVE):
            focus[r.id] = r
    for chunk in _chunks(touched_m):
        for r in _rows(session, _M.id.in_(chunk) & _LIVE):
            focus[r.id] = r
    result.members_scored = len(focus)
    gone_m = set(touched_m) - set(focus)
    gone_h = focus_h - live_h

    # -- blocking: one query per commune, keys compared here
    rows: dict[str, Any] = dict(focus)
    pairs: set[tuple[str, str]] = set()
    by_commune: dict[str, list[Any]] = defaultdict(list)
    for r in focus.values():
        by_commune[r.commune_code].append(r)
    for commune, members in by_commune.items():
        keys_of = {r.id: block_keys(r.full_name, r.birth_date, r.bhyt_number) for r in members}
        years = sorted({r.birth_year for r in members})
        name_keys = sorted({r.name_key for r in members})
        bhyts = sorted({r.bhyt_number for r in members if r.bhyt_number})
        index: dict[str, list[str]] = defaultdict(list)
        conds = [_M.birth_year.in_(years), _M.name_key.in_(name_keys)]
        if bhyts:
            conds.append(_M.bhyt_number.in_(bhyts))
        for r in _rows(session, (_M.commune_code == commune) & _LIVE & or_(*conds)):
            rows[r.id] = r
            for k in block_keys(r.full_name, r.birth_date, r.bhyt_number):
                index[k].append(r.id)
        for r in members:
            for k in keys_of[r.id]:
                for other in index.get(k, ()):
                    if other != r.id:
                        pairs.add((min(r.id, other), max(r.id, other)))

    # -- fellow members of every household involved
    households = sorted({rows[i].household_id for pair in pairs for i in pair} | live_h)
    names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for chunk in _chunks(households):
        for mid, hid, name in session.execute(select(_M.id, _M.household_id, _M.full_name)
                                              .where(_M.household_id.in_(chunk) & _LIVE)):
            names[hid].append((mid, name))

    def person(r: Any) -> Person:
        fellows = tuple(sorted(n for mid, n in names.get(r.household_id, ()) if mid != r.id))
        return Person(r.id, r.household_id, r.full_name, r.sex, r.birth_date, r.ethnicity,
                      r.bhyt_number, fellows)

    people: dict[str, Person] = {}
    scores: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
    for a, b in sorted(pairs):
        ra, rb = rows[a], rows[b]
        if ra.sex != rb.sex and not (ra.bhyt_number and ra.bhyt_number == rb.bhyt_number):
            continue  # cannot reach any threshold: skip the work
        pa = people.get(a) or people.setdefault(a, person(ra))
        pb = people.get(b) or people.setdefault(b, person(rb))
        scores[(a, b)] = score_members(pa, pb)
    result.pairs_scored = len(scores)

    found_m = {p: s for p, s in scores.items() if s[0] >= thresholds.member}
    _sync_queue(session, "member", set(focus) | gone_m, found_m,
                {p: (rows[p[0]], rows[p[1]]) for p in found_m})
    result.open_members = set(found_m)

    # -- households: scored from their members' pairs
    link = {p: s for p, (s, _) in scores.items() if s >= MEMBER_LINK}
    h_pairs: set[tuple[str, str]] = set()
    for a, b in link:
        ha, hb = rows[a].household_id, rows[b].household_id
        if ha != hb and (ha in live_h or hb in live_h):
            h_pairs.add((min(ha, hb), max(ha, hb)))
    h_rows: dict[str, Any] = {}
    wanted = sorted({h for p in h_pairs for h in p})
    for chunk in _chunks(wanted):
        for r in session.execute(select(_H.id, _H.number, _H.address, _H.province_code,
                                        _H.commune_code, _H.area_code, _H.seq)
                                 .where(_H.id.in_(chunk), ~_H.deleted,
                                        _H.merged_into.is_(None))):
            h_rows[r.id] = r
    found_h: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
    for a, b in sorted(h_pairs):
        if a not in h_rows or b not in h_rows:
            continue
        sides = [HouseholdSide(h, h_rows[h].number, h_rows[h].address,
                               tuple(sorted(mid for mid, _ in names.get(h, ())))) for h in (a, b)]
        score = score_households(sides[0], sides[1], link)
        if score[0] >= thresholds.household:
            found_h[(a, b)] = score
    _sync_queue(session, "household", live_h | gone_h, found_h,
                {p: (h_rows[p[0]], h_rows[p[1]]) for p in found_h})
    result.open_households = set(found_h)
    return result


def _sync_queue(session: Session, kind: str, focus: set[str],
                found: dict[tuple[str, str], tuple[float, dict[str, Any]]],
                places: dict[tuple[str, str], tuple[Any, Any]]) -> None:
    """Insert or re-score found pairs; drop open pairs of the focus that were not found."""
    t = DuplicateCandidate
    existing: dict[tuple[str, str], DuplicateCandidate] = {}
    ids = sorted(focus)
    for chunk in _chunks(ids):
        for c in session.scalars(select(t).where(t.kind == kind,
                                                 or_(t.a_id.in_(chunk), t.b_id.in_(chunk)))):
            existing[(c.a_id, c.b_id)] = c
    for pair in sorted(found):
        if pair not in existing:
            existing.update({(c.a_id, c.b_id): c for c in session.scalars(
                select(t).where(t.kind == kind, t.a_id == pair[0], t.b_id == pair[1]))})
    stale = [c.id for p, c in existing.items() if c.status == OPEN and p not in found]
    for chunk in range(0, len(stale), 500):
        session.execute(delete(t).where(t.id.in_(stale[chunk:chunk + 500])))
    for pair, (score, reasons) in sorted(found.items()):
        ra, rb = places[pair]
        c = existing.get(pair)
        if c is None:
            session.add(t(kind=kind, a_id=pair[0], b_id=pair[1], score=score, reasons=reasons,
                          status=OPEN, province_code=ra.province_code,
                          commune_code=ra.commune_code, area_code=ra.area_code,
                          b_area_code=rb.area_code, a_seq=ra.seq, b_seq=rb.seq))
        elif c.status == OPEN:
            c.score, c.reasons, c.a_seq, c.b_seq = score, reasons, ra.seq, rb.seq
            c.area_code, c.b_area_code = ra.area_code, rb.area_code
    session.flush()

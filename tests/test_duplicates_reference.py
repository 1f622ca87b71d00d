"""Detection, batch by batch, against a straightforward reference (issue 19).

Detection is made cheaper (look-ups shared by a drain, keys built faster); what
it finds must not move. On a labelled commune (persons and households registered
twice, namesakes, twins) loaded area by area, each area detected as a drain
would, the member queue must be exactly what an all-pairs reference gives: every
pair of live members of which one's stored key is among the other's
:func:`window_keys`, scored by :func:`score_members` with its households'
fellows, kept at or above the threshold. The household queue must be what the
whole-commune scan finds. On both databases (their look-ups are sent differently).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from sqlalchemy import select

from server.extensions import db
from server.models.duplicates import OPEN, DuplicateCandidate
from server.models.register import Member
from server.register.bulk import Writer, load_area
from server.sync.duplicates.detect import detect, scan_commune
from server.sync.duplicates.scoring import (
    BLOCK_COLUMNS,
    DEFAULTS,
    NUMBER_COLUMNS,
    Person,
    score_members,
    window_keys,
)
from server.synthetic.duplicates import labelled_set

KEYS = (*BLOCK_COLUMNS, *NUMBER_COLUMNS)


def _reference(commune: str) -> dict[tuple[str, str], float]:
    """Every blocked pair of live members, scored, at or above the member threshold."""
    live = [m for m in db.session.scalars(select(Member).where(Member.commune_code == commune))
            if not m.deleted and m.merged_into is None]
    household: dict[str, list[Member]] = defaultdict(list)
    for m in live:
        household[m.household_id].append(m)
    windows = {m.id: window_keys(m.full_name, m.sex, m.birth_date, m.id_number, m.bhyt_number)
               for m in live}

    def blocked(a: Member, b: Member) -> bool:
        return any(getattr(b, k) is not None and getattr(b, k) in windows[a.id][k]
                   for k in KEYS)

    def person(m: Member) -> Person:
        fellows = tuple(sorted(o.full_name for o in household[m.household_id] if o.id != m.id))
        return Person(m.id, m.household_id, m.full_name, m.sex, m.birth_date, m.ethnicity,
                      m.bhyt_number, fellows, m.id_number)

    people = {m.id: person(m) for m in live}
    out = {}
    for a, b in combinations(sorted(live, key=lambda m: m.id), 2):
        if blocked(a, b) or blocked(b, a):
            score, _ = score_members(people[a.id], people[b.id])
            if score >= DEFAULTS.member:
                out[(a.id, b.id)] = score
    return out


def _queue(kind: str) -> dict[tuple[str, str], tuple[float, dict]]:
    return {(c.a_id, c.b_id): (c.score, c.reasons) for c in db.session.scalars(
        select(DuplicateCandidate).where(DuplicateCandidate.kind == kind,
                                         DuplicateCandidate.status == OPEN))}


def test_area_by_area_detection_is_the_all_pairs_reference(app) -> None:
    labelled = labelled_set(5, households=160)
    with app.app_context():
        writer = Writer("test", 1)
        for area in labelled.areas:  # each area's first upload, then its drain
            load_area(db.session, area, "33", labelled.commune_code, writer)
            db.session.commit()
            detect(db.session, [m["id"] for m in area.members],
                   [h["id"] for h in area.households])
            db.session.commit()
        members, households = _queue("member"), _queue("household")
        reference = _reference(labelled.commune_code)
        assert {p: s for p, (s, _) in members.items()} == reference
        assert len(reference) >= 20  # the labelled set's copies are there to be found
        assert households  # and households registered twice

        scan_commune(db.session, labelled.commune_code)
        db.session.commit()
        assert _queue("member") == members
        assert _queue("household") == households

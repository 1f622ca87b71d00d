"""Properties of duplicate detection and merging (hypothesis).

* scores are symmetric, a record with one clerical error still shares a
  blocking key with the original, and the pairs blocking never compares (birth
  years further apart) or scoring sets aside (:func:`score_ceiling`) could not
  have reached a threshold;
* the review queue does not depend on the order batches arrived in;
* any sequence of merges, rejections and undos, followed by undoing every merge
  (latest first), leaves the register as it started.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from a0core.errors import A0Error
from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.register import Household, Member
from server.models.sync import Alias
from server.security.scope import COMMUNE, Scope
from server.sync.clock import server_clock
from server.sync.duplicates import review
from server.sync.duplicates.scoring import (
    BLOCK_COLUMNS,
    MEMBER_LINK,
    HouseholdSide,
    Person,
    block_columns,
    fellows_in_common,
    score_ceiling,
    score_households,
    score_members,
    window_keys,
)
from server.synthetic.duplicates import reorder, strip_diacritics, typo, wrong_tone
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

NAMES = ["Nguyễn Văn Hùng", "Nguyễn Thị Hương", "Trần Văn Nam", "Lê Thị Lan", "Đỗ Đức Dũng",
         "Hùng Nguyễn Văn", "Nguyen Van Hung", "Phạm Minh Quân", "Hoàng Thị Thuỷ"]
dates = st.one_of(st.dates().map(lambda d: f"{1930 + d.year % 90}-{d:%m-%d}"),
                  st.integers(1930, 2020).map(str))
persons = st.builds(
    Person, id=st.uuids().map(str), household_id=st.sampled_from(["h1", "h2"]),
    full_name=st.sampled_from(NAMES), sex=st.sampled_from(["male", "female"]),
    birth_date=dates, ethnicity=st.sampled_from([None, "kinh", "tay"]),
    bhyt=st.sampled_from([None, "0123456789", "9876543210"]),
    fellows=st.lists(st.sampled_from(NAMES), max_size=3).map(tuple))


@given(persons, persons)
def test_member_scores_are_symmetric(a: Person, b: Person) -> None:
    assert score_members(a, b) == score_members(b, a)
    assert 0.0 <= score_members(a, b)[0] <= 1.0


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("wxyz"),
                          st.floats(0, 1)), max_size=8),
       st.sampled_from(["1", "2", "1.1"]), st.sampled_from(["1", "2"]))
def test_household_scores_are_symmetric(links, na: str, nb: str) -> None:
    pairs = {(x, y): s for x, y, s in links}
    a = HouseholdSide("ha", na, "Thôn Đông", tuple("abcd"))
    b = HouseholdSide("hb", nb, "Thon Dong", tuple("wxyz"))
    assert score_households(a, b, pairs) == score_households(b, a, pairs)


@given(st.sampled_from(NAMES), dates, st.sampled_from(["fold", "tone", "typo", "reorder",
                                                     "spaces", "year_only", "swap"]),
       st.randoms(use_true_random=False))
def test_one_clerical_error_keeps_a_shared_block_key(name: str, born: str, error: str,
                                                    rnd: random.Random) -> None:
    other_name, other_born = name, born
    if error == "fold":
        other_name = strip_diacritics(name)
    elif error == "tone":
        other_name = wrong_tone(name, rnd)
    elif error == "typo":
        other_name = typo(name, rnd)
    elif error == "reorder":
        other_name = reorder(name)
    elif error == "spaces":
        other_name = "  " + name.replace(" ", "   ")
    elif error == "year_only":
        other_born = born[:4]
    elif len(born) == 10:
        other_born = f"{born[:4]}-{born[8:10]}-{born[5:7]}"
    stored = block_columns(other_name, "male", int(other_born[:4]))
    looked_up = window_keys(name, "male", int(born[:4]))
    assert any(stored[column] in looked_up[column] for column in BLOCK_COLUMNS)


@given(persons, persons, st.integers(1, 60))
def test_pairs_the_window_leaves_out_cannot_reach_the_link(a: Person, b: Person,
                                                           gap: int) -> None:
    year = int(a.birth_date[:4]) + gap
    b = Person(b.id, b.household_id, b.full_name, b.sex, f"{year}{b.birth_date[4:]}",
               b.ethnicity, b.bhyt, b.fellows)
    stored = block_columns(b.full_name, b.sex, year)
    looked_up = window_keys(a.full_name, a.sex, int(a.birth_date[:4]))
    assert stored["block_initials"] not in looked_up["block_initials"]
    if a.bhyt and a.bhyt == b.bhyt:
        return  # found by its BHYT number
    if gap > 1:
        assert stored["block_pair"] not in looked_up["block_pair"]
    elif a.household_id != b.household_id and fellows_in_common(a.fellows, b.fellows) >= 2:
        return  # a year apart with two fellows in common: family+given names are looked up
    assert score_members(a, b)[0] < MEMBER_LINK


@given(persons, persons)
def test_the_ceiling_is_never_below_the_score(a: Person, b: Person) -> None:
    score = score_members(a, b)[0]
    assert score <= score_ceiling(a, b)
    assert score <= score_ceiling(a, b, min(len(a.fellows), len(b.fellows)))


# ----------------------------------------------------------------- with the database

_communes = itertools.count(1)

REGISTER = [  # household label, number, [(member label, name, sex, birth)]
    ("H1", "1", [("m1", "Nguyễn Văn Hùng", "male", "1985-03-04")]),
    ("H2", "2", [("m2", "Hung Nguyen Van", "male", "1985-04-03")]),
    ("H3", "3", [("m3", "Nguyễn Văn Hùng", "male", "1985-09-10"),
                 ("m4", "Trần Thị Lan", "female", "1987-01-20")]),
    ("HA", "4", [("a1", "Trần Văn Bình", "male", "1970-02-11"),
                 ("a2", "Lê Thị Mai", "female", "1972-08-30")]),
    ("HB", "17", [("b1", "Tran Van Binh", "male", "1970-11-02"),
                  ("b2", "Lê Thị Mai", "female", "1972"),
                  ("b3", "Trần Thị Lan", "female", "1987")]),
]


def _build(app):
    """A device in a commune of its own, its operations, and id → label."""
    code = f"9{next(_communes):04d}"
    device = SimDevice(app, area=f"{code}.01.1", commune=code)
    label = {}
    for h_label, number, members in REGISTER:
        h = new_id()
        label[h] = h_label
        device.upsert("household", h, household(device.area, number))
        for m_label, name, sex, born in members:
            m = new_id()
            label[m] = m_label
            device.upsert("member", m, member(h, name, sex, born, "other"))
    return code, device, list(device.outbox), label


def _queue(code: str, label: dict[str, str]) -> set[tuple]:
    return {(c.kind, label[c.a_id], label[c.b_id], c.score, c.status) if label[c.a_id] <
            label[c.b_id] else (c.kind, label[c.b_id], label[c.a_id], c.score, c.status)
            for c in db.session.scalars(select(DuplicateCandidate).where(
                DuplicateCandidate.commune_code == code))}


_reference: dict[str, set[tuple]] = {}


# every example works in a commune of its own, so sharing the database is safe
SHARED_DB = [HealthCheck.function_scoped_fixture]


@settings(max_examples=12, suppress_health_check=SHARED_DB)
@given(st.data())
def test_queue_does_not_depend_on_arrival_order(sqlite_app, data) -> None:
    client = sqlite_app.test_client()
    if "one_batch" not in _reference:
        code, device, ops, label = _build(sqlite_app)
        device.send(client, device.seal(ops))
        _reference["one_batch"] = _queue(code, label)
        assert {(k, a, b) for k, a, b, _, _ in _reference["one_batch"]} >= {
            ("member", "m1", "m2"), ("member", "a1", "b1"), ("member", "a2", "b2"),
            ("household", "HA", "HB")}
    code, device, ops, label = _build(sqlite_app)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(ops) - 1), max_size=5)))
    batches = [ops[i:j] for i, j in zip([0, *cuts], [*cuts, len(ops)], strict=True)]
    order = data.draw(st.permutations(range(len(batches))))
    repeat = data.draw(st.booleans())
    for i in order:
        device.send(client, device.seal(batches[i]))
        if repeat:
            device.send(client, device.seal(batches[i]))
    assert _queue(code, label) == _reference["one_batch"]


def _register_state(code: str) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for h in db.session.scalars(select(Household).where(Household.commune_code == code)):
        out[h.id] = (h.data, h.deleted, h.merged_into, h.area_code)
    for m in db.session.scalars(select(Member).where(Member.commune_code == code)):
        out[m.id] = (m.data, m.deleted, m.merged_into, m.household_id, m.area_code)
    return out


@settings(max_examples=12, suppress_health_check=SHARED_DB)
@given(st.lists(st.tuples(st.sampled_from(["merge_a", "merge_b", "reject", "undo"]),
                          st.integers(0, 20)), max_size=8))
def test_merges_and_undos_leave_the_register_as_it_was(sqlite_app, actions) -> None:
    client = sqlite_app.test_client()
    code, device, ops, label = _build(sqlite_app)
    device.send(client, device.seal(ops))
    scope = Scope("user:lan", COMMUNE, code, person_level=True)
    clock = server_clock(sqlite_app)
    start = _register_state(code)
    open_at_start = {(k, a, b) for k, a, b, _, s in _queue(code, label) if s == "open"}
    merged: list[int] = []
    decided: set[tuple] = set()
    for action, index in actions:
        ids = sorted(c.id for c in db.session.scalars(select(DuplicateCandidate).where(
            DuplicateCandidate.commune_code == code)))
        c = db.session.get(DuplicateCandidate, ids[index % len(ids)])
        pair = (c.kind, *sorted((label[c.a_id], label[c.b_id])))
        try:
            if action.startswith("merge"):
                review.merge_candidate(db.session, clock, c.id,
                                       c.a_id if action == "merge_a" else c.b_id,
                                       scope=scope, actor="user:lan")
                merged.append(c.id)
            elif action == "reject":
                review.reject_candidate(db.session, c.id, scope=scope, actor="user:lan")
            else:
                review.undo_merge(db.session, clock, c.id, scope=scope, actor="user:lan")
                merged.remove(c.id)
            decided.add(pair)
        except A0Error:
            pass
    for candidate_id in reversed(merged):
        review.undo_merge(db.session, clock, candidate_id, scope=scope, actor="user:lan")
    assert _register_state(code) == start
    assert not db.session.scalars(select(Alias).where(Alias.commune_code == code,
                                                      Alias.active)).all()
    still_open = {(k, a, b) for k, a, b, _, s in _queue(code, label) if s == "open"}
    assert still_open == open_at_start - decided

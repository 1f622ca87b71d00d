"""Properties of duplicate detection and merging (hypothesis).

* scores are symmetric; adding the right diacritics never lowers a true pair's
  score; twins of one household stay below the threshold;
* a record with one clerical error still shares a blocking key with the original,
  and the pairs blocking never compares could not have reached the household link
  (except what the scoring module documents); the pairs scoring sets aside before
  reading households (:func:`score_ceiling`) could not have reached a threshold;
* the review queue does not depend on the order batches arrived in;
* any sequence of merges, rejections and undos, followed by undoing every merge
  (latest first), leaves the register as it started.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from a0core.errors import A0Error
from server.extensions import db
from server.models.duplicates import DuplicateCandidate
from server.models.register import Household, Member
from server.models.sync import Alias
from server.security.scope import COMMUNE, Scope
from server.sync.clock import server_clock
from server.sync.duplicates import names, review
from server.sync.duplicates.scoring import (
    BLOCK_COLUMNS,
    DEFAULTS,
    MEMBER_LINK,
    NUMBER_COLUMNS,
    HouseholdSide,
    Person,
    block_columns,
    blocked_within,
    fellows_in_common,
    numbers_match,
    score_ceiling,
    score_households,
    score_members,
    window_keys,
)
from server.synthetic.duplicates import (
    abbreviate,
    drop_middle,
    reorder,
    sound_alike,
    strip_diacritics,
    typo,
    wrong_tone,
)
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

NAMES = ["Nguyễn Văn Hùng", "Nguyễn Thị Hương", "Trần Văn Nam", "Lê Thị Lan", "Đỗ Đức Dũng",
         "Hùng Nguyễn Văn", "Nguyen Van Hung", "Phạm Minh Quân", "Hoàng Thị Thuỷ",
         "Trần Thị Ngọc Lan", "Ng. Văn Hùng", "Giàng A Sử", "Sùng Thị Mỷ", "H'Hen Niê",
         "Thạch Sô Phal", "Y Mốt Êban", "A Thút", "Lò Văn Pọm", "Tẩn Tả Mẩy"]
MARKED = [n for n in NAMES if strip_diacritics(n) != n and "." not in n]
KEYS = (*BLOCK_COLUMNS, *NUMBER_COLUMNS)
dates = st.one_of(st.dates().map(lambda d: f"{1930 + d.year % 90}-{d:%m-%d}"),
                  st.integers(1930, 2020).map(str))
numbers = st.sampled_from([None, "001090012345", "001090012354", "036190004512"])
persons = st.builds(
    Person, id=st.uuids().map(str), household_id=st.sampled_from(["h1", "h2"]),
    full_name=st.sampled_from(NAMES), sex=st.sampled_from(["male", "female"]),
    birth_date=dates, ethnicity=st.sampled_from([None, "kinh", "tay"]),
    bhyt=st.sampled_from([None, "0123456789", "9876543210", "HS4010123456789"]),
    fellows=st.lists(st.sampled_from(NAMES), max_size=3).map(tuple), id_number=numbers)


def _with(p: Person, **changes: object) -> Person:
    return Person(**{**p.__dict__, **changes})


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


NAME_ERRORS = {"typo": typo, "sound": sound_alike, "drop_middle": drop_middle,
               "abbreviate": abbreviate, "reorder": lambda n, _: reorder(n),
               "none": lambda n, _: n}


@given(persons, st.sampled_from(MARKED), st.lists(st.sampled_from(sorted(NAME_ERRORS)),
                                                  max_size=2),
       st.sets(st.integers(0, 4)), st.randoms(use_true_random=False))
def test_adding_diacritics_never_lowers_a_true_pairs_score(a: Person, name: str,
                                                           errors: list[str],
                                                           restored: set[int],
                                                           rnd: random.Random) -> None:
    """A copy typed without marks, then with the right marks put back on any of its
    words: each word given back its marks scores at least as high."""
    copy = name
    for error in errors:
        copy = NAME_ERRORS[error](copy, rnd)
    words = copy.split(" ")
    bare = [strip_diacritics(w) for w in words]
    fixed = [w if i in restored else bare[i] for i, w in enumerate(words)]
    original = _with(a, full_name=name)
    without = _with(a, id=a.id + "b", full_name=" ".join(bare), household_id="h2")
    with_marks = _with(without, full_name=" ".join(fixed))
    assert score_members(original, with_marks)[0] >= score_members(original, without)[0]


TWIN_NAMES = ["Nguyễn Thị Mai", "Lò Văn Hùng", "Quách Công Thịnh", "Sùng Thị Mỷ",
              "Lâm Quốc Cường", "Phạm Văn An", "Y Blơm", "Đoàn Thị Hà"]


@given(st.sampled_from(TWIN_NAMES), st.sampled_from(["tone", "sound", "other", "unmarked"]),
       st.dates(dt.date(1930, 1, 1), dt.date(2024, 12, 31)), persons,
       st.randoms(use_true_random=False))
def test_twins_stay_below_the_threshold(name: str, how: str, born: dt.date, like: Person,
                                        rnd: random.Random) -> None:
    """Two children of one household born the same day, the given names apart (by a
    tone, a letter, or wholly), whatever else the records hold, are never proposed."""
    words = name.split(" ")
    given_name = {"tone": lambda: wrong_tone(words[-1], rnd),
                  "sound": lambda: sound_alike(words[-1], rnd),
                  "other": lambda: rnd.choice(["Long", "Phụng", "Khang", "Ngọc"]),
                  "unmarked": lambda: strip_diacritics(wrong_tone(words[-1], rnd))}[how]()
    other = " ".join([*words[:-1], given_name])
    # another name, not the same name with its tone mark on another vowel (Hoà/Hòa)
    assume(names.tokens_agree(names.parse(name).tokens[-1], names.parse(other).tokens[-1])
           != names.SAME)
    a = _with(like, household_id="h1", full_name=name, birth_date=born.isoformat(),
              id_number=None)
    b = _with(a, id=a.id + "t", full_name=other)
    score, reasons = score_members(a, b)
    assert score < DEFAULTS.member, (name, other, reasons)
    assert reasons["household"] == "twins"


@given(st.sampled_from(NAMES), dates,
       st.sampled_from(["fold", "tone", "typo", "reorder", "spaces", "year_only", "swap",
                        "sound", "drop_middle", "abbreviate", "year_off", "days_off",
                        "number"]),
       numbers, st.randoms(use_true_random=False))
def test_one_clerical_error_keeps_a_shared_block_key(name: str, born: str, error: str,
                                                    number: str | None,
                                                    rnd: random.Random) -> None:
    other_name, other_born, other_number = name, born, number
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
    elif error in ("sound", "drop_middle", "abbreviate"):
        other_name = NAME_ERRORS[error](name, rnd)
    elif error == "year_only":
        other_born = born[:4]
    elif error == "number" and number:  # the number alone links a name typed anew
        other_name, other_born = "Lý Thị Khác", "2001"
    elif len(born) == 10:
        day = dt.date.fromisoformat(born)
        if error == "swap":
            other_born = f"{born[:4]}-{born[8:10]}-{born[5:7]}"
        elif error == "year_off" and born[5:] != "02-29":
            other_born = f"{day.year + rnd.choice((-1, 1))}{born[4:]}"
        elif error == "days_off":
            other_born = (day + dt.timedelta(days=rnd.choice((-3, -1, 1, 3)))).isoformat()
    stored = block_columns(other_name, "male", other_born, other_number)
    looked_up = window_keys(name, "male", born, number)
    assert any(stored[column] in looked_up[column] for column in KEYS)


@given(persons, persons, st.integers(1, 60))
def test_pairs_the_window_leaves_out_cannot_reach_the_link(a: Person, b: Person,
                                                           gap: int) -> None:
    """Blocking looks a year either side at most (and at the year with its last digits
    swapped, for a full date): further apart, only an equal number links a pair, and
    nothing else could lift it to the household link."""
    year = int(a.birth_date[:4]) + gap
    b = _with(b, birth_date=f"{year}{b.birth_date[4:]}")
    stored = block_columns(b.full_name, b.sex, b.birth_date, b.id_number, b.bhyt)
    looked_up = window_keys(a.full_name, a.sex, a.birth_date, a.id_number, a.bhyt)
    shared = {c for c in KEYS if stored[c] is not None and stored[c] in looked_up[c]}
    if gap < 2 or shared:
        return  # within the window, or found by a key or a number
    assert (a.number is None or a.number != b.number) and (a.card is None or a.card != b.card)
    if numbers_match(a.number, b.number) != "near":  # a mistyped number alone: documented
        assert score_members(a, b)[0] < MEMBER_LINK


@given(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["male", "female"]),
                          st.one_of(dates, st.sampled_from(["", "1975-06-07", "1957-06-07",
                                                            "1976-07-06"])), numbers),
                min_size=2, max_size=14))
def test_a_whole_commune_scan_pairs_exactly_what_look_ups_find(records) -> None:
    """blocked_within (a scan: stored keys only) finds the pairs the per-record look-ups
    of window_keys find, no more and no fewer (unknown years and swapped years too)."""
    stored = {str(i): block_columns(name, sex, born, number)
              for i, (name, sex, born, number) in enumerate(records)}
    windows = {str(i): window_keys(name, sex, born, number)
               for i, (name, sex, born, number) in enumerate(records)}
    looked_up = {(min(x, y), max(x, y)) for x in windows for y in stored if x != y
                 and any(stored[y][c] is not None and stored[y][c] in windows[x][c]
                         for c in KEYS)}
    assert blocked_within(stored.items()) == looked_up


@given(persons, persons, st.sampled_from([0.3, MEMBER_LINK, DEFAULTS.member, 1.0]))
def test_the_ceiling_is_never_below_the_score(a: Person, b: Person, floor: float) -> None:
    score = score_members(a, b)[0]
    assert score <= score_ceiling(a, b, floor=floor)
    assert score <= score_ceiling(a, b, fellows_in_common(a.fellows, b.fellows), floor)


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

"""The synthetic register: deterministic, valid against the forms, realistic, consistent.

The generator feeds the demo, the tests and every benchmark, so these tests are its
contract: the same seed gives the same bytes, every record passes its form in
``schemas/``, the statistics look like Vietnam's, and the events tell one coherent
story that the register fold (:mod:`a0core.projection`) can replay.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from a0core.errors import ValidationFailed
from a0core.forms import FormSet
from a0core.projection import EventRef, child_from_birth, member_state
from server.synthetic import (
    AreaRegister,
    LocalUnit,
    bhyt_base,
    commune_plan,
    generate_area,
    generate_commune,
    generate_persons,
    local_units,
    scramble_bhyt,
)
from server.synthetic.tables import MODERN_METHODS, province_of

ROOT = Path(__file__).resolve().parents[1]
PERIOD = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
DELTA_COMMUNE = ("12619", "Xã Diên Hà")      # Hưng Yên, Red River delta
SEED = 20250701

Record = dict[str, Any]


def dump(areas: Iterable[AreaRegister]) -> bytes:
    return json.dumps([a.__dict__ for a in areas], ensure_ascii=False).encode()


@cache
def sample() -> tuple[AreaRegister, ...]:
    """About 20,000 persons of one delta commune over one year."""
    return tuple(generate_commune(SEED, *DELTA_COMMUNE, 5800, PERIOD))


@cache
def mixed_sample() -> tuple[AreaRegister, ...]:
    """Communes from the mountains, the highlands, the Mekong and a city ward."""
    communes = [("01267", "Xã Mountain"), ("24118", "Xã Highland"), ("31498", "Xã Mekong"),
                ("00004", "Phường Ba Đình"), ("03124", "Xã Điện Biên")]
    return tuple(generate_persons(SEED, communes, 20_000, (dt.date(2023, 7, 1),
                                                            dt.date(2025, 6, 30))))


def flat(areas: Iterable[AreaRegister], part: str) -> list[Record]:
    return [r for a in areas for r in getattr(a, part)]


def age_at(birth_date: str, day: dt.date) -> int:
    born = dt.date.fromisoformat(birth_date) if len(birth_date) == 10 else dt.date(
        int(birth_date), 7, 1)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_same_bytes() -> None:
    one = dump(generate_commune(7, "12619", "Xã Diên Hà", 400, PERIOD))
    two = dump(generate_commune(7, "12619", "Xã Diên Hà", 400, PERIOD))
    assert one == two
    assert one != dump(generate_commune(8, "12619", "Xã Diên Hà", 400, PERIOD))


def test_same_bytes_in_another_process() -> None:
    """Nothing depends on hash randomisation or on what ran before in the process."""
    code = ("import datetime as dt, hashlib, json; from server.synthetic import generate_commune;"
            "a = list(generate_commune(7, '12619', 'Xã Diên Hà', 300,"
            " (dt.date(2024, 1, 1), dt.date(2024, 12, 31))));"
            "print(hashlib.sha256(json.dumps([x.__dict__ for x in a],"
            " ensure_ascii=False).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    here = hashlib.sha256(dump(generate_commune(7, "12619", "Xã Diên Hà", 300, PERIOD)))
    assert out == here.hexdigest()


def test_an_area_alone_equals_the_same_area_in_its_commune() -> None:
    plans = commune_plan(7, "12619", 900)
    areas = list(generate_commune(7, "12619", "Xã Diên Hà", 900, PERIOD))
    assert [a.area_code for a in areas] == [p.area_code for p in plans]
    plan = plans[len(plans) // 2]
    alone = generate_area(7, plan.area_code, plan.village_code, "Xã Diên Hà", plan.households,
                          PERIOD, village_name=plan.village_name)
    assert dump([alone]) == dump([areas[len(plans) // 2]])


def test_local_units_and_plan() -> None:
    units = local_units("12619", 8, seed=3)
    villages = [u for u in units if u.level == "village"]
    areas = [u for u in units if u.level == "area"]
    assert [v.code for v in villages] == [f"12619.{i:02d}" for i in range(1, 9)]
    assert all(a.parent_code in {v.code for v in villages} for a in areas)
    assert all(a.code.startswith(a.parent_code + ".") for a in areas)
    assert len({v.name for v in villages}) == 8
    assert units == local_units("12619", 8, seed=3)
    # the demo passes villages only: their areas are the ones local_units gives
    plan = commune_plan(3, "12619", 1500, villages=villages)
    assert [p.area_code for p in plan] == [a.code for a in areas]
    assert sum(p.households for p in plan) == 1500
    assert commune_plan(3, "12619", 1500, villages=units) == plan
    mountain = [u.name for u in local_units("03124", 30, seed=1) if u.level == "village"]
    assert any(n.startswith("Bản ") for n in mountain)
    south = [u.name for u in local_units("31498", 10, seed=1) if u.level == "village"]
    assert all(n.startswith(("Ấp ", "Khu phố ")) for n in south)


def test_generate_persons_fills_its_quota_area_by_area() -> None:
    areas = list(generate_persons(5, [("12619", "A"), ("00004", "B")], 3000, PERIOD))
    total = sum(len(a.members) for a in areas)
    assert 3000 <= total < 3000 + 2 * 12
    assert {a.commune_code for a in areas} == {"12619", "00004"}


# -- validity against the forms ---------------------------------------------------------------

FORM_IDS = ("household", "member", "woman_status", "distribution", "birth", "newborn_screening",
            "death", "move_in", "move_out", "change_info", "method_start", "method_stop",
            "method_switch", "pregnancy", "prenatal_screening", "elderly_check", "marriage",
            "divorce")


@cache
def formset() -> FormSet:
    return FormSet()


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_record_is_valid_against_its_form(form_id: str) -> None:
    """The contract between generator and forms: every record passes form version 1."""
    forms = formset()
    assert forms.registry.latest_version(form_id) is not None, f"no form {form_id!r}"
    records = [r for areas in (sample(), mixed_sample()) for a in areas
               for fid, r in a.records() if fid == form_id]
    assert records, f"the generator produced no {form_id} record"
    failures = []
    for record in records:
        try:
            forms.validate(form_id, 1, record)
        except ValidationFailed as exc:
            failures.append((record, [f"{e.code}:{e.params.get('field')}" for e in exc.errors]))
    assert not failures[:5], f"{len(failures)} of {len(records)} {form_id} records invalid"


def test_every_code_used_is_in_its_code_list() -> None:
    """Names the missing codes per code list, which is what a schema author needs."""
    forms = formset()
    reg = forms.registry
    missing: dict[str, set[str]] = collections.defaultdict(set)
    for areas in (sample(), mixed_sample()):
        for a in areas:
            for form_id, record in a.records():
                form = reg.form(form_id)
                if form is None:
                    continue
                for f in form.fields:
                    if f.codelist and f.name in record and reg.codelist(f.codelist).get(
                            record[f.name]) is None:
                        missing[f.codelist].add(record[f.name])
    assert not missing, dict(missing)


# -- realism ------------------------------------------------------------------------------


def test_population_structure_looks_like_vietnam() -> None:
    areas = sample()
    members = flat(areas, "members")
    households = flat(areas, "households")
    start = PERIOD[0]
    base = [m for m in members if m["registered_on"] < start.isoformat()]
    assert 19_000 <= len(members) <= 22_000
    ages = [age_at(m["birth_date"], start) for m in base]
    n = len(base)
    assert 0.20 <= sum(a < 15 for a in ages) / n <= 0.26
    assert 0.07 <= sum(a >= 65 for a in ages) / n <= 0.115
    old = [m["sex"] for m, a in zip(base, ages, strict=True) if a >= 65]
    assert old.count("female") > old.count("male")
    assert 3.0 <= len(members) / len(households) <= 4.2
    sizes = collections.Counter(m["household_id"] for m in members)
    assert max(sizes.values()) <= 11
    assert 0.06 <= sum(v == 1 for v in sizes.values()) / len(households) <= 0.18
    relations = collections.Counter(m["relation"] for m in members)
    assert relations["head"] == len(households)
    for rel in ("spouse", "child", "grandchild", "parent", "child_in_law", "sibling"):
        assert relations[rel] > 0, rel
    assert 0.85 <= sum("bhyt_number" in m for m in members) / len(members) <= 0.95
    born_early = [m for m in base if int(m["birth_date"][:4]) < 1960]
    year_only = sum(len(m["birth_date"]) == 4 for m in born_early) / len(born_early)
    assert 0.10 <= year_only <= 0.20


def test_names_follow_real_frequencies() -> None:
    members = flat(sample(), "members")
    names = [m["full_name"] for m in members]
    surnames = collections.Counter(n.split()[0] for n in names)
    assert 0.33 <= surnames["Nguyễn"] / len(names) <= 0.43
    assert surnames["Trần"] > surnames["Phạm"] > surnames["Đặng"]
    males = [m["full_name"] for m in members if m["sex"] == "male"]
    assert 0.2 <= sum(" Văn " in n for n in males) / len(males) <= 0.6
    females = [m["full_name"] for m in members if m["sex"] == "female"]
    assert 0.35 <= sum(" Thị " in n for n in females) / len(females) <= 0.8
    commune_counts = collections.Counter(names)
    assert commune_counts.most_common(1)[0][1] >= 5   # e.g. "Nguyễn Thị Hương"
    assert commune_counts["Nguyễn Văn Hùng"] >= 3
    given_m = collections.Counter(n.split()[-1] for n in males)
    given_f = collections.Counter(n.split()[-1] for n in females)
    assert len(given_m) >= 60 and len(given_f) >= 60
    # children take their father's family name
    by_id = {m["id"]: m for m in members}
    heads = {m["household_id"]: m for m in members if m["relation"] == "head" and
             m["sex"] == "male"}
    kids = [m for m in members if m["relation"] == "child" and m["household_id"] in heads]
    same = sum(m["full_name"].split()[0] == heads[m["household_id"]]["full_name"].split()[0]
               for m in kids)
    assert same / len(kids) > 0.9
    assert all(by_id[m["mother_id"]]["sex"] == "female" for m in members if "mother_id" in m)


def test_minorities_where_they_live() -> None:
    by_commune: dict[str, collections.Counter[str]] = collections.defaultdict(
        collections.Counter)
    for a in mixed_sample():
        by_commune[province_of(a.commune_code)].update(m["ethnicity"] for m in a.members)
    assert by_commune["01"]["kinh"] / sum(by_commune["01"].values()) > 0.95
    for province in ("04", "66", "94", "11"):
        assert by_commune[province], province
    members = flat(mixed_sample(), "members")
    ethnicities = collections.Counter(m["ethnicity"] for m in members)
    assert len(ethnicities) >= 6
    assert all(e.isascii() and e == e.lower() and " " not in e for e in ethnicities)


def test_births_deaths_and_moves_have_realistic_rates() -> None:
    areas = sample()
    base = [m for m in flat(areas, "members") if m["registered_on"] < PERIOD[0].isoformat()]
    events = collections.Counter(e["form"] for e in flat(areas, "events"))
    n = len(base)
    assert 11 <= 1000 * events["birth"] / n <= 19          # crude birth rate ≈ 15 ‰
    assert 4.5 <= 1000 * events["death"] / n <= 9          # crude death rate ≈ 6.5 ‰
    assert 3 <= 1000 * events["marriage"] / n <= 12
    assert 0 < events["divorce"] < events["marriage"]
    assert 5 <= 1000 * events["move_out"] / n <= 25
    assert 5 <= 1000 * events["move_in"] / n <= 25
    for form in ("pregnancy", "prenatal_screening", "newborn_screening", "elderly_check",
                 "change_info", "method_start", "method_stop", "method_switch"):
        assert events[form] > 0, form
    births = [e for e in flat(areas, "events") if e["form"] == "birth"]
    third = sum(e["birth_order"] >= 3 for e in births) / len(births)
    assert 0.05 <= third <= 0.25


def test_sex_ratio_at_birth_is_about_111() -> None:
    """Needs many births: 150,000 persons over three years give about 6,500, enough
    for a standard error of ≈ 0.027 on the ratio."""
    areas = generate_persons(SEED + 1, [DELTA_COMMUNE, ("13285", "Xã Hà Nam"),
                                        ("14755", "Xã Thanh Hóa")], 150_000,
                             (dt.date(2022, 1, 1), dt.date(2024, 12, 31)))
    births = [e for a in areas for e in a.events if e["form"] == "birth"]
    sexes = collections.Counter(e["sex"] for e in births)
    assert sum(sexes.values()) > 5000
    assert 1.05 <= sexes["male"] / sexes["female"] <= 1.17
    third = collections.Counter(e["sex"] for e in births if e["birth_order"] >= 3)
    assert third["male"] / third["female"] > sexes["male"] / sexes["female"]


def test_contraceptive_prevalence_among_married_women() -> None:
    areas = sample()
    status = flat(areas, "woman_status")
    members = {m["id"]: m for m in flat(areas, "members")}
    assert 0.14 <= len(status) / len(members) <= 0.22
    modern = sum(s["current_method"] in MODERN_METHODS for s in status) / len(status)
    assert 0.60 <= modern <= 0.75
    methods = collections.Counter(s["current_method"] for s in status)
    top = [m for m, _ in methods.most_common(4) if m != "none"][:3]
    assert set(top) == {"iud", "pill", "condom"}
    # …and at the end of the period, after every method event
    state = end_states(areas)
    married = [mid for mid, s in state.items() if members.get(mid, {}).get("sex") == "female"
               and s["marital_status"] == "married" and s["residence_status"] in
               ("present", "temporary") and 15 <= age_at(members[mid]["birth_date"],
                                                           PERIOD[1]) <= 49]
    modern_end = sum(state[m]["current_method"] in MODERN_METHODS for m in married)
    assert 0.60 <= modern_end / len(married) <= 0.75


def test_distributions_go_to_users_of_the_method() -> None:
    areas = sample()
    dist = flat(areas, "distributions")
    assert dist
    methods = collections.Counter(d["method"] for d in dist)
    assert methods["pill"] and methods["condom"] and methods["emergency_pill"]
    for d in dist:
        assert d["quantity"] >= 1
        assert PERIOD[0].isoformat() <= d["distributed_on"] <= PERIOD[1].isoformat()
    # a pill or condom hand-out goes to a woman using that method on that day
    timelines = method_timelines(areas)
    for d in dist:
        if d["method"] in ("pill", "condom") and "member_id" in d:
            assert method_on(timelines[d["member_id"]], d["distributed_on"]) == d["method"]


# -- internal consistency --------------------------------------------------------------------


def method_timelines(areas: Sequence[AreaRegister]) -> dict[str, list[tuple[str, str]]]:
    """(date, method) changes per woman: her status record, then her method events."""
    out: dict[str, list[tuple[str, str]]] = {}
    for a in areas:
        for s in a.woman_status:
            out[s["member_id"]] = [(s["recorded_on"], s["current_method"])]
        for e in a.events:
            if e["form"] in ("method_start", "method_switch"):
                out[e["member_id"]].append((e["event_date"], e["method"]))
            elif e["form"] == "method_stop":
                out[e["member_id"]].append((e["event_date"], "none"))
    return out


def method_on(timeline: list[tuple[str, str]], day: str) -> str:
    current = "none"
    for when, method in timeline:
        if when <= day:
            current = method
    return current


def end_states(areas: Sequence[AreaRegister]) -> dict[str, dict[str, Any]]:
    """Every member's state after the period, folded by :mod:`a0core.projection`."""
    states: dict[str, dict[str, Any]] = {}
    for a in areas:
        members = {m["id"]: dict(m) for m in a.members}
        for s in a.woman_status:
            members[s["member_id"]].update({k: v for k, v in s.items() if k != "member_id"})
        own: dict[str, list[EventRef]] = collections.defaultdict(list)
        for e in a.events:
            record = {k: v for k, v in e.items() if k != "form"}
            if e["form"] == "birth":
                child = child_from_birth(record, members[e["member_id"]])
                members[child["id"]] = child
            own[e["member_id"]].append(EventRef(e["form"], record, 1, "synthetic"))
        child_deaths: dict[str, list[EventRef]] = collections.defaultdict(list)
        for m in members.values():
            if m.get("mother_id"):
                child_deaths[m["mother_id"]] += [x for x in own[m["id"]] if x.form == "death"]
        clocks = {}
        for mid, data in members.items():
            clocks = {k: [1, "synthetic"] for k in data}
            states[mid] = member_state(mid, data, clocks, own[mid], child_deaths[mid])
            states[mid]["_data"] = data
    return states


def test_ids_and_bhyt_numbers_are_unique() -> None:
    areas = sample() + mixed_sample()
    ids = [r["id"] for a in areas for part in ("households", "members", "events", "distributions")
           for r in getattr(a, part)]
    ids += [e["child_id"] for a in areas for e in a.events if e["form"] == "birth"]
    assert len(ids) == len(set(ids))
    numbers = [m["bhyt_number"] for a in areas for m in a.members if "bhyt_number" in m]
    numbers += [e["bhyt_number"] for a in areas for e in a.events if "bhyt_number" in e]
    assert len(numbers) == len(set(numbers))
    assert all(len(n) == 10 and n.isdigit() for n in numbers)
    numbers_by_household = [h["number"] for a in areas for h in a.households]
    per_area = collections.Counter((a.area_code, h["number"]) for a in areas
                                   for h in a.households)
    assert max(per_area.values()) == 1 and any("." in n for n in numbers_by_household)


def test_bhyt_numbers_are_a_bijection_of_distinct_slots() -> None:
    assert len({scramble_bhyt(i) for i in range(0, 10**10, 9_999_991)}) == 1001
    assert len({scramble_bhyt(i) for i in range(200_000)}) == 200_000
    bases = {bhyt_base(f"{c}.{v:02d}.{a}") for c in ("00001", "12619", "32248")
             for v in range(1, 100) for a in (1, 2, 3)}
    assert len(bases) == 3 * 99 * 3
    assert max(bases) < 10**10


def check_consistency(areas: Sequence[AreaRegister], period: tuple[dt.date, dt.date]) -> None:
    start, end = (d.isoformat() for d in period)
    for a in areas:
        households = {h["id"]: h for h in a.households}
        members = {m["id"]: m for m in a.members}
        status = {s["member_id"]: s for s in a.woman_status}
        for h in a.households:
            assert h["area_code"] == a.area_code and h["village_code"] == a.village_code
            head = members[h["head_member_id"]]
            assert head["household_id"] == h["id"] and head["relation"] == "head"
        for m in a.members:
            assert m["household_id"] in households
            assert m["birth_date"][:4] <= m["registered_on"][:4]
            if len(m["birth_date"]) == 10:
                assert m["birth_date"] <= m["registered_on"]
            if "mother_id" in m:
                mother = members[m["mother_id"]]
                assert mother["household_id"] == m["household_id"]
                assert mother["sex"] == "female"
                assert mother["birth_date"][:4] < m["birth_date"][:4]
        for mid, s in status.items():
            w = members[mid]
            assert w["sex"] == "female" and w["marital_status"] in ("married", "single")
            assert 15 <= age_at(w["birth_date"], dt.date.fromisoformat(s["recorded_on"])) <= 50
            assert s["recorded_on"] >= w["registered_on"]
            assert ("method_start" in s) == (s["current_method"] != "none")
            assert s.get("method_start", "") <= s["recorded_on"]
            if "husband_id" in s:
                husband = members[s["husband_id"]]
                assert husband["sex"] == "male" and husband["household_id"] == w["household_id"]
        born: dict[str, str] = {}     # child id -> birth date
        ended: dict[str, str] = {}    # member id -> date of death or moving out
        current = {mid: s["current_method"] for mid, s in status.items()}
        marital = {mid: m["marital_status"] for mid, m in members.items()}
        for e in a.events:             # sorted by date; a birth precedes its child's events
            day, form, mid = e["event_date"], e["form"], e["member_id"]
            assert start <= day <= end, e
            if mid in members:
                m = members[mid]
                assert e["household_id"] == m["household_id"]
                assert day >= m["registered_on"], e
            else:
                assert mid in born and day > born[mid], e
            assert mid not in ended, (e, ended.get(mid))
            if form == "birth":
                assert mid in status and members[mid]["sex"] == "female"
                assert e["child_id"] not in members and e["child_id"] not in born
                born[e["child_id"]] = day
                assert e["birth_order"] >= 1
            elif form in ("death", "move_out"):
                ended[mid] = day
            elif form == "move_in":
                m = members[mid]
                assert (m["registered_on"] == day and m["residence_status"] == e["residence_type"]
                        ) or m["residence_status"] == "absent", e
            elif form == "marriage":
                assert marital[mid] == "single", e
                marital[mid] = "married"
                if "spouse_id" in e:
                    spouse = members[e["spouse_id"]]
                    assert spouse["marital_status"] == "married"
                    assert spouse["registered_on"] >= day
            elif form == "divorce":
                assert marital[mid] == "married"
                marital[mid] = "divorced"
                assert e["spouse_id"] in members
            elif form == "method_start":
                assert current[mid] == "none", e
                current[mid] = e["method"]
            elif form == "method_stop":
                assert current[mid] == e["method"] and e["method"] != "none", e
                current[mid] = "none"
            elif form == "method_switch":
                assert current[mid] == e["from_method"] != e["method"], e
                current[mid] = e["method"]
            elif form == "pregnancy":
                assert mid in status
                if e["outcome"] == "pregnant":
                    assert e["expected_date"] > day
                    assert current[mid] == "none", e
            elif form == "newborn_screening":
                assert mid in born
            elif form == "elderly_check":
                assert age_at(members[mid]["birth_date"], dt.date.fromisoformat(day)) >= 60
        # a move out of a whole household takes its newborns along; nobody returns
        for mid in ended:
            assert not any(e["member_id"] == mid and e["event_date"] > ended[mid]
                           for e in a.events)


def test_events_tell_one_consistent_story() -> None:
    check_consistency(sample(), PERIOD)
    check_consistency(mixed_sample(), (dt.date(2023, 7, 1), dt.date(2025, 6, 30)))


def test_the_fold_of_the_events_is_coherent() -> None:
    """Replaying every area through the projection gives a sensible end state."""
    for areas in (sample(), mixed_sample()):
        states = end_states(areas)
        events = [e for a in areas for e in a.events]
        deaths = {e["member_id"] for e in events if e["form"] == "death"}
        outs = {e["member_id"] for e in events if e["form"] == "move_out"}
        for mid, s in states.items():
            assert (s["residence_status"] == "deceased") == (mid in deaths)
            if s["residence_status"] == "moved_out":
                assert mid in outs
            if s["living_children"] is not None:
                assert s["living_children"] >= 0
            if s["pregnant"]:
                assert s["residence_status"] in ("present", "temporary", "moved_out")
                assert s["_data"]["sex"] == "female"
        births = [e for e in events if e["form"] == "birth"]
        for e in births:
            assert states[e["child_id"]]["_data"]["mother_id"] == e["member_id"]


def test_move_in_households_are_new_and_registered_on_arrival() -> None:
    areas = sample()
    arrivals = [e for e in flat(areas, "events") if e["form"] == "move_in"]
    members = {m["id"]: m for m in flat(areas, "members")}
    new = [e for e in arrivals if members[e["member_id"]]["registered_on"] == e["event_date"]]
    assert new and len(new) < len(arrivals)   # and some absent members came back
    assert all(PERIOD[0].isoformat() <= members[e["member_id"]]["registered_on"] for e in new)


def test_villages_given_by_the_caller_are_used() -> None:
    villages = [LocalUnit("12619.01", "Thôn Đông", "village", "12619"),
                LocalUnit("12619.02", "Thôn Đoài", "village", "12619")]
    areas = list(generate_commune(1, "12619", "Xã Diên Hà", 120, PERIOD, villages=villages))
    assert {a.village_code for a in areas} == {"12619.01", "12619.02"}
    assert sum(len(a.households) for a in areas) == 120
    addresses = [h["address"] for a in areas for h in a.households]
    assert any("Thôn Đông" in x for x in addresses) and any("Thôn Đoài" in x for x in addresses)
    assert all(a.collaborator_name for a in areas)

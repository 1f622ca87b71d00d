"""The register state is the fold of its events, whatever order they arrive in."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from a0core.projection import (
    EventRef,
    child_from_birth,
    initial_state,
    member_state,
)

MOTHER = "11111111-1111-4111-8111-111111111111"
HOUSEHOLD = "22222222-2222-4222-8222-222222222222"
DEVICES = ["dev-a", "dev-b", "dev-c"]
METHODS = ["iud", "pill", "condom", "injectable", "implant"]


def event(form: str, day: str, hlc: int = 1, device: str = "dev-a", **fields) -> EventRef:
    record = {"id": f"{form}-{day}-{hlc}-{device}", "household_id": HOUSEHOLD,
              "member_id": MOTHER, "event_date": day, **fields}
    return EventRef(form, record, hlc, device)


BASE = {"household_id": HOUSEHOLD, "full_name": "Trần Thị Lan", "sex": "female",
        "residence_status": "present", "marital_status": "married",
        "registered_on": "2025-01-01", "recorded_on": "2025-01-01",
        "current_method": "iud", "method_start": "2020-05-01", "living_children": 2}
CLOCKS = {name: [1, "dev-a"] for name in BASE}


def state(events, child_deaths=(), base=BASE):
    return member_state(MOTHER, base, CLOCKS, events, child_deaths)


def test_base_record_alone() -> None:
    s = state([])
    assert (s["residence_status"], s["marital_status"], s["current_method"],
            s["living_children"], s["pregnant"]) == ("present", "married", "iud", 2, False)


def test_birth_adds_a_living_child_and_ends_the_pregnancy() -> None:
    s = state([event("pregnancy", "2025-03-01", outcome="pregnant", expected_date="2025-11-01"),
               event("birth", "2025-10-20", child_id="c1", sex="male", birth_order=3)])
    assert s["living_children"] == 3 and s["pregnant"] is False and s["expected_date"] is None


def test_child_death_counts_against_the_mother() -> None:
    death = event("death", "2025-12-01")
    s = state([event("birth", "2025-10-20", child_id="c1", sex="male", birth_order=3)], [death])
    assert s["living_children"] == 2


def test_status_recorded_later_supersedes_earlier_events() -> None:
    later = dict(BASE, recorded_on="2025-06-01", living_children=4, current_method="pill")
    s = state([event("birth", "2025-03-01", child_id="c1", sex="female", birth_order=3),
               event("method_stop", "2025-04-01", method="iud", reason="want_child")], base=later)
    assert s["living_children"] == 4 and s["current_method"] == "pill"


def test_method_changes_follow_the_change_slip() -> None:
    s = state([event("method_stop", "2025-02-01", method="iud", reason="want_child"),
               event("method_start", "2025-08-01", method="implant", source="health_station")])
    assert (s["current_method"], s["method_start"]) == ("implant", "2025-08-01")
    s = state([event("method_switch", "2025-02-01", from_method="iud", method="pill")])
    assert (s["current_method"], s["method_start"]) == ("pill", "2025-02-01")


def test_death_is_final_for_residence() -> None:
    s = state([event("death", "2025-05-01"), event("move_out", "2025-06-01", to_scope="abroad")])
    assert s["residence_status"] == "deceased" and s["death_date"] == "2025-05-01"
    assert s["moved_out_on"] is None


def test_move_out_and_back() -> None:
    s = state([event("move_out", "2025-02-01", to_scope="other_province"),
               event("move_in", "2025-09-01", from_scope="other_province",
                     residence_type="present")])
    assert s["residence_status"] == "present" and s["moved_out_on"] is None


def test_child_from_birth_takes_household_mother_and_relation() -> None:
    birth = {"id": "e1", "household_id": HOUSEHOLD, "member_id": MOTHER,
             "event_date": "2025-10-20", "child_id": "c1", "sex": "male", "birth_order": 1}
    child = child_from_birth(birth, {"relation": "child_in_law", "ethnicity": "tay"})
    assert child["relation"] == "grandchild" and child["ethnicity"] == "tay"
    assert child["mother_id"] == MOTHER and child["birth_date"] == "2025-10-20"
    assert child["residence_status"] == "present" and child["marital_status"] == "single"


def test_initial_state_has_every_field() -> None:
    assert set(initial_state()) >= {"residence_status", "living_children", "pregnant"}


_days = st.dates(min_value=__import__("datetime").date(2024, 1, 1),
                 max_value=__import__("datetime").date(2026, 6, 30)).map(str)


@st.composite
def random_event(draw) -> EventRef:
    form = draw(st.sampled_from(["birth", "death", "move_in", "move_out", "marriage",
                                 "divorce", "method_start", "method_stop", "method_switch",
                                 "pregnancy", "elderly_check"]))
    fields = {
        "birth": lambda: {"child_id": draw(st.uuids()).hex, "sex": "female", "birth_order": 1},
        "move_in": lambda: {"residence_type": draw(st.sampled_from(["present", "temporary"]))},
        "move_out": lambda: {"to_scope": "abroad"},
        "method_start": lambda: {"method": draw(st.sampled_from(METHODS))},
        "method_switch": lambda: {"from_method": "iud", "method": draw(st.sampled_from(METHODS))},
        "method_stop": lambda: {"method": "iud", "reason": "other"},
        "pregnancy": lambda: {"outcome": draw(st.sampled_from(["pregnant", "miscarriage"]))},
    }.get(form, dict)()
    # small hlc range and few devices: ties on date and clock must still be ordered
    return event(form, draw(_days), draw(st.integers(1, 3)), draw(st.sampled_from(DEVICES)),
                 **fields)


@settings(max_examples=300)
@given(events=st.lists(random_event(), max_size=25, unique_by=lambda e: e.record["id"]),
       deaths=st.lists(random_event(), max_size=3, unique_by=lambda e: e.record["id"]),
       seed=st.integers(0, 2**32 - 1))
def test_any_arrival_order_gives_the_same_state(events, deaths, seed) -> None:
    expected = state(events, deaths)
    shuffled, shuffled_deaths = list(events), list(deaths)
    rng = random.Random(seed)
    rng.shuffle(shuffled)
    rng.shuffle(shuffled_deaths)
    assert state(shuffled, shuffled_deaths) == expected
    # delivering an event twice must not be able to change a correct store's input:
    # the store keeps events by id, so duplicates collapse before the fold
    deduped = list({e.record["id"]: e for e in shuffled + events}.values())
    assert state(deduped, shuffled_deaths) == expected

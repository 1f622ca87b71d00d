"""A month in which nothing happens: its stocks are the previous month's, one month older.

Hypothesis builds a small register — people with full or year-only birth dates,
registered (or not) on various days, married women with a method, and a few
dated events (deaths, moves, marriages, method starts, changes of household) —
and delivers its batches in any order (a later batch overtaking an earlier one,
so events wait for their people). Then, for every month of the window in which no
fact is dated (no event, registration, woman status or birth), the stocks must be
those of the month before with everyone one month older: the same people, the
same households, some of them in the next age group, women leaving or entering
15–49. The people counted at the end of the month before come from the test's own
replay of its records, checked against the stored cell of that month first.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.extensions import db
from server.models.rollups import RollupCell
from server.rollups.jobs import full_recompute
from tests.support.register import household, new_id
from tests.support.sim import SimDevice

MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
DAYS = ["2025-02-14", "2025-02-28", "2025-05-01", "2025-05-31", "2025-08-09", "2025-11-30"]
BIRTHS = ["1975-06-10", "1975-07-31", "1965-09-30", "1965", "2010-03-31", "2010-12-01",
          "1990-01-15", "2020-10-20", "1960-08-08"]
STOCKS = ("population", "women_married_15_49", "users", "households", "population.60plus")
_areas = itertools.count(1)
CI = os.environ.get("CI") == "true"


def _age(birth: str, month: str) -> int:
    b_month = int(birth[5:7]) if len(birth) >= 7 else 1
    return int(month[:4]) - int(birth[:4]) - (1 if b_month > int(month[5:7]) else 0)


def _counted(people: dict, events: list[dict], month: str) -> list[dict]:
    """(person, household, married woman's method or None) of everyone counted at the
    end of ``month``, by replaying the test's own records: the person's record as at
    its registration date, the woman's status as at its own date, then the events;
    facts of one day in the order they were written."""
    day = f"{month}-31"
    out = []
    for pid, p in people.items():
        if p["birth_date"] > day or p.get("registered_on", "") > day:
            continue
        state = {"residence": None, "marital": None, "method": None, "household": None}
        facts = [(p.get("registered_on", ""), 0, "record", p)]
        if "method" in p:
            facts.append((p["recorded_on"], 1, "woman", p))
        facts += [(e["event_date"], 2 + i, e["form"], e) for i, e in enumerate(events)
                  if e["member_id"] == pid]
        for date, _, form, e in sorted(facts, key=lambda f: (f[0], f[1])):
            if date > day:
                break
            gone = state["residence"] == "deceased"
            if form == "record":
                state.update(residence=e["residence_status"], marital=e["marital_status"],
                             household=e["household_id"])
            elif form == "woman":
                state["method"] = e["method"]
            elif form == "death":
                state["residence"] = "deceased"
            elif form == "move_out" and not gone:
                state["residence"] = "moved_out"
            elif form == "move_in" and not gone:
                state["residence"] = "present"
            elif form == "marriage":
                state["marital"] = "married"
            elif form == "method_start":
                state["method"] = e["method"]
            elif form == "household_change":
                state["household"] = e["to_household_id"]
        if state["residence"] in ("present", "temporary"):
            woman = p["sex"] == "female" and state["marital"] == "married"
            out.append({**p, "household": state["household"],
                        "woman_method": (state["method"] or "none") if woman else None})
    return out


def _stocks(counted: list[dict], month: str) -> dict[str, int]:
    out: Counter = Counter()
    for p in counted:
        age = _age(p["birth_date"], month)
        out["population"] += 1
        group = "100+" if age >= 100 else f"{age // 5 * 5:02d}-{age // 5 * 5 + 4:02d}"
        out[f"population.{p['sex']}.{group}"] += 1
        out["population.60plus"] += age >= 60
        if p["woman_method"] is not None and 15 <= age <= 49:
            out["women_married_15_49"] += 1
            out["users"] += p["woman_method"] != "none"
    out["households"] = len({p["household"] for p in counted})
    return {k: v for k, v in out.items() if v}


def _stored(values: dict) -> dict[str, int]:
    return {k: v for k, v in values.items()
            if k in STOCKS or (k.startswith("population.") and k.count(".") == 2)}


def _examples(default: int) -> int:
    return int(os.environ.get("A0SYNC_PROPERTY_EXAMPLES", 3 * default if CI else default))


def _surely_15_to_49(born: str, day: str) -> bool:
    """Whether a woman born ``born`` (a year alone: any day of it) is 15 to 49 on ``day``,
    as schemas/applicability.json asks of woman_status."""
    years = int(day[:4]) - int(born[:4])
    if len(born) == 4:
        return years - 1 >= 15 and years <= 49
    age = years - (day[5:] < born[5:])
    return 15 <= age <= 49


LIVING = ("death", "move_out", "marriage", "method_start")  # their subject must be living


def _applicable(planned: list[dict], people: dict) -> list[dict]:
    """The events the server accepts in any order of delivery (schemas/applicability.json,
    read independently): none of the forms for the living dated after the person's first
    death or move-out (a move-in back is not counted on: conservative), a method start
    only for a woman surely 15 to 49, a marriage only from 12."""
    kept, gone = set(), {}
    for e in sorted(planned, key=lambda e: e["event_date"]):  # stable: a day in written order
        p, day, form = people[e["member_id"]], e["event_date"], e["form"]
        if form in LIVING and gone.get(e["member_id"], day) < day:
            continue
        if form == "method_start" and not (p["sex"] == "female"
                                           and _surely_15_to_49(p["birth_date"], day)):
            continue
        if form == "marriage" and int(day[:4]) - int(p["birth_date"][:4]) - 1 < 12:
            continue
        if form in ("death", "move_out"):
            gone.setdefault(e["member_id"], day)
        kept.add(e["id"])
    return [e for e in planned if e["id"] in kept]


@settings(max_examples=_examples(15),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_quiet_month_is_the_month_before_aged_sqlite(sqlite_app, data) -> None:
    check_quiet_months(sqlite_app, data)


@settings(max_examples=_examples(4),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_quiet_month_is_the_month_before_aged_postgresql(postgresql_app, data) -> None:
    check_quiet_months(postgresql_app, data)


def check_quiet_months(app, data) -> None:
    area = f"12619.q{next(_areas)}"  # one database for every example: an area each
    device = SimDevice(app, area=area)
    homes = [new_id(), new_id()]
    for n, hh in enumerate(homes):
        device.upsert("household", hh, household(area, str(n + 1)))
    people: dict[str, dict] = {}
    for _ in range(data.draw(st.integers(2, 7))):
        pid, born = new_id(), data.draw(st.sampled_from(BIRTHS))
        record = {"household_id": data.draw(st.sampled_from(homes)), "full_name": "Lò Văn An",
                  "relation": "other_relative", "sex": data.draw(st.sampled_from(
                      ["male", "female"])), "birth_date": born, "ethnicity": "kinh",
                  "marital_status": data.draw(st.sampled_from(["married", "single"])),
                  "residence_status": data.draw(st.sampled_from(["present", "temporary",
                                                                 "absent"]))}
        registered = data.draw(st.sampled_from([None, "2024-03-03", *DAYS]))
        if registered and registered[:4] >= born[:4]:
            record["registered_on"] = registered
        device.upsert("member", pid, record)
        people[pid] = dict(record)
        if record["sex"] == "female" and data.draw(st.booleans()):
            method = data.draw(st.sampled_from(["none", "pill", "iud"]))
            status = {"member_id": pid, "recorded_on": data.draw(st.sampled_from(
                ["2024-06-01", *DAYS])), "current_method": method, "living_children": 1}
            if method != "none":
                status["method_start"] = "2024-01-01"
            if _surely_15_to_49(born, status["recorded_on"]):  # else not_applicable
                device.upsert("woman_status", pid, status)
                people[pid].update(method=method, recorded_on=status["recorded_on"])
    planned = []
    for _ in range(data.draw(st.integers(0, 5))):
        who = data.draw(st.sampled_from(list(people)))  # written order: draws never vary
        form = data.draw(st.sampled_from(["death", "move_out", "move_in", "marriage",
                                          "method_start", "household_change"]))
        extra = {"death": {"cause_group": "disease"}, "move_out": {"to_scope": "abroad"},
                 "move_in": {"from_scope": "abroad", "residence_type": "present"},
                 "marriage": {}, "method_start": {"method": "implant", "source": "ctv"},
                 "household_change": {"to_household_id": homes[0], "reason": "join"}}[form]
        if form == "household_change" and people[who]["household_id"] == homes[0]:
            extra["to_household_id"] = homes[1]
        planned.append({"id": new_id(), "household_id": people[who]["household_id"],
                        "member_id": who, "event_date": data.draw(st.sampled_from(DAYS)),
                        **extra, "form": form})
    events = _applicable(planned, people)
    for event in events:
        device.event(event["form"], {k: v for k, v in event.items() if k != "form"})

    # batches of consecutive operations, delivered in any order
    ops = list(device.outbox)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(ops) - 1), max_size=3)))
    batches = [ops[i:j] for i, j in zip([0, *cuts], [*cuts, len(ops)], strict=True)]
    random.Random(data.draw(st.integers(0, 999))).shuffle(batches)
    client = app.test_client()
    for batch in batches:
        assert "receipt" in device.send(client, device.seal(batch))
    full_recompute(db.session, months=MONTHS)
    cells = {c.month: c.values for c in db.session.scalars(
        select(RollupCell).where(RollupCell.unit_code == area))}

    dated = {e["event_date"][:7] for e in events}
    dated |= {p[k][:7] for p in people.values() for k in ("registered_on", "recorded_on",
                                                          "birth_date") if len(p.get(k, "")) >= 7}
    quiet = [m for m in MONTHS[1:] if m not in dated]
    for month in quiet:
        before = MONTHS[MONTHS.index(month) - 1]
        counted = _counted(people, events, before)
        assert _stored(cells[before]) == _stocks(counted, before), before  # the replay agrees
        assert _stored(cells[month]) == _stocks(counted, month), month     # aged, nobody else

"""Roll-ups equal an independent count from the raw synthetic records, exactly.

A small commune of three collaborator areas is generated for 2025, edited with the
edge cases the definitions must get right, loaded, recomputed, and every cell of
every level compared with :mod:`tests.support.rollup_oracle` (plain Python over
the generator's records). Edge cases: a birth on the last day of a month, women
turning 15 and 50 within a month, a move out and back, a merged person and a
merged household, and an event voided through the real sync path.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections import defaultdict

from sqlalchemy import delete, select, update

from a0core.hlc import HybridClock
from server.extensions import db
from server.models.orgunits import OrgTree, OrgUnit
from server.models.register import Household, Member
from server.models.rollups import RollupCell
from server.register.bulk import Writer, load_area
from server.rollups.jobs import full_recompute
from server.rollups.parallel import shards
from server.synthetic import generate_area
from tests.support.register import new_id
from tests.support.rollup_oracle import Raw, area_cells, derived
from tests.support.sim import SimDevice

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
AREAS = [("12619.01.1", "12619.01", 45), ("12619.01.2", "12619.01", 35),
         ("12619.02.1", "12619.02", 40)]


def _tree(session) -> None:
    session.add(OrgTree(name="t", title="test", levels=["province", "commune"], source="test",
                        current=True))
    session.flush()
    rows = [("33", "province", None, "/33/", None), ("12619", "commune", "33", "/33/12619/",
                                                     "12619")]
    for village in ("12619.01", "12619.02"):
        rows.append((village, "village", "12619", f"/33/12619/{village}/", "12619"))
    for area, village, _ in AREAS:
        rows.append((area, "area", village, f"/33/12619/{village}/{area}/", "12619"))
    ids: dict[str, int] = {}
    for depth, (code, level, parent, path, commune) in enumerate(rows):
        unit = OrgUnit(tree="t", code=code, level=level, depth=depth, name=code, full_name=code,
                       parent_id=ids.get(parent or ""), path=path, province_code="33",
                       commune_code=commune)
        session.add(unit)
        session.flush()
        ids[code] = unit.id


def _woman(household_id: str, born: str, method: str) -> tuple[dict, dict]:
    mid = new_id()
    member = {"id": mid, "household_id": household_id, "full_name": "Lò Thị Test",
              "relation": "other_relative", "sex": "female", "birth_date": born,
              "ethnicity": "kinh", "marital_status": "married", "residence_status": "present",
              "registered_on": "2024-01-01"}
    status = {"member_id": mid, "recorded_on": "2024-06-01", "current_method": method,
              "method_start": "2024-06-01", "living_children": 1}
    return member, status


def _edited_areas(raw: Raw) -> tuple[list, dict[str, str]]:
    """Generate the areas and add the edge cases to their raw records."""
    areas = [generate_area(7, code, village, "Xã Diên Hà", n, PERIOD)
             for code, village, n in AREAS]
    first = areas[0]
    hh = first.households[0]["id"]
    eventful = {e["member_id"] for e in first.events}
    mothers = [m for m in first.members if m["sex"] == "female"
               and m["marital_status"] == "married" and "1985" < m["birth_date"] < "2000"]
    birth = {"form": "birth", "id": new_id(), "household_id": mothers[0]["household_id"],
             "member_id": mothers[0]["id"], "event_date": "2025-03-31", "child_id": new_id(),
             "sex": "female", "birth_order": 3, "place_of_birth": "hospital"}
    teen, teen_status = _woman(hh, "2010-06-15", "condom")
    fifty, fifty_status = _woman(hh, "1975-06-10", "iud")
    mover = next(m for m in first.members if m["id"] not in eventful
                 and m["residence_status"] == "present" and m["birth_date"] < "2000")
    moves = [{"form": "move_out", "id": new_id(), "household_id": mover["household_id"],
              "member_id": mover["id"], "event_date": "2025-04-10", "to_scope": "abroad"},
             {"form": "move_in", "id": new_id(), "household_id": mover["household_id"],
              "member_id": mover["id"], "event_date": "2025-07-05",
              "from_scope": "abroad", "residence_type": "present"}]
    first.members.extend([teen, fifty])
    first.woman_status.extend([teen_status, fifty_status])
    first.events.extend([birth, *moves])
    first.events.sort(key=lambda e: e["event_date"])
    for area in areas:
        raw.add_area(area)
    return areas, {"birth": birth["id"], "teen": teen["id"], "fifty": fifty["id"],
                   "mover": mover["id"]}


def _db_cells(session) -> dict[tuple[str, str], tuple[str, dict]]:
    return {(c.unit_code, c.month): (c.level, c.values)
            for c in session.scalars(select(RollupCell).where(RollupCell.month.in_(MONTHS)))}


def _recompute_in_app(app, workers: int) -> None:
    assert threading.active_count() > 1
    with app.app_context():
        full_recompute(db.session, months=MONTHS, workers=workers)
        db.session.remove()


def test_rollups_equal_independent_count(app):
    session = db.session
    _tree(session)
    raw = Raw()
    areas, marks = _edited_areas(raw)
    writer = Writer("server", HybridClock().now())
    for area in areas:
        load_area(session, area, "33", "12619", writer)
    session.commit()

    # a merged duplicate person and a merged household (as a merge would leave them)
    second = areas[1]
    quiet = [m for m in second.members if m["residence_status"] == "present"
             and m["birth_date"] < "2000" and m["registered_on"] < "2025"
             and m["id"] not in {e["member_id"] for e in second.events}]
    h_old, h_new = quiet[0]["household_id"], quiet[-1]["household_id"]
    assert h_old != h_new
    dup = next(m["id"] for m in quiet if m["household_id"] not in (h_old, h_new))
    session.execute(update(Member).where(Member.id == dup)
                    .values(merged_into=quiet[-1]["id"]))
    raw.merged_members.add(dup)
    session.execute(update(Household).where(Household.id == h_old).values(merged_into=h_new))
    raw.merged_households[h_old] = h_new
    session.commit()

    # a death voided through the real sync path (its member is refolded on the server)
    death = next(e for e in raw.events if e["form"] == "death"
                 and raw.households[e["household_id"]]["area_code"] == AREAS[2][0])
    device = SimDevice(app, area=AREAS[2][0])
    device.void("event", death["id"])
    body = device.send(app.test_client(), device.seal())
    assert body["receipt"]["verdicts"][0]["verdict"] == "applied"
    raw.voided.add(death["id"])

    full_recompute(session, months=MONTHS)
    got = _db_cells(session)
    expected = area_cells(raw, MONTHS)
    # the same cells from two processes, each computing a shard of the areas: forked
    # from a command (one thread), from a fork server in a server (threads)
    assert all(shards(session, 2))
    full_recompute(session, months=MONTHS, workers=2)
    assert _db_cells(session) == got
    session.execute(delete(RollupCell))
    session.commit()
    threaded = threading.Thread(target=_recompute_in_app, args=(app, 2))
    threaded.start()
    threaded.join()
    assert _db_cells(session) == got

    # every area cell, then every level above, equals the independent count exactly
    chain = {area: [area, village, "12619", "33", "VN"] for area, village, _ in AREAS}
    totals: dict[tuple[str, str], dict] = defaultdict(dict)
    for area, by_month in expected.items():
        for month, counts in by_month.items():
            for unit in chain[area]:
                for key, value in counts.items():
                    totals[(unit, month)][key] = totals[(unit, month)].get(key, 0) + value
    assert set(got) == set(totals)
    for key, counts in totals.items():
        assert got[key][1] == derived(counts), key
    assert {got[(u, "2025-01")][0] for u in ("12619.01.1", "12619.01", "12619", "33", "VN")} \
        == {"area", "village", "commune", "province", "national"}

    # the edge cases are really exercised: each one moves the numbers it should
    area = AREAS[0][0]
    assert got[(area, "2025-03")][1]["births.order3plus"] >= 1
    without_birth = copy.deepcopy(raw)
    without_birth.events = [e for e in raw.events if e["id"] != marks["birth"]]
    alt = area_cells(without_birth, MONTHS)
    assert expected[area]["2025-03"]["births"] == alt[area]["2025-03"].get("births", 0) + 1
    assert expected[area]["2025-04"].get("births", 0) == alt[area]["2025-04"].get("births", 0)
    assert expected[area]["2025-03"]["population"] == alt[area]["2025-03"]["population"] + 1

    def women(month: str, raw_: Raw = raw) -> int:
        return area_cells(raw_, [month])[area][month]["women_married_15_49"]

    no_teen, no_fifty = copy.deepcopy(raw), copy.deepcopy(raw)
    no_teen.members.pop(marks["teen"])
    no_fifty.members.pop(marks["fifty"])
    assert women("2025-05") - women("2025-05", no_teen) == 0   # 14 at the end of May
    assert women("2025-06") - women("2025-06", no_teen) == 1   # 15 by the end of June
    assert women("2025-05") - women("2025-05", no_fifty) == 1  # still 49 in May
    assert women("2025-06") - women("2025-06", no_fifty) == 0  # 50 in June
    assert got[(area, "2025-04")][1]["moves_out"] >= 1
    assert got[(area, "2025-07")][1]["moves_in"] >= 1
    stay = copy.deepcopy(raw)
    stay.events = [e for e in raw.events if e["member_id"] != marks["mover"]]
    alt = area_cells(stay, MONTHS)
    for month, away in (("2025-03", 0), ("2025-04", 1), ("2025-06", 1), ("2025-07", 0)):
        assert alt[area][month]["population"] - expected[area][month]["population"] == away
    unmerged = copy.deepcopy(raw)
    unmerged.merged_members.clear()
    unmerged.merged_households.clear()
    alt = area_cells(unmerged, MONTHS)
    b = AREAS[1][0]
    assert alt[b]["2025-01"]["population"] == expected[b]["2025-01"]["population"] + 1
    assert alt[b]["2025-01"]["households"] == expected[b]["2025-01"]["households"] + 1
    unvoided = copy.deepcopy(raw)
    unvoided.voided.clear()
    alt = area_cells(unvoided, MONTHS)
    c, m = AREAS[2][0], death["event_date"][:7]
    assert alt[c][m]["deaths"] == expected[c][m].get("deaths", 0) + 1


def test_year_only_birth_counts_from_january(app):
    """A year-only birth date counts from January of that year, also when the window
    starts in the December before ("2026" sorts before "2026-01-01" as a string)."""
    from tests.support.register import household, member

    device = SimDevice(app, area="12619.01.1")
    hh, parent, child = new_id(), new_id(), new_id()
    device.upsert("household", hh, household("12619.01.1"))
    device.upsert("member", parent, member(hh))
    device.upsert("member", child, member(hh, "Lê Văn An", "male", "2026", "child"))
    verdicts = device.send(app.test_client(), device.seal())["receipt"]["verdicts"]
    assert all(v["verdict"] == "applied" for v in verdicts)
    full_recompute(db.session, months=["2025-12", "2026-01"])
    national = {c.month: c.values for c in db.session.scalars(
        select(RollupCell).where(RollupCell.unit_code == "VN"))}
    assert national["2025-12"]["population"] == 1
    assert national["2026-01"]["population"] == 2
    assert national["2026-01"]["population.male.00-04"] == 1

"""Roll-ups equal an independent count from the raw synthetic records, exactly.

A small commune of three collaborator areas is generated for 2025, edited with the
edge cases the definitions must get right, loaded, recomputed, and every cell of
every level compared with :mod:`tests.support.rollup_oracle` (plain Python over
the generator's records). Edge cases: a birth on the last day of a month, women
turning 15 and 50 within a month, a person turning 60 on the last day of a
month, a move out and back, a household split and a person joining another
household (dated), a pregnancy that ends in the next month and one whose end was
never recorded, a newborn screened twice, distributions by source, a merged
person and a merged household, an event voided through the real sync path, a
fourth area created mid-year with quiet months, and P0 slips sent through sync at
given times: on time, in M+2, one minute after the deadline, a nil report, a
mismatching one, a correction, and a batch re-sent.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
from collections import defaultdict

from sqlalchemy import delete, func, select, update

from a0core.hlc import HybridClock
from server.extensions import db
from server.models.orgunits import OrgTree, OrgUnit
from server.models.register import Household, Member
from server.models.reports import P0Report
from server.models.rollups import RollupCell
from server.register.bulk import Writer, load_area
from server.rollups.jobs import full_recompute
from server.rollups.parallel import shards
from server.sync.ingest import ingest_batch
from server.sync.runtime import ingest_context
from server.synthetic import generate_area
from tests.support.register import new_id
from tests.support.rollup_oracle import (
    SLIP_SECTIONS,
    VN,
    Raw,
    area_cells,
    derived,
    held_entries,
)
from tests.support.sim import SimDevice

PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
AREAS = [("12619.01.1", "12619.01", 45), ("12619.01.2", "12619.01", 35),
         ("12619.02.1", "12619.02", 40)]
NEW_AREA = ("12619.02.2", "12619.02")  # created mid-June: no data before


def _tree(session) -> None:
    session.add(OrgTree(name="t", title="test", levels=["province", "commune"], source="test",
                        current=True))
    session.flush()
    rows = [("33", "province", None, "/33/", None), ("12619", "commune", "33", "/33/12619/",
                                                     "12619")]
    for village in ("12619.01", "12619.02"):
        rows.append((village, "village", "12619", f"/33/12619/{village}/", "12619"))
    for area, village in [(a, v) for a, v, _ in AREAS] + [NEW_AREA]:
        rows.append((area, "area", village, f"/33/12619/{village}/{area}/", "12619"))
    ids: dict[str, int] = {}
    for depth, (code, level, parent, path, commune) in enumerate(rows):
        unit = OrgUnit(tree="t", code=code, level=level, depth=depth, name=code, full_name=code,
                       parent_id=ids.get(parent or ""), path=path, province_code="33",
                       commune_code=commune)
        session.add(unit)
        session.flush()
        ids[code] = unit.id


def _person(household_id: str, born: str, sex: str = "female", marital: str = "married",
            registered: str = "2024-01-01") -> dict:
    return {"id": new_id(), "household_id": household_id, "full_name": "Lò Thị Test",
            "relation": "other_relative", "sex": sex, "birth_date": born, "ethnicity": "kinh",
            "marital_status": marital, "residence_status": "present",
            "registered_on": registered}


def _woman(household_id: str, born: str, method: str) -> tuple[dict, dict]:
    member = _person(household_id, born)
    status = {"member_id": member["id"], "recorded_on": "2024-06-01", "current_method": method,
              "method_start": "2024-06-01", "living_children": 1}
    return member, status


def _event(form: str, person: dict, day: str, **extra) -> dict:
    return {"form": form, "id": new_id(), "household_id": person["household_id"],
            "member_id": person["id"], "event_date": day, **extra}


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
    sixty = _person(hh, "1965-04-30", sex="male")  # 60 on 30 April 2025, the month's last day
    quiet = [m for m in first.members if m["id"] not in eventful
             and m["residence_status"] == "present" and m["birth_date"] < "2000"
             and m["relation"] != "head"]
    mover, splitter, joiner = quiet[0], quiet[1], quiet[2]
    moves = [_event("move_out", mover, "2025-04-10", to_scope="abroad"),
             _event("move_in", mover, "2025-07-05", from_scope="abroad",
                    residence_type="present")]
    # a split to a new household on 15 October; a person joining another one in July
    new_household = {"id": new_id(), "area_code": first.area_code,
                     "village_code": first.village_code, "number": "900",
                     "address": "Xóm Mới", "head_member_id": splitter["id"]}
    target = next(h["id"] for h in first.households if h["id"] != joiner["household_id"])
    changes = [_event("household_change", splitter, "2025-10-15",
                      to_household_id=new_household["id"], reason="split_off"),
               _event("household_change", joiner, "2025-07-01", to_household_id=target,
                      reason="join")]
    # a pregnancy that ends in the next month; one whose end was never recorded
    ends_next, never_ends = _woman(hh, "1996-02-02", "none"), _woman(hh, "1998-09-09", "none")
    pregnancies = [_event("pregnancy", ends_next[0], "2025-05-10", outcome="pregnant",
                          expected_date="2025-12-20"),
                   _event("pregnancy", ends_next[0], "2025-06-03", outcome="miscarriage"),
                   _event("pregnancy", never_ends[0], "2025-01-05", outcome="pregnant")]
    child = {"id": birth["child_id"], "household_id": birth["household_id"]}
    screenings = [_event("newborn_screening", child, "2025-04-02", screening="heel_prick",
                         result="normal"),
                  _event("newborn_screening", child, "2025-04-20", screening="hearing",
                         result="abnormal")]
    supplies = [{"id": new_id(), "area_code": first.area_code, "household_id": hh,
                 "method": "condom", "quantity": 12, "distributed_on": "2025-05-06",
                 "source": source} for source in ("free", "social_marketing", "sold")]
    first.households.append(new_household)
    first.members.extend([teen, fifty, sixty, ends_next[0], never_ends[0]])
    first.woman_status.extend([teen_status, fifty_status, ends_next[1], never_ends[1]])
    first.events.extend([birth, *moves, *changes, *pregnancies, *screenings])
    first.events.sort(key=lambda e: e["event_date"])
    first.distributions.extend(supplies)
    # an area created mid-June: one household registered on the 15th, nothing happens
    late = dataclasses.replace(areas[2], area_code=NEW_AREA[0], village_code=NEW_AREA[1],
                               households=[], members=[], woman_status=[], events=[],
                               distributions=[])
    home = {"id": new_id(), "area_code": NEW_AREA[0], "village_code": NEW_AREA[1],
            "number": "1", "address": "Tổ 5"}
    late.households.append(home)
    late.members += [_person(home["id"], "1980-01-01", registered="2025-06-15"),
                     _person(home["id"], "1982-03-03", sex="male", registered="2025-06-15")]
    areas.append(late)
    for area in areas:
        raw.add_area(area)
    return areas, {"birth": birth["id"], "teen": teen["id"], "fifty": fifty["id"],
                   "sixty": sixty["id"], "mover": mover["id"], "split": changes[0]["id"],
                   "join": changes[1]["id"], "ends_next": ends_next[0]["id"],
                   "never_ends": never_ends[0]["id"]}


def _db_cells(session) -> dict[tuple[str, str], tuple[str, dict]]:
    return {(c.unit_code, c.month): (c.level, c.values)
            for c in session.scalars(select(RollupCell).where(RollupCell.month.in_(MONTHS)))}


def _recompute_in_app(app, workers: int) -> None:
    assert threading.active_count() > 1
    with app.app_context():
        full_recompute(db.session, months=MONTHS, workers=workers)
        db.session.remove()


def _send_at(app, raw: Raw, area: str, when: dt.datetime, slips: list[tuple[str, dict]],
             again: bool = False) -> list[str]:
    """Close slips from a phone of ``area`` whose clock (and the server's) reads ``when``."""
    ms = int(when.timestamp() * 1000)
    device = SimDevice(app, area=area, now_ms=lambda: ms)
    ops = [device.report(month, counts, when.astimezone(VN).date().isoformat())
           for month, counts in slips]
    envelope = device.seal()
    ctx = dataclasses.replace(ingest_context(app), now_ms=lambda: ms,
                              clock=HybridClock(lambda: ms))
    receipt = ingest_batch(db.session, envelope, ctx)
    verdicts = [v["verdict"] for v in receipt["receipt"]["verdicts"]]
    if again:  # the same batch once more (a phone that lost the receipt): nothing new
        assert ingest_batch(db.session, envelope, ctx) == receipt
    raw.batches.append((area, when.astimezone(dt.UTC)))  # the server's clock reads ``when``
    for op, (month, _) in zip(ops, slips, strict=True):
        raw.slips.append({"area": area, "month": month, "hlc": op["hlc"], "device": device.id,
                          "counts": {k: op["fields"][k] for k in SLIP_SECTIONS},
                          "received": when})
    return verdicts


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
    raw.batches.append((AREAS[2][0], dt.datetime.now(dt.UTC)))

    # P0 slips, at the times they reach the server (Vietnam time)
    a, b, c, d = AREAS[0][0], AREAS[1][0], AREAS[2][0], NEW_AREA[0]

    def at(*args: int) -> dt.datetime:
        return dt.datetime(*args, tzinfo=VN)

    assert _send_at(app, raw, a, at(2025, 4, 3, 10), [
        ("2025-03", held_entries(raw, a, "2025-03"))]) == ["applied"]
    assert _send_at(app, raw, a, at(2025, 6, 10, 9), [   # M+2: late
        ("2025-04", held_entries(raw, a, "2025-04"))]) == ["applied"]
    wrong = {**held_entries(raw, b, "2025-05"), "births": 99}
    assert _send_at(app, raw, b, at(2025, 6, 2, 8), [("2025-05", wrong)],
                    again=True) == ["applied"]
    assert _send_at(app, raw, b, at(2025, 6, 20, 8), [   # the correction, re-closed late
        ("2025-05", held_entries(raw, b, "2025-05"))]) == ["applied"]
    assert _send_at(app, raw, c, at(2025, 8, 4, 8), [
        ("2025-07", {**held_entries(raw, c, "2025-07"), "deaths": 0, "elderly": 40})]) \
        == ["applied"]
    assert _send_at(app, raw, d, at(2025, 7, 1, 7), [("2025-06", {})]) == ["applied"]  # nil
    assert _send_at(app, raw, d, at(2025, 8, 6, 0, 0, 30), [("2025-07", {})]) == ["applied"]
    assert _send_at(app, raw, d, at(2025, 9, 5, 23, 59), [("2025-08", {})]) == ["applied"]
    assert _send_at(app, raw, d, at(2025, 9, 29, 12), [("2025-09", {})]) == ["rejected"]
    raw.slips.pop()  # a month not over yet is refused and not kept
    assert session.scalar(select(func.count()).select_from(P0Report)) == len(raw.slips) == 8

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
    chain = {area: [area, village, "12619", "33", "VN"]
             for area, village in [(x, v) for x, v, _ in AREAS] + [NEW_AREA]}
    totals: dict[tuple[str, str], dict] = defaultdict(dict)
    for area, by_month in expected.items():
        for month, counts in by_month.items():
            for unit in chain[area]:
                for key, value in counts.items():
                    totals[(unit, month)][key] = totals[(unit, month)].get(key, 0) + value
    assert set(totals) <= set(got)  # and a cell, empty, for every area before it began
    for key in got:
        assert got[key][1] == derived(totals.get(key, {})), key
    assert {got[(u, "2025-01")][0] for u in ("12619.01.1", "12619.01", "12619", "33", "VN")} \
        == {"area", "village", "commune", "province", "national"}

    _edge_cases_move_the_numbers(raw, marks, got, expected)
    _slips_are_judged_by_the_calendar(got)


def _edge_cases_move_the_numbers(raw: Raw, marks: dict[str, str], got: dict,
                                 expected: dict) -> None:
    """Each edge case is really exercised: without it, the numbers it should move differ."""
    area = AREAS[0][0]

    def without(events: set[str] = frozenset(), members: set[str] = frozenset()) -> dict:
        alt = copy.deepcopy(raw)
        alt.events = [e for e in raw.events if e["id"] not in events
                      and e["member_id"] not in members]
        for member in members:
            alt.members.pop(member, None)
        return area_cells(alt, MONTHS)[area]

    cells = expected[area]
    assert got[(area, "2025-03")][1]["births.order3plus"] >= 1
    alt = without(events={marks["birth"]})
    assert cells["2025-03"]["births"] == alt["2025-03"].get("births", 0) + 1
    assert cells["2025-04"].get("births", 0) == alt["2025-04"].get("births", 0)
    assert cells["2025-03"]["population"] == alt["2025-03"]["population"] + 1
    assert cells["2025-04"]["newborns_screened"] == alt["2025-04"].get(
        "newborns_screened", 0) + 1  # one child, two tests in April: screened once
    assert cells["2025-04"]["newborn_screenings"] == alt["2025-04"].get(
        "newborn_screenings", 0) + 2
    assert cells["2025-04"]["newborns_screened.positive"] >= 1

    def women(month: str, members: set[str] = frozenset()) -> int:
        return (without(members=members) if members else cells)[month]["women_married_15_49"]

    assert women("2025-05") - women("2025-05", {marks["teen"]}) == 0   # 14 at the end of May
    assert women("2025-06") - women("2025-06", {marks["teen"]}) == 1   # 15 by the end of June
    assert women("2025-05") - women("2025-05", {marks["fifty"]}) == 1  # still 49 in May
    assert women("2025-06") - women("2025-06", {marks["fifty"]}) == 0  # 50 in June
    no_sixty = without(members={marks["sixty"]})
    assert cells["2025-03"]["population.60plus"] == no_sixty["2025-03"]["population.60plus"]
    assert cells["2025-04"]["population.60plus"] == no_sixty["2025-04"]["population.60plus"] + 1
    # pregnant at the end of May, miscarried in June; the one never closed runs over
    pregnant = {m: cells[m].get("pregnant", 0) for m in MONTHS}
    no_next = without(members={marks["ends_next"]})
    assert [pregnant[m] - no_next[m].get("pregnant", 0) for m in ("2025-05", "2025-06")] \
        == [1, 0]
    assert cells["2025-06"]["pregnancy_outcomes.miscarriage"] >= 1
    no_never = without(members={marks["never_ends"]})
    assert [pregnant[m] - no_never[m].get("pregnant", 0)
            for m in ("2025-01", "2025-10", "2025-11")] == [1, 1, 0]
    # the split adds a household from October, not before
    unsplit = without(events={marks["split"]})
    assert [cells[m]["households"] - unsplit[m]["households"] for m in
            ("2025-09", "2025-10", "2025-12")] == [0, 1, 1]
    assert cells["2025-10"]["household_changes.split_off"] == 1
    assert cells["2025-05"]["distributed.social_marketing.condom"] >= 12
    stay = without(events={e["id"] for e in raw.events if e["member_id"] == marks["mover"]
                           and e["form"] in ("move_in", "move_out")})
    for month, away in (("2025-03", 0), ("2025-04", 1), ("2025-06", 1), ("2025-07", 0)):
        assert stay[month]["population"] - cells[month]["population"] == away
    b = AREAS[1][0]
    unmerged = copy.deepcopy(raw)
    unmerged.merged_members.clear()
    unmerged.merged_households.clear()
    alt_b = area_cells(unmerged, MONTHS)[b]
    assert alt_b["2025-01"]["population"] == expected[b]["2025-01"]["population"] + 1
    assert alt_b["2025-01"]["households"] == expected[b]["2025-01"]["households"] + 1


def _slips_are_judged_by_the_calendar(got: dict) -> None:
    a, b, c, d = AREAS[0][0], AREAS[1][0], AREAS[2][0], NEW_AREA[0]

    def report(area: str, month: str) -> tuple[int, int, int, int]:
        v = got[(area, month)][1]
        return (v.get("areas_expected", 0), v.get("areas_reported", 0),
                v.get("areas_on_time", 0), v.get("areas_incomplete", 0))

    assert report(a, "2025-03") == (1, 1, 1, 0)   # on time, matching
    assert report(a, "2025-04") == (1, 1, 0, 0)   # arrived in M+2: late
    assert report(a, "2025-05") == (1, 0, 0, 0)   # never sent
    assert report(b, "2025-05") == (1, 1, 1, 0)   # first on time; the correction matches
    assert report(c, "2025-07") == (1, 1, 1, 1)   # counts that do not match
    assert report(d, "2025-05") == (0, 0, 0, 0)   # the area did not exist yet
    assert report(d, "2025-06") == (1, 1, 1, 0)   # created mid-June, nil report on 1 July
    assert report(d, "2025-07") == (1, 1, 0, 0)   # 30 s after the 5 August deadline
    assert report(d, "2025-08") == (1, 1, 1, 0)   # a minute before it
    assert report(d, "2025-09") == (1, 0, 0, 0)   # refused: sent before the month ended
    commune = got[("12619", "2025-07")][1]
    assert (commune["areas_expected"], commune["areas_reported"], commune["completeness"],
            commune["timeliness"]) == (4, 2, 50.0, 25.0)
    # quiet months: the new area has its stocks in every month from June, events or not
    assert all(got[(d, m)][1]["population"] == 2 and got[(d, m)][1]["households"] == 1
               for m in MONTHS[5:])


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


def test_a_birth_ends_the_mothers_pregnancy(app):
    """Hand-written: a birth ends the mother's pregnancy, so it counts as a pregnancy
    ended with a live birth (once, when the collaborator also recorded the outcome);
    the pregnant women at the end of a month are those at the end of the month
    before, plus the pregnancies newly seen, minus those ended."""
    from tests.support.register import birth, household, member

    device = SimDevice(app, area="12619.01.1")
    hh = new_id()
    device.upsert("household", hh, household("12619.01.1"))
    women = {name: new_id() for name in ("births", "both", "miscarries", "new")}
    for n, (name, woman) in enumerate(women.items()):
        device.upsert("member", woman, member(hh, f"Trần Thị {name}", born="1995-03-0" + str(n + 1),
                                              relation="head" if n == 0 else "other_relative"))

    def pregnancy(woman: str, day: str, outcome: str, **extra) -> None:
        device.event("pregnancy", {"id": new_id(), "household_id": hh, "member_id": woman,
                                   "event_date": day, "outcome": outcome, **extra})

    for name in ("births", "both", "miscarries"):
        pregnancy(women[name], "2025-09-10", "pregnant", expected_date="2026-02-01")
    device.event("birth", birth(hh, women["births"], "2025-11-12", order=1))
    # the same delivery recorded twice: as the pregnancy's outcome and as the birth
    pregnancy(women["both"], "2025-11-20", "live_birth")
    device.event("birth", birth(hh, women["both"], "2025-11-20", order=1))
    pregnancy(women["miscarries"], "2025-11-03", "miscarriage")
    pregnancy(women["new"], "2025-11-05", "pregnant", expected_date="2026-06-01")
    verdicts = device.send(app.test_client(), device.seal())["receipt"]["verdicts"]
    assert all(v["verdict"] == "applied" for v in verdicts), verdicts
    full_recompute(db.session, months=["2025-10", "2025-11"])
    cells = {c.month: c.values for c in db.session.scalars(
        select(RollupCell).where(RollupCell.unit_code == "VN"))}
    october, november = cells["2025-10"], cells["2025-11"]
    assert november["births"] == 2
    assert november.get("pregnancy_outcomes.live_birth", 0) == 2
    assert november.get("pregnancy_outcomes.miscarriage", 0) == 1
    assert november.get("pregnancy_outcomes", 0) == 3
    assert november["pregnancy_outcomes"] == sum(
        v for k, v in november.items() if k.startswith("pregnancy_outcomes."))
    assert (october["pregnant"], november.get("pregnancies.new", 0), november["pregnant"]) \
        == (3, 1, 1)
    assert october["pregnant"] + november["pregnancies.new"] \
        - november["pregnancy_outcomes"] == november["pregnant"]

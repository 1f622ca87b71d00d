"""Who a form may be about, who a code may go to (``schemas/applicability.json``):
the rules as written, the words they refuse with, the leniency of a birth year
known alone, the loader's checks, and the server's coded verdict that changes
nothing (on both databases)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a0core.applicability import Applicability, age_range, applicability, status_at
from a0core.schemas import SchemaDefinitionError, load_registry, registry
from server.extensions import db
from server.models.register import Distribution, Event
from tests.support.register import counts, household, member, new_id

ROOT = Path(__file__).resolve().parents[1]
RULES = applicability()
DAY = "2026-06-15"


def person(sex: str = "female", born: str = "1995-03-01", status: str = "present",
           **more: str) -> dict:
    return {"sex": sex, "birth_date": born, "residence_status": status, **more}


def hand_out(method: str, who: dict | None, day: str = DAY):
    return RULES.check("distribution", {"method": method, "distributed_on": day,
                                        "member_id": "x"}, who)


def event(form: str, who: dict, day: str = DAY):
    return RULES.check(form, {"event_date": day, "member_id": "x"}, who)


# -- the rules, case by case (the issue's own examples first) ----------------------------


def test_pills_go_to_women_15_to_49() -> None:
    assert hand_out("pill", person()) is None
    girl = hand_out("pill", person(born="2025-05-01"))
    assert girl is not None and girl.field == "method"
    assert girl.error().code == "not_applicable"
    assert girl.error().vi == ("«Viên uống tránh thai» không áp dụng cho người này: chỉ dành "
                               "cho phụ nữ từ 15 đến 49 tuổi (người này 1 tuổi)")
    assert girl.error().en == ("«Oral contraceptive pill» does not apply to this person: only "
                               "for women aged 15 to 49 (this person is 1)")
    assert hand_out("pill", person(born="1976-06-16")) is None      # 49, a day before 50
    assert hand_out("pill", person(born="1976-06-15")) is not None  # 50 today
    assert hand_out("emergency_pill", person(born="2011-06-16")) is not None  # 14
    assert hand_out("condom", person(born="1950")) is None          # no upper age
    assert hand_out("condom", person(born="2012-01-01")) is not None


def test_a_hand_out_goes_to_a_woman_living_here_or_to_the_household() -> None:
    assert hand_out("condom", None) is None  # to the household: no person to judge
    found = hand_out("condom", person(sex="male"))
    assert found is not None and found.field == "member_id"
    assert "phụ nữ" in found.error().vi
    gone = hand_out("pill", person(status="moved_out", moved_out_on="2026-01-02"))
    assert gone is not None and "«Đã chuyển đi»" in gone.error().vi


def test_an_elderly_check_up_is_for_60_and_over() -> None:
    found = event("elderly_check", person(born="1995-03-01"))
    assert found is not None and found.field == "member_id"
    assert found.error().vi.endswith("chỉ dành cho người từ 60 tuổi trở lên (người này 31 tuổi)")
    assert event("elderly_check", person(born="1966-06-15")) is None
    # a birth year alone: 59 or 60 on the day, so it may be
    assert event("elderly_check", person(born="1966")) is None
    assert event("elderly_check", person(born="1967")) is not None  # 58 or 59


def test_births_and_pregnancies_are_for_women() -> None:
    found = event("birth", person(sex="male"))
    assert found is not None and found.error().en.startswith("«Birth» does not apply")
    assert event("pregnancy", person(born="1960-01-01")) is not None  # 66
    assert event("birth", person(born="2000")) is None
    assert event("newborn_screening", person(sex="male", born="2026-06-01")) is None
    assert event("newborn_screening", person(born="2024-01-01")) is not None


def test_nothing_happens_to_someone_after_their_death() -> None:
    dead = person(status="deceased", death_date="2026-05-01")
    assert event("move_out", dead) is not None
    assert event("death", dead) is not None                  # a second death
    assert event("death", dead, day="2026-05-01") is None    # the death itself, the same day
    assert event("elderly_check", person(born="1940", status="deceased",
                                         death_date="2026-06-20")) is None  # before it
    assert event("change_info", dead) is None  # correcting the record of the dead is fine


def test_no_marriage_for_someone_married() -> None:
    """The member's page offered «Kết hôn» to a married person: the rule now reads the
    marital status (as it is now); the server, which judges no status, still takes it."""
    found = event("marriage", person(marital_status="married"))
    assert found is not None
    assert found.error().vi.endswith("tình trạng hôn nhân của người này là «Có vợ/chồng»")
    assert event("marriage", person(marital_status="separated")) is not None
    for free in ("single", "widowed", "divorced"):
        assert event("marriage", person(marital_status=free)) is None
    assert event("marriage", person()) is None  # not known: never refused
    assert event("divorce", person(marital_status="married")) is None
    assert RULES.check("marriage", {"event_date": DAY, "member_id": "x"},
                       person(marital_status="married"), status=False) is None


def test_unknown_facts_never_refuse() -> None:
    assert event("elderly_check", {"sex": "female"}) is None
    assert hand_out("pill", {"sex": "female", "birth_date": "garbage"}) is None
    assert event("birth", {"birth_date": "1990"}) is None
    assert RULES.check("change_info", {"event_date": DAY}, person(sex="male")) is None


def test_choices_offered_follow_the_person() -> None:
    field = registry().form("distribution").field("method")
    codes = registry().choices(field)
    on = DAY
    assert [c.code for c in RULES.allowed_codes("distribution", "method", codes, person(),
                                                on)] == ["pill", "condom", "emergency_pill"]
    assert [c.code for c in RULES.allowed_codes("distribution", "method", codes,
                                                person(born="1950"), on)] == ["condom"]
    assert [c.code for c in RULES.allowed_codes("distribution", "method", codes, None,
                                                on)] == ["pill", "condom", "emergency_pill"]


def test_ages_and_statuses() -> None:
    assert age_range("1990-06-15", "2026-06-15") == (36, 36)
    assert age_range("1990-06-16", "2026-06-15") == (35, 35)
    assert age_range("1990", "2026-06-15") == (35, 36)
    assert age_range("2026", "2026-06-15") == (0, 0)
    assert age_range(None, DAY) is None and age_range("1990-02-30", DAY) is None
    assert age_range("2000-02-29", "2026-02-28") == (25, 25)
    assert status_at(person(status="deceased", death_date="2026-06-15"), "residence_status",
                     DAY) is None
    assert status_at(person(status="deceased"), "residence_status", DAY) == "deceased"
    assert status_at(person(status="absent"), "residence_status", DAY) == "absent"


@settings(max_examples=200, deadline=None)
@given(year=st.integers(1930, 2026), day=st.dates(dt.date(2000, 1, 1), dt.date(2026, 12, 31)),
       form=st.sampled_from(["elderly_check", "birth", "method_start", "newborn_screening",
                             "method_stop", "woman_status"]))
def test_a_year_alone_refuses_only_what_no_day_of_that_year_allows(year, day, form) -> None:
    rule = RULES.rule(form)
    record = {rule.on: day.isoformat(), "member_id": "x"}
    lenient = RULES.check(form, record, person(born=str(year)))
    days = [dt.date(year, 1, 1) + dt.timedelta(d) for d in range(0, 366, 7)]
    days.append(dt.date(year, 12, 31))
    exact = [RULES.check(form, record, person(born=d.isoformat())) for d in days
             if d.year == year]
    assert (lenient is None) == any(found is None for found in exact)


# -- the file is checked when it loads ---------------------------------------------------


def broken(tmp_path: Path, change) -> Applicability:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    path = tmp_path / "schemas" / "applicability.json"
    doc = json.loads(path.read_text("utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return Applicability(load_registry(tmp_path / "schemas"))


@pytest.mark.parametrize("change", [
    lambda d: d["forms"].update(nosuchform={"subject": "member_id", "on": "event_date"}),
    lambda d: d["forms"]["birth"].update(subject="household_id"),
    lambda d: d["forms"]["birth"].update(on="child_name"),
    lambda d: d["forms"]["birth"].update(sex=["woman"]),
    lambda d: d["forms"]["birth"].update(age={"min": -1}),
    lambda d: d["forms"]["birth"].update(age={"from": 10}),
    lambda d: d["forms"]["birth"].update(status={"residence_status": ["asleep"]}),
    lambda d: d["forms"]["birth"].update(status={"education": ["primary"]}),
    lambda d: d["forms"]["birth"].update(status={"marital_status": ["present"]}),
    lambda d: d["forms"]["birth"].update(status={"residence_status": "nosuchset"}),
    lambda d: d["forms"]["birth"].update(codes={"place_of_birth": "given_to"}) or
    d["forms"]["birth"].update(codes={"child_name": "given_to"}),
    lambda d: d["forms"]["birth"].update(colour="blue"),
], ids=["form", "subject", "on", "sex", "age", "age-key", "status", "status-field",
             "status-code", "set",
        "code-field", "key"])
def test_a_wrong_rule_is_refused_at_load(tmp_path: Path, change) -> None:
    with pytest.raises(SchemaDefinitionError):
        broken(tmp_path, change)


def test_a_wrong_code_rule_is_refused_at_load(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    path = tmp_path / "schemas" / "codelists" / "contraceptive_method.json"
    doc = json.loads(path.read_text("utf-8"))
    next(c for c in doc["codes"] if c["code"] == "pill")["given_to"] = {"sex": ["women"]}
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    with pytest.raises(SchemaDefinitionError):
        Applicability(load_registry(tmp_path / "schemas"))


def test_every_rule_reads_fields_of_every_version_it_names() -> None:
    for form_id, rule in RULES.rules.items():
        versions = [f for (fid, _v), f in registry().forms.items() if fid == form_id]
        assert versions, form_id
        for form in versions:
            assert form.field(rule.subject).entity == "member"
            assert form.field(rule.on).type == "date"


# -- the server: a coded verdict that changes nothing ------------------------------------


def verdicts_of(device, client, ops) -> list[dict]:
    body = device.send(client, device.seal(ops))
    return body["receipt"]["verdicts"]


def test_the_server_refuses_what_does_not_apply(app, client, device) -> None:
    hh, woman, man, elder = new_id(), new_id(), new_id(), new_id()
    today = dt.date.today().isoformat()
    setup = [device.upsert("household", hh, household(device.area)),
             device.upsert("member", woman, member(hh, born="1995-03-01")),
             device.upsert("member", man, member(hh, "Lê Văn Hùng", sex="male",
                                                 relation="spouse", born="1991-01-01")),
             device.upsert("member", elder, member(hh, "Phạm Thị Lành", relation="parent",
                                                   born="1950"))]
    assert {v["verdict"] for v in verdicts_of(device, client, setup)} == {"applied"}
    before = counts()
    ops = [
        device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                             "member_id": man, "method": "pill", "quantity": 3,
                             "distributed_on": today}),
        device.event("elderly_check", {"id": new_id(), "household_id": hh, "member_id": woman,
                                       "event_date": today, "result": "healthy"}),
        device.event("birth", {"id": new_id(), "household_id": hh, "member_id": man,
                               "event_date": today, "child_id": new_id(), "sex": "male",
                               "birth_order": 1, "place_of_birth": "hospital"}),
        device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                             "member_id": elder, "method": "pill", "quantity": 1,
                             "distributed_on": today}),
    ]
    refused = verdicts_of(device, client, ops)
    assert [(v["verdict"], v["code"]) for v in refused] == [("rejected", "not_applicable")] * 4
    assert [v["field"] for v in refused] == ["member_id", "member_id", "member_id", "method"]
    assert "phụ nữ" in refused[0]["message_vi"] and "60" in refused[1]["message_vi"]
    assert "(người này 75–76 tuổi)" in refused[3]["message_vi"] or \
        "(người này 76–77 tuổi)" in refused[3]["message_vi"]
    after = counts()
    assert {k: v for k, v in after.items() if k not in ("sync_op", "sync_batch")} == \
        {k: v for k, v in before.items() if k not in ("sync_op", "sync_batch")}
    # what does apply goes through
    fine = [
        device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                             "member_id": woman, "method": "pill", "quantity": 3,
                             "distributed_on": today}),
        device.distribution({"id": new_id(), "area_code": device.area, "household_id": hh,
                             "method": "condom", "quantity": 10, "distributed_on": today}),
        device.event("elderly_check", {"id": new_id(), "household_id": hh, "member_id": elder,
                                       "event_date": today, "result": "healthy"}),
    ]
    assert [v["verdict"] for v in verdicts_of(device, client, fine)] == ["applied"] * 3
    assert db.session.query(Distribution).count() == 2
    assert db.session.query(Event).filter_by(form="elderly_check").count() == 1


@pytest.mark.parametrize("death_first", [True, False])
def test_the_server_judges_no_status_so_the_order_of_arrival_changes_nothing(
        app, client, device, death_first: bool) -> None:
    """A check-up dated after a death: the app does not offer it, but the server must
    not refuse it, or the register would depend on which arrived first (DESIGN §2)."""
    hh, elder = new_id(), new_id()
    setup = [device.upsert("household", hh, household(device.area)),
             device.upsert("member", elder, member(hh, "Phạm Văn Lâm", sex="male",
                                                   born="1940"))]
    assert {v["verdict"] for v in verdicts_of(device, client, setup)} == {"applied"}
    death = device.event("death", {"id": new_id(), "household_id": hh, "member_id": elder,
                                   "event_date": "2026-03-01"})
    check_up = device.event("elderly_check", {"id": new_id(), "household_id": hh,
                                              "member_id": elder, "event_date": "2026-04-01",
                                              "result": "healthy"})
    for op in ([death, check_up] if death_first else [check_up, death]):
        assert [v["verdict"] for v in verdicts_of(device, client, [op])] == ["applied"]
    assert db.session.query(Event).filter_by(member_id=elder).count() == 2
    # the same person, refused by sex or age whatever the order
    late = verdicts_of(device, client, [device.event("birth", {
        "id": new_id(), "household_id": hh, "member_id": elder, "event_date": "2026-02-01",
        "child_id": new_id(), "sex": "male", "birth_order": 1, "place_of_birth": "hospital"})])
    assert [(v["verdict"], v["code"]) for v in late] == [("rejected", "not_applicable")]

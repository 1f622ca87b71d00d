"""Phones whose clocks jump forward and back (issue 18, item 6).

Real app cores against the real server (in-process, over its HTTP interface): a
clock set ahead gets its operations refused (``hlc_future``), the phone keeps what
was entered, and once the clock is right again it re-stamps and sends it; nothing is
refused for good and every phone ends with the server's state.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from a0core.hlc import wall_ms
from a0core.sync_client import HttpResponse, RetryPolicy
from a0core.vntime import today_vn
from clients.kivy_app.core.app import AppCore
from clients.kivy_app.core.clock import CLOCK_CODE
from clients.kivy_app.core.outbox import APPLIED, CONFLICT, DUPLICATE, REJECTED, RESTAMPED
from server.extensions import db
from server.models.register import Distribution, Household
from server.models.sync import SyncOp
from server.security.enrolment import issue_code
from server.security.scope import NATIONAL, Scope
from tests.conftest import TWO_LEVEL
from tests.support.units import add_areas, import_provinces

PIN = "482916"
DAY = 24 * 3600 * 1000
JUMPS = (0, -3 * DAY, 3600 * 1000, 20 * 3600 * 1000, 2 * DAY, 400 * DAY)
NATION = Scope("cli", NATIONAL, person_level=True)
_areas = itertools.count(1)


def transport(client: Any):
    """The phone's network: the server's own HTTP interface, in this process."""
    def send(method: str, url: str, headers: Any, body: bytes | None,
             timeout: float) -> HttpResponse:
        path = url.split("://", 1)[1]
        response = client.open(path[path.index("/"):], method=method, headers=dict(headers),
                               data=body)
        return HttpResponse(response.status_code, dict(response.headers), response.get_data())
    return send


class Phone:
    def __init__(self, folder: Path, client: Any, area: str, name: str) -> None:
        self.offset = 0
        self.core = AppCore(folder, transport=transport(client), kdf_n=2 ** 4,
                            retry=RetryPolicy(attempts=1), now_ms=lambda: wall_ms() + self.offset)
        # every example enrols new phones in the same database: a new person each time
        code, _ = issue_code(db.session, area_code=area, collaborator_name=name,
                             created_by="cli", scope=NATION, new_person=True)
        db.session.commit()
        self.core.enrol("http://localhost", code, PIN, PIN)


def new_area(app) -> str:
    area = f"12619.{next(_areas):02d}.1"
    add_areas(db.session, app.config["A0_TEST_TREE"], [area])
    db.session.commit()
    return area


WRITE = st.one_of(st.tuples(st.just("edit"), st.just("address"),
                            st.text("abcđêơ 12", min_size=1, max_size=6)),
                  st.tuples(st.just("edit"), st.just("number"), st.sampled_from(["2", "100.1"])),
                  st.tuples(st.just("hand_out"), st.integers(1, 30)))
# a step: one phone's clock set to a jump, what its collaborator enters, then maybe a sync
STEPS = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(JUMPS),
                           st.lists(WRITE, max_size=2), st.booleans()), min_size=1, max_size=8)
YEAR_AHEAD = [(0, 400 * DAY, [("edit", "address", "năm sau")], True),
              (1, 0, [("edit", "address", "hôm nay")], True),
              (0, 2 * DAY, [("hand_out", 5)], True), (0, 0, [], True)]


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@example(steps=YEAR_AHEAD)
@given(steps=STEPS)
def test_clocks_jumping_forward_and_back_converge_without_losing_anything(
        sqlite_app, tmp_path_factory, steps) -> None:
    app = sqlite_app
    if "A0_TEST_TREE" not in app.config:
        app.config["A0_TEST_TREE"] = import_provinces(db.session, TWO_LEVEL, ["33"])
        db.session.commit()
    area = new_area(app)
    folder = tmp_path_factory.mktemp("phones")
    client = app.test_client()
    phones = [Phone(folder / str(n), client, area, f"Cộng tác viên {n}") for n in range(3)]
    first = phones[0].core
    household = first.save_entity("household", {"number": "1", "address": "Xóm Đông"}).id
    for phone in phones:
        assert phone.core.sync().error is None
    entered: dict[int, list[int]] = {n: [] for n in range(3)}  # seqs of what was entered
    # a day every phone's clock has passed (the dates a phone checks follow its clock)
    day = (dt.date.today() - dt.timedelta(days=4)).isoformat()
    for index, jump, writes, sync in steps:
        phone = phones[index]
        phone.offset = jump
        for write in writes:
            if write[0] == "edit":
                saved = phone.core.save_entity("household", {write[1]: write[2]}, household)
            else:
                saved = phone.core.record_fact("distribution", {
                    "method": "condom", "quantity": write[1], "distributed_on": day,
                    "source": "free"},
                    {"household_id": household})
            assert saved.ok, saved.errors
            if saved.op is not None:
                entered[index].append(saved.op["seq"])
        if sync:
            report = phone.core.sync()
            if report.error is not None:  # only ever the phone's clock, and it says so
                assert report.error.code == "app_clock_wrong", report.error
                assert jump > DAY // 2 and "Cài đặt" in report.error.vi
    for phone in phones:  # every clock set right, then two rounds of syncing
        phone.offset = 0
    for _ in range(2):
        for phone in phones:
            assert phone.core.sync().error is None

    server = db.session.get(Household, household)
    handed = {d.id: d.quantity for d in db.session.scalars(
        select(Distribution).where(Distribution.household_id == household))}
    for n, phone in enumerate(phones):
        rows = {r["seq"]: r for r in phone.core.outbox_rows(limit=1000)}
        for seq in entered[n]:  # followed through re-stamps, every entry got in
            while rows[seq]["state"] == RESTAMPED:
                assert rows[seq]["verdict"]["code"] == CLOCK_CODE
                seq = rows[seq]["restamped_as"]
            assert rows[seq]["state"] in (APPLIED, CONFLICT, DUPLICATE), rows[seq]
        assert not [r for r in rows.values() if r["state"] == REJECTED]
        mine = phone.core.register.get(household)
        assert mine.data == server.data, n  # converged
        facts = {i: f["record"]["quantity"] for i, f in phone.core.register.facts.items()}
        assert facts == handed, n
    refused = db.session.scalar(select(func.count()).select_from(SyncOp).where(
        SyncOp.area_code == area, SyncOp.code == CLOCK_CODE))
    restamped = sum(1 for phone in phones for r in phone.core.outbox_rows(limit=1000)
                    if r["state"] == RESTAMPED)
    assert refused == restamped


def test_a_batch_sealed_by_a_clock_far_ahead_is_refused_whole(app, device) -> None:
    """A header 400 days ahead was accepted and shown as skew."""
    from a0core.hlc import pack
    from a0core.sync_client import seal
    from server.models.sync import DeviceSync, SyncBatch
    from tests.support.register import household, new_id

    op = device.upsert("household", new_id(), household(device.area))
    ahead = seal([op], device_id=device.id, keys=device.keys, server_key=device.server_key,
                 hlc=pack(wall_ms() + 400 * DAY)).envelope
    before = wall_ms()
    refused = app.test_client().post("/api/v1/sync/batches", data=ahead,
                                     content_type="application/json")
    error = refused.get_json()["error"]
    assert refused.status_code == 400 and error["code"] == CLOCK_CODE
    assert before <= error["server_time_ms"] <= wall_ms() and error["max_ahead_ms"] == DAY
    assert before <= int(refused.headers["X-A0-Server-Time"]) <= wall_ms()
    assert db.session.scalar(select(func.count()).select_from(SyncBatch)) == 0
    assert db.session.get(DeviceSync, device.id).last_clock_skew_ms == 0
    assert device.send(app.test_client(), device.seal([op]))["receipt"]["verdicts"][0][
        "verdict"] == "applied"  # the same operation under a right clock


def test_enrolment_refuses_a_clock_ahead_and_the_app_says_how_to_fix_it(sqlite_app,
                                                                       tmp_path) -> None:
    import pytest

    from a0core.errors import A0Error

    tree = import_provinces(db.session, TWO_LEVEL, ["33"])
    add_areas(db.session, tree, ["12619.01.1"])
    code, _ = issue_code(db.session, area_code="12619.01.1", collaborator_name="Lò Thị Ánh",
                         created_by="cli", scope=NATION)
    db.session.commit()
    offset = {"ms": 30 * DAY}
    core = AppCore(tmp_path / "phone", transport=transport(sqlite_app.test_client()),
                   kdf_n=2 ** 4, retry=RetryPolicy(attempts=1),
                   now_ms=lambda: wall_ms() + offset["ms"])
    with pytest.raises(A0Error) as wrong:
        core.enrol("http://localhost", code, PIN, PIN)
    assert wrong.value.code == "app_clock_wrong" and not core.enrolled
    phone_time = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))) + dt.timedelta(days=30)
    assert phone_time.strftime("%d/%m/%Y") in wrong.value.vi and "Ngày và giờ" in wrong.value.vi
    offset["ms"] = 0  # the collaborator set the clock: the same code still works
    assert core.enrol("http://localhost", code, PIN, PIN)["device_id"]


def test_a_clock_behind_syncs_but_the_phone_says_its_dates_may_be_wrong(sqlite_app,
                                                                       tmp_path) -> None:
    """A phone whose battery ran flat restarts days behind: nothing is refused (stamps
    behind are fine); after a sync it says so, with both times and how to set the
    clock, until the clock is set right, and meanwhile the dates it fills in and
    checks follow the server's day (the real today is not "in the future")."""
    tree = import_provinces(db.session, TWO_LEVEL, ["33"])
    add_areas(db.session, tree, ["12619.01.1"])
    db.session.commit()
    phone = Phone(tmp_path / "phone", sqlite_app.test_client(), "12619.01.1", "Lò Thị Ánh")
    core = phone.core
    phone.offset = -10 * 60 * 1000  # ten minutes: nothing to say
    assert core.sync().error is None and core.clock_off() is None
    phone.offset = -3 * DAY
    household = core.save_entity("household", {"number": "1", "address": "Bản Mường"}).id
    assert core.sync().error is None and core.outbox_counts() == {APPLIED: 1}
    off = core.clock_off()
    assert off is not None and off.code == "app_clock_off"
    behind = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))) - dt.timedelta(days=3)
    assert behind.strftime("%d/%m/%Y") in off.vi and "Ngày và giờ" in off.vi
    # the dates it fills in and checks follow the server's day, not its clock
    real = today_vn()
    assert core.today() == real
    born = core.save_entity("member", {
        "full_name": "Lò Văn Bé", "relation": "child", "sex": "male", "ethnicity": "thai",
        "birth_date": real.isoformat(), "marital_status": "single",
        "residence_status": "present"}, context={"household_id": household})
    assert born.ok, born.errors  # the real today, days after the phone's, is not refused
    assert core.save_entity("member", {"birth_date": (real + dt.timedelta(days=2)).isoformat()},
                            born.id).errors  # two days after it still is
    assert today_vn() == real  # the correction stays in the app's checks
    phone.offset = 0  # the clock set right, no sync yet: the phone's own clock again,
    assert core.today() == real and core.clock_off() is None  # and nothing more to say
    assert core.sync().error is None and core.clock_off() is None

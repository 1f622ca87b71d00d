"""Several devices, random operations, random delivery: everyone converges (DESIGN §3.4–3.6).

Each example takes a fresh area. One device registers households and members and
everyone pulls; then every device edits, records events and distributions and
voids, offline; the operations are cut into batches, some re-sent whole or
overlapping, and all delivered in a random order (a hand-carried file overtaking
a later network batch). Afterwards:

* every operation is stored exactly once, none is lost, none waits or is refused;
* each field holds the value of the write with the greatest stamp (an oracle
  computed from the operations, not from the server);
* the conflicts recorded are exactly the concurrent, disagreeing pairs;
* each member's stored state equals a full fold of their surviving events;
* every device, after pulling, holds exactly the server's register.
"""

from __future__ import annotations

import itertools
import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from a0core.merge import Write, conflicting, stamp_of
from a0core.projection import EventRef, member_state
from server.extensions import db
from server.models.register import Event, Household, Member
from server.models.sync import Conflict, SyncOp
from server.sync.runtime import HOOKS_KEY
from tests.support.register import household, member, new_id, snapshot, unique_name
from tests.support.sim import SimDevice

CI = os.environ.get("CI") == "true"
_areas = itertools.count(1)

NAMES = ["Nguyễn Văn Hùng", "Nguyễn Văn Hưng", "Trần Thị Mai", "Lê Thị Hoa", "Phạm Văn Nam"]
ADDRESSES = ["Thôn Đông", "Xóm 3", "Tổ 5", "Bản Na", None]


def _examples() -> int:
    """500 under CI: about 2½ minutes of the 30-minute budget on two cores."""
    return int(os.environ.get("A0SYNC_PROPERTY_EXAMPLES", 500 if CI else 60))


def run_program(app, data) -> None:
    # The sync core alone: roll-ups and duplicate detection run after every batch in
    # production and have their own order/duplication property tests; leaving them
    # out here buys the 1,000 examples this test needs within the CI budget.
    app.extensions.pop(HOOKS_KEY, None)
    client = app.test_client()
    area = f"12619.90.{next(_areas)}"
    devices = [SimDevice(app, area=area) for _ in range(data.draw(st.integers(2, 3)))]
    owner = devices[0]
    tag = unique_name().split(" ", 1)[1]  # people of different examples never look alike

    # registration, synced and pulled by everyone
    households = [new_id() for _ in range(data.draw(st.integers(1, 3)))]
    members: dict[str, str] = {}
    for n, hh in enumerate(households):
        owner.upsert("household", hh, household(area, str(n + 1)))
        for _ in range(data.draw(st.integers(1, 2))):
            mid = new_id()
            members[mid] = hh
            owner.upsert("member", mid, member(hh, name=unique_name(), sex="female"))
    owner.send(client, owner.seal())
    for device in devices:
        device.pull(client)

    # offline work; sometimes a device syncs midway, so some edits are sequential
    events: list[str] = []
    for _ in range(data.draw(st.integers(1, 14))):
        device = data.draw(st.sampled_from(devices))
        action = data.draw(st.sampled_from(["name", "address", "number", "event", "dist",
                                            "void", "sync"]))
        mid = data.draw(st.sampled_from(sorted(members)))
        hh = members[mid]
        if action == "name":
            name = data.draw(st.sampled_from(NAMES))
            device.upsert("member", mid, {"full_name": f"{name} {tag}"})
        elif action == "address":
            device.upsert("household", hh, {"address": data.draw(st.sampled_from(ADDRESSES))})
        elif action == "number":
            device.upsert("household", hh, {"number": str(data.draw(st.integers(1, 3)))})
        elif action == "event":
            form = data.draw(st.sampled_from(["marriage", "divorce", "move_out", "death"]))
            record = {"id": new_id(), "household_id": hh, "member_id": mid,
                      "event_date": f"2025-0{data.draw(st.integers(1, 9))}-15"}
            if form == "move_out":
                record["to_scope"] = "other_province"
            device.event(form, record)
            events.append(record["id"])
        elif action == "dist":
            device.distribution({"id": new_id(), "area_code": area, "household_id": hh,
                                 "method": "condom", "quantity": 5,
                                 "distributed_on": "2025-05-05"})
        elif action == "void" and events:
            device.void("event", data.draw(st.sampled_from(events)))
        elif action == "sync" and device.outbox:
            device.send(client, device.seal())
            device.pull(client)

    # cut each outbox into batches, add re-sends and overlaps, shuffle, deliver
    sent: dict[str, list[dict]] = {d.id: list(d.outbox) for d in devices}
    deliveries: list[tuple[SimDevice, list[dict]]] = []
    for device in devices:
        ops = list(device.outbox)
        while ops:
            size = data.draw(st.integers(1, max(1, len(ops))))
            deliveries.append((device, ops[:size]))
            if data.draw(st.booleans()):
                deliveries.append((device, ops[:size]))  # sent again
            ops = ops[size:]
        if len(device.outbox) > 1 and data.draw(st.booleans()):
            deliveries.append((device, device.outbox[: len(device.outbox) // 2 + 1]))
    random.Random(data.draw(st.integers(0, 2**32 - 1))).shuffle(deliveries)
    for device, batch in deliveries:
        body = device.send(client, device.seal(batch))
        assert all(v["verdict"] != "rejected" for v in body["receipt"]["verdicts"]), body
    for device in devices:
        device.pull(client)
    db.session.expire_all()
    check(area, devices, sent)


def check(area: str, devices: list[SimDevice], sent: dict[str, list[dict]]) -> None:
    # 1. every operation stored exactly once, decided
    for device in devices:
        rows = db.session.scalars(select(SyncOp).where(SyncOp.device_id == device.id)).all()
        assert sorted(r.seq for r in rows) == list(range(1, device.seq + 1))
        assert {r.status for r in rows} <= {"applied", "conflict"}

    # 2. the greatest stamp wins, field by field
    writes: dict[tuple[str, str], list[Write]] = {}
    for device in devices:
        all_ops = db.session.scalars(select(SyncOp).where(SyncOp.device_id == device.id,
                                                          SyncOp.type == "upsert")).all()
        for op in all_ops:
            base = op.payload.get("base") or {}
            for name, value in op.payload["fields"].items():
                writes.setdefault((op.entity_id, name), []).append(
                    Write(name, value, (op.hlc, device.id), stamp_of(base.get(name))))
    for (entity_id, name), ws in writes.items():
        row = db.session.get(Household, entity_id) or db.session.get(Member, entity_id)
        winner = max(ws, key=lambda w: w.stamp)
        assert row.data.get(name) == winner.value
        assert tuple(row.clocks[name]) == winner.stamp

    # 3. conflicts are exactly the concurrent, disagreeing pairs
    expected = set()
    for (entity_id, name), ws in writes.items():
        for a, b in itertools.combinations(ws, 2):
            if conflicting(a, b):
                lo, hi = sorted((a.stamp, b.stamp))
                expected.add((entity_id, name, lo, hi))
    recorded = {(c.entity_id, c.field, (c.a_hlc, c.a_device), (c.b_hlc, c.b_device))
                for c in db.session.scalars(select(Conflict).where(Conflict.area_code == area))}
    assert recorded == expected

    # 4. stored member state = a full fold of the surviving events
    for m in db.session.scalars(select(Member).where(Member.area_code == area)):
        own = [EventRef(e.form, e.payload, e.hlc, e.device_id) for e in db.session.scalars(
            select(Event).where(Event.member_id == m.id, ~Event.voided))]
        state = member_state(m.id, m.data, m.clocks, own)
        assert (m.residence_status, m.marital_status) == (state["residence_status"],
                                                          state["marital_status"])

    # 5. every device holds the server's register
    server = snapshot(area)
    for device in devices:
        assert device.unacked == {}
        local = {}
        for eid, e in device.replica.entities.items():
            local[eid] = {"data": e["data"], "deleted": e.get("deleted", False)}
        for fid, f in device.replica.facts.items():
            if f["form"] == "distribution":
                local[fid] = {"voided": f["voided"], "quantity": f["record"]["quantity"]}
            else:
                local[fid] = {"form": f["form"], "record": f["record"], "voided": f["voided"]}
        assert local == server
    assert sent  # the program produced operations to deliver


@settings(max_examples=_examples(), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])
@given(data=st.data())
def test_random_delivery_converges_sqlite(sqlite_app, data) -> None:
    run_program(sqlite_app, data)


@settings(max_examples=max(20, _examples() // 10),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_delivery_converges_postgresql(postgresql_app, data) -> None:
    run_program(postgresql_app, data)

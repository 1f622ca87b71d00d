"""Paging of the district feeds is complete and exactly-once under concurrent writes.

Hypothesis interleaves batches from devices in three places (inside the
district reader's scope, elsewhere in its province, and in another province)
with page reads of random size by two readers (a district system and a
national one) on every feed. Afterwards each reader drains its feeds, and:

* every delivered item is in the reader's scope (written out by hand);
* the same version of a row (id, seq) never comes twice, and a row comes again
  only with a higher sequence — after it changed;
* the last version delivered of each row equals the row's final state in the
  database, and every row in scope written during the run was delivered: the
  union of pages is the final state, nothing missed, updates re-delivered;
* each page is in (province, sequence) order.

Each example starts its readers from a cursor taken at its start, so rows of
earlier examples (same database) are outside what it judges.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.extensions import db
from server.models.register import Distribution, Event, Household, Member
from tests.support.district import AREAS, build_world, read_all, visible_areas
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

CI = os.environ.get("CI") == "true"
FEEDS = {"households": Household, "members": Member, "events": Event,
         "distributions": Distribution}
READERS = ("huyen.001", "quantri")
PLACES = ("00004.01.1", "00037.01.1", "00688.01.1")  # in district 001, province 01, province 02
NAMES = ["Nguyễn Văn Hùng", "Nguyen Van Hung", "Trần Thị Mai", "Lê Thị Hoa"]


def _examples() -> int:
    return int(os.environ.get("A0SYNC_DISTRICT_PAGING_EXAMPLES", 60 if CI else 20))


def _content(feed: str, row) -> dict:
    if feed in ("households", "members"):
        return {"seq": row.seq, "data": row.data, "deleted": row.deleted}
    if feed == "events":
        return {"seq": row.seq, "payload": row.payload, "voided": row.voided}
    return {"seq": row.seq, "quantity": row.quantity, "voided": row.voided}


def _item_content(feed: str, item: dict) -> dict:
    keys = {"households": ("seq", "data", "deleted"), "members": ("seq", "data", "deleted"),
            "events": ("seq", "payload", "voided"),
            "distributions": ("seq", "quantity", "voided")}[feed]
    return {k: item[k] for k in keys}


class Program:
    def __init__(self, app, world, data) -> None:
        self.client = app.test_client()
        self.world, self.data = world, data
        self.devices = {area: SimDevice(app, area=area, commune=AREAS[area][0],
                                        province=AREAS[area][2]) for area in PLACES}
        self.households: dict[str, list[str]] = {a: [] for a in PLACES}
        self.members: dict[str, list[tuple[str, str]]] = {a: [] for a in PLACES}
        self.events: dict[str, list[str]] = {a: [] for a in PLACES}
        self.dists: dict[str, list[str]] = {a: [] for a in PLACES}
        self.written: set[str] = set()
        self.deleted: set[str] = set()
        # each reader starts from "now", so only this example's rows are judged
        self.cursors = {(r, f): read_all(self.client, world, r, f, limit=5000)[1]
                        for r in READERS for f in FEEDS}
        self.delivered: dict[tuple[str, str], list[dict]] = {k: [] for k in self.cursors}

    def draw(self, strategy):
        return self.data.draw(strategy)

    def write(self) -> None:
        area = self.draw(st.sampled_from(PLACES))
        device = self.devices[area]
        for _ in range(self.draw(st.integers(1, 4))):
            action = self.draw(st.sampled_from(
                ["household", "name", "address", "event", "dist", "void", "void_dist",
                 "delete"]))
            live = [m for m in self.members[area] if m[0] not in self.deleted]
            if action == "household" or not live:
                hh, mid = new_id(), new_id()
                device.upsert("household", hh, household(area, str(len(self.households[area]))))
                device.upsert("member", mid, member(hh, name=self.draw(st.sampled_from(NAMES))))
                self.households[area].append(hh)
                self.members[area].append((mid, hh))
                self.written |= {hh, mid}
                continue
            mid, hh = self.draw(st.sampled_from(live))
            if action == "name":
                device.upsert("member", mid, {"full_name": self.draw(st.sampled_from(NAMES))})
            elif action == "address":
                device.upsert("household", hh, {"address": f"Xóm {self.draw(st.integers(1, 9))}"})
            elif action == "event":
                eid = new_id()
                device.event("marriage", {"id": eid, "household_id": hh, "member_id": mid,
                                          "event_date": "2025-04-0" + str(self.draw(
                                              st.integers(1, 9)))})
                self.events[area].append(eid)
                self.written.add(eid)
            elif action == "dist":
                did = new_id()
                device.distribution({"id": did, "area_code": area, "household_id": hh,
                                     "method": "condom",
                                     "quantity": self.draw(st.integers(1, 30)),
                                     "distributed_on": "2025-05-05"})
                self.dists[area].append(did)
                self.written.add(did)
            elif action == "void" and self.events[area]:
                device.void("event", self.draw(st.sampled_from(self.events[area])))
            elif action == "void_dist" and self.dists[area]:
                device.void("distribution", self.draw(st.sampled_from(self.dists[area])))
            elif action == "delete":
                device._op("delete", "member", mid, {})
                self.deleted.add(mid)
        if not device.outbox:  # only voids with nothing to void
            return
        body = device.send(self.client, device.seal())
        assert {v["verdict"] for v in body["receipt"]["verdicts"]} <= {"applied"}, body

    def read(self, reader: str, feed: str, limit: int) -> bool:
        params = {"limit": limit, "cursor": self.cursors[reader, feed]}
        resp = self.client.get(f"/api/v1/district/{feed}", query_string=params,
                               headers=self.world.headers(reader))
        assert resp.status_code == 200, resp.get_json()
        page = resp.get_json()
        assert len(page["items"]) <= limit
        order = [(i["province_code"], i["seq"]) for i in page["items"]]
        assert order == sorted(order) and len(set(order)) == len(order)
        self.delivered[reader, feed].extend(page["items"])
        self.cursors[reader, feed] = page["cursor"]
        return page["more"]

    def check(self) -> None:
        db.session.expire_all()
        for (reader, feed), items in self.delivered.items():
            model = FEEDS[feed]
            scope = visible_areas(reader)
            assert {i["area_code"] for i in items} <= scope, (reader, feed)
            versions = [(i["id"], i["seq"]) for i in items]
            assert len(set(versions)) == len(versions), "a version came twice"
            latest: dict[str, dict] = {}
            for item in items:
                if item["id"] in latest:
                    assert item["seq"] > latest[item["id"]]["seq"], "came back without change"
                latest[item["id"]] = item
            expected = {row.id: _content(feed, row) for row in db.session.scalars(
                select(model).where(model.id.in_(self.written),
                                    model.area_code.in_(sorted(scope))))}
            got = {i: _item_content(feed, item) for i, item in latest.items()}
            assert got == expected, (reader, feed)


def run(app, world, data) -> None:
    program = Program(app, world, data)
    for _ in range(data.draw(st.integers(1, 16))):
        if data.draw(st.integers(0, 2)) == 0:
            program.write()
        else:
            program.read(data.draw(st.sampled_from(READERS)),
                         data.draw(st.sampled_from(sorted(FEEDS))),
                         data.draw(st.integers(1, 6)))
    for reader in READERS:  # drain, with random page sizes
        for feed in FEEDS:
            while program.read(reader, feed, data.draw(st.integers(1, 6))):
                pass
    program.check()


@pytest.fixture
def sqlite_world(sqlite_app):
    return build_world(db.session)


@pytest.fixture
def postgresql_world(postgresql_app):
    return build_world(db.session)


@settings(max_examples=_examples(), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])
@given(data=st.data())
def test_paging_is_complete_and_exactly_once_sqlite(sqlite_app, sqlite_world, data) -> None:
    run(sqlite_app, sqlite_world, data)


@settings(max_examples=max(8, _examples() // 4),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_paging_is_complete_and_exactly_once_postgresql(postgresql_app, postgresql_world,
                                                        data) -> None:
    run(postgresql_app, postgresql_world, data)

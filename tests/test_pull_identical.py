"""The prepared pull (issue 19, part 4: statements built once, rows read as tuples, the
page encoded without a walk over every value first) gives the device the very bytes
the page was before: every page of a generated area, at several page sizes, with
every kind of change (aliases, conflicts, verdicts, tombstones, a float and a number-
like string in the data), against ``tests/support/pull_reference.py``; and, asked with
its clocks packed, the same page with each change's clocks packed by stamp."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from a0core.clocks import pack
from a0core.envelope import canonical_decoded, canonical_json
from a0core.hlc import HybridClock
from server.extensions import db
from server.models import Device
from server.models.register import Household, Member
from server.models.sync import Alias, Conflict, SyncOp
from server.register.bulk import Writer, load_area
from server.register.sequence import allocate
from server.sync.pull import PACKED, pull_page
from server.synthetic import generate_area
from tests.support import pull_reference
from tests.support import reform as world
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice

AREA, VILLAGE, COMMUNE, PROVINCE = "12619.01.1", "12619.01", "12619", "33"
NOW = dt.datetime(2026, 12, 4, 3, tzinfo=dt.UTC)


def _world(app) -> SimDevice:
    session = db.session
    area = generate_area(7, AREA, VILLAGE, "Xã Diên Hà", 12,
                         (dt.date(2026, 5, 1), dt.date(2026, 11, 30)))
    load_area(session, area, PROVINCE, COMMUNE, Writer("loader", HybridClock().now()))
    session.commit()
    sim = SimDevice(app, area=AREA, commune=COMMUNE, province=PROVINCE)
    hid, mid = new_id(), new_id()  # the device's own writes: verdicts and a conflict's entity
    sim.upsert("household", hid, household(AREA, "900"))
    sim.upsert("member", mid, member(hid))
    sim.send(app.test_client(), sim.seal())
    members = session.scalars(select(Member).where(Member.area_code == AREA)
                              .order_by(Member.seq)).all()
    odd = members[3]  # a float, an exponent the encoders write differently, number-like text
    session.execute(update(Member).where(Member.id == odd.id).values(
        data={**odd.data, "weight_kg": 3.25, "tiny": 1e-05, "note": "x:1.5 [2e-5"},
        seq=allocate(session, PROVINCE, 1)))
    session.execute(update(Member).where(Member.id == members[4].id).values(
        deleted=True, merged_into=members[5].id, seq=allocate(session, PROVINCE, 1)))
    session.execute(update(Household).where(Household.id == hid).values(
        seq=members[6].seq))  # a number two sources share
    session.add(Alias(old_id=members[4].id, survivor_id=members[5].id, entity="member",
                      province_code=PROVINCE, commune_code=COMMUNE, area_code=AREA,
                      merged_by="test", seq=allocate(session, PROVINCE, 1)))
    session.add(Conflict(entity="member", entity_id=mid, field="full_name",
                         province_code=PROVINCE, commune_code=COMMUNE, area_code=AREA,
                         a_hlc=1, a_device=sim.id, a_value="Lê Thị A", b_hlc=2,
                         b_device="server", b_value={"n": 1.5}, status="resolved",
                         resolved_value="Lê Thị B", seq=allocate(session, PROVINCE, 1)))
    op = session.scalars(select(SyncOp).where(SyncOp.device_id == sim.id)).first()
    op.change_seq, op.code = allocate(session, PROVINCE, 1), "member_unknown"
    op.detail = {"message_vi": "Không", "message_en": "No", "warnings": [{"code": "w"}],
                 "conflicts": [1]}
    session.commit()
    return sim


def _pages_match(session, device_id: str, limit: int) -> set[str]:
    """Walk the whole download both ways, page by page; the kinds of change seen."""
    cursor, pages, kinds = 0, 0, set()
    while True:
        device = session.get(Device, device_id)
        before = pull_reference.pull_page(session, device, cursor, limit, now=NOW)
        session.rollback()
        device = session.get(Device, device_id)
        after = pull_page(session, device, cursor, limit, now=NOW)
        session.rollback()
        assert canonical_decoded(after) == canonical_json(after) == canonical_json(before)
        device = session.get(Device, device_id)  # asked packed: the same, clocks packed
        packed = pull_page(session, device, cursor, limit, now=NOW, clocks=PACKED)
        session.rollback()
        for change in before["changes"]:
            if "clocks" in change:
                change["clocks"] = pack(change["clocks"])
        assert canonical_decoded(packed) == canonical_json(packed) == canonical_json(before)
        kinds |= {c["kind"] for c in after["changes"]}
        kinds |= {"verdict"} if after["verdicts"] else set()
        cursor, pages = after["cursor"], pages + 1
        if not after["more"]:
            return kinds


def test_the_place_and_villages_are_the_same_bytes_as_before(app) -> None:
    """An area of an imported org-unit tree: names, and the commune's villages."""
    session = db.session
    areas = world.build(session, {"06010": 3}, villages=3)
    session.commit()
    sim = SimDevice(app, area=areas["06010"][0], commune="06010", province="20")
    assert pull_page(session, session.get(Device, sim.id), 0)["place"]["villages"]
    session.rollback()
    for limit in (40, 5000):
        assert "member" in _pages_match(session, sim.id, limit)


@pytest.mark.parametrize("limit", [1, 7, 50, 5000])
def test_every_page_is_the_same_bytes_as_before(app, limit: int) -> None:
    sim = _world(app)
    assert _pages_match(db.session, sim.id, limit) == {
        "household", "member", "event", "distribution", "alias", "conflict", "verdict"}

"""Pull pages bounded by change numbers (issue 19, part 4): every change once, whatever
the page size, a number shared at a page's edge not split, and the page's place the
same as the enrolment profile's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from a0core.clocks import pack, unpack
from a0core.envelope import open_from_server, sign_request
from a0core.sync_client import _unpack_clocks
from server.extensions import db
from server.models import Device, DeviceSync
from server.models.register import Household, Member
from server.security.enrolment import device_profile
from server.sync.pull import _wire_clocks, pull_page
from tests.support import reform as world
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice


def _register(app, device: SimDevice, households: int = 6) -> None:
    client = app.test_client()
    for n in range(households):
        hid = new_id()
        device.upsert("household", hid, household(device.area, str(100 + n)))
        for _ in range(2):
            device.upsert("member", new_id(), member(hid))
    device.send(client, device.seal())


def _walk(session, device: Device, limit: int) -> tuple[list[tuple[str, str]], int]:
    seen, cursor, pages = [], 0, 0
    while True:
        page = pull_page(session, device, cursor, limit)
        session.commit()
        seen += [(c["kind"], c["id"]) for c in page["changes"]]
        assert page["cursor"] >= cursor
        cursor, pages = page["cursor"], pages + 1
        if not page["more"]:
            return seen, pages


def test_every_page_size_brings_every_change_once(app) -> None:
    sim = SimDevice(app)
    _register(app, sim)
    session = db.session
    device = session.get(Device, sim.id)
    whole, _ = _walk(session, device, 5000)
    assert len(whole) == 18 and len(set(whole)) == 18
    for limit in (1, 2, 5, 7, 17):
        seen, pages = _walk(session, device, limit)
        assert seen == whole, limit
        assert pages == -(-18 // limit), limit  # the page that ends it says "no more"


def test_a_number_shared_at_a_page_edge_is_not_split(app) -> None:
    """Change numbers are unique in a province, but a page must not rely on it: two rows
    of different tables with one number both come in the page that ends there."""
    sim = SimDevice(app)
    _register(app, sim, households=3)
    session = db.session
    first_member = session.scalars(select(Member).where(Member.area_code == sim.area)
                                   .order_by(Member.seq)).first()
    hid = session.scalars(select(Household.id).where(Household.area_code == sim.area)
                          .order_by(Household.seq)).first()
    session.execute(update(Household).where(Household.id == hid)
                    .values(seq=first_member.seq))
    session.commit()
    device = session.get(Device, sim.id)
    whole, _ = _walk(session, device, 5000)
    assert len(set(whole)) == 9
    for limit in (1, 2, 3):
        seen, _ = _walk(session, device, limit)
        assert sorted(seen) == sorted(whole), limit


def test_a_pull_records_the_cursor_without_going_back(app) -> None:
    sim = SimDevice(app)
    _register(app, sim, households=2)
    session = db.session
    device = session.get(Device, sim.id)
    pull_page(session, device, 4)
    session.commit()
    pull_page(session, device, 2)
    session.commit()
    state = session.get(DeviceSync, sim.id)
    session.refresh(state)
    assert state.pull_cursor == 4 and state.last_pull_at is not None


def test_the_place_on_each_page_is_the_enrolment_profiles(app) -> None:
    session = db.session
    areas = world.build(session, {"06010": 4, "06001": 4}, villages=2)
    session.commit()
    for area, commune in ((areas["06010"][0], "06010"), (areas["06001"][-1], "06001")):
        sim = SimDevice(app, area=area, commune=commune, province="20")
        device = session.get(Device, sim.id)
        profile = device_profile(session, device)
        place = pull_page(session, device, 0)["place"]
        session.rollback()
        assert place == {k: profile[k] for k in ("area", "commune", "province", "villages")}
        assert place["villages"] and place["commune"]["name"] != commune
    # an area outside the current tree: codes for names, no villages, as before
    sim = SimDevice(app, area="99999.01.1", commune="99999", province="99")
    device = session.get(Device, sim.id)
    assert pull_page(session, device, 0)["place"] == {
        k: v for k, v in device_profile(session, device).items()
        if k in ("area", "commune", "province", "villages")}


_stamps = st.tuples(st.integers(0, 2**53), st.sampled_from(["dev-a", "dev-b", "server"]))


@given(st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=8), _stamps, max_size=12))
def test_the_wire_clocks_are_what_unpacking_gives(clocks) -> None:
    """The pull's own expansion of stored clocks (no copy per field) gives what
    :func:`a0core.clocks.unpack` gives, from the packed form and from the old one."""
    stored = {name: list(stamp) for name, stamp in clocks.items()}
    assert _wire_clocks(pack(stored)) == unpack(pack(stored)) == stored
    assert _wire_clocks(stored) == stored and _wire_clocks(None) is None


def test_clocks_come_as_the_device_asks(app) -> None:
    """An app of before issue 19 (no ``clocks=``) reads ``{field: [hlc, device]}``; the
    app now asks them packed by stamp and unpacks them to the very same clocks."""
    sim = SimDevice(app)
    _register(app, sim, households=2)
    client = app.test_client()

    def page(extra: str) -> dict:
        path = f"/api/v1/sync/pull?cursor=0&kid={sim.server_key.kid}{extra}"
        resp = client.get(path, headers=sign_request("GET", path, b"", sim.keys,
                                                     device_id=sim.id))
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return open_from_server(resp.get_data(), sim.keys, sim.server_key, device_id=sim.id)

    fields, packed = page(""), page("&clocks=packed")
    entities = [c for c in fields["changes"] if c["kind"] in ("household", "member")]
    assert len(entities) == 6 and all(isinstance(c["clocks"], dict) for c in entities)
    assert all(isinstance(c["clocks"], list) for c in packed["changes"]
               if c["kind"] in ("household", "member"))
    assert page("&clocks=fields")["changes"] == fields["changes"] != packed["changes"]
    _unpack_clocks(packed["changes"])
    assert packed["changes"] == fields["changes"]

"""The district API's feed of stock movements (issue 17): each account reads exactly
the movements of what its scope covers — collaborators' and the stations' — no
person-level right needed, paged by the change sequence."""

from __future__ import annotations

from server.extensions import db
from server.logistics import station
from server.security.scope import Scope
from server.sync.runtime import ingest_context
from tests.support.district import ACCOUNTS, AREAS, build_world, read_all, visible_areas
from tests.support.register import new_id
from tests.support.sim import SimDevice


def test_stock_movement_feed_by_scope(app, client, session) -> None:
    world = build_world(session)
    ctx = ingest_context(app)
    expected: dict[str, str] = {}  # movement id → area ("" + commune for a station)
    for area, (commune, _district, province) in AREAS.items():
        device = SimDevice(app, area=area, commune=commune, province=province)
        loss = new_id()
        device.stock("stock_loss", {"id": loss, "area_code": area, "method": "pill",
                                    "quantity": 2, "lost_on": "2025-04-02",
                                    "reason": "expired"})
        assert device.send(client, device.seal())["receipt"]["verdicts"][0]["verdict"] == \
            "applied"
        expected[loss] = area
        staff = Scope("user:test", "province", province, person_level=True)
        receipt = station.record(db.session, ctx, staff, commune, "stock_receipt", {
            "method": "pill", "quantity": 40, "supplier": "district",
            "received_on": "2025-04-01"})
        db.session.commit()
        expected[receipt] = area  # the station of the area's commune
    for account in ACCOUNTS:
        items, _cursor, _pages = read_all(client, world, account, "stock_movements", limit=3)
        seen = {i["id"] for i in items}
        want = {m for m, area in expected.items() if area in visible_areas(account)}
        assert seen == want, account
        assert len(items) == len(seen)  # each once, across pages
        assert all(i["area_code"] in ("", *AREAS) for i in items)

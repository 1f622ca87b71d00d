"""A small world for dashboard tests: real org units, staff of every role, simulated
devices that really synced (batches, a sequence gap, conflicts), and a logged-in
test client that posts forms with their CSRF token like a browser does."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from server.extensions import db
from server.models.people import Device
from server.models.sync import Conflict, SyncBatch
from server.security.users import create_user
from tests.conftest import THREE_LEVEL
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice
from tests.support.units import add_areas, import_provinces

PASSWORD = "Hoa phượng đỏ 2026"

# Hà Nội (01): district 001 holds communes 00001 and 00004, district 002 holds 00037;
# Hà Giang (02) holds 00688.
AREAS = {"C": "00001.01.1", "C2": "00001.02.1", "same district": "00004.01.1",
         "same province": "00037.01.1", "other province": "00688.01.1"}
USERS = {  # username → (role, unit)
    "canboxa": ("commune_staff", "00001"),
    "huyen": ("district_staff", "001"),
    "tinh": ("province_staff", "01"),
    "quantri": ("admin", None),
    "xa.hagiang": ("commune_staff", "00688"),
}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    devices: dict[str, SimDevice] = field(default_factory=dict)   # by AREAS key
    conflicts: dict[str, int] = field(default_factory=dict)       # by AREAS key
    batches: dict[str, str] = field(default_factory=dict)         # one batch id per AREAS key
    names: dict[str, str] = field(default_factory=dict)           # collaborator name per key


def _sim(app: Flask, key: str, name: str) -> SimDevice:
    area = AREAS[key]
    commune = area.split(".")[0]
    province = "02" if key == "other province" else "01"
    device = SimDevice(app, area=area, commune=commune, province=province)
    device_row = db.session.get(Device, device.id)
    device_row.collaborator.full_name = name
    device_row.label = f"Máy {name.split()[-1]}"
    db.session.commit()
    return device


def _conflict(app: Flask, client, first: SimDevice, second: SimDevice) -> int:
    hh, mum = new_id(), new_id()
    first.upsert("household", hh, household(first.area))
    first.upsert("member", mum, member(hh))
    first.send(client, first.seal())
    second.pull(client)
    first.upsert("member", mum, {"marital_status": "divorced"})
    second.upsert("member", mum, {"marital_status": "widowed"})
    second.send(client, second.seal())
    first.send(client, first.seal())
    return db.session.scalars(select(Conflict.id).where(Conflict.entity_id == mum)).one()


def build_world(app: Flask) -> World:
    session = db.session
    tree = import_provinces(session, THREE_LEVEL, ["01", "02"])
    add_areas(session, tree, AREAS.values())
    for username, (role, unit) in USERS.items():
        create_user(session, username, f"Cán bộ {username}", PASSWORD, role, unit)
    session.commit()
    client = app.test_client()
    world = World()
    names = {"C": "Nguyễn Thị Hoa", "C2": "Lê Văn Bình", "same district": "Phạm Thị Mai",
             "same province": "Đỗ Văn Nam", "other province": "Vàng Thị Dợ"}
    for key, name in names.items():
        world.devices[key] = _sim(app, key, name)
        world.names[key] = name
    # conflicts: two devices of one area each (commune C and the other province)
    partner_c = _sim(app, "C", "Trần Văn Cường")
    world.conflicts["C"] = _conflict(app, client, world.devices["C"], partner_c)
    partner_p = _sim(app, "other province", "Giàng A Páo")
    world.conflicts["other province"] = _conflict(app, client, world.devices["other province"],
                                                  partner_p)
    # the other devices sync once; the C2 device's operations 2–3 never arrive (a gap)
    for key in ("C2", "same district", "same province"):
        device = world.devices[key]
        hh = new_id()
        ops = [device.upsert("household", hh, household(device.area, str(n))) if n == 1 else
               device.upsert("household", hh, {"number": str(n)}) for n in range(1, 5)]
        if key == "C2":
            device.send(client, device.seal(ops[:1]))
            device.send(client, device.seal(ops[3:]))
        else:
            device.send(client, device.seal(ops))
    for key, device in world.devices.items():
        world.batches[key] = session.scalars(select(SyncBatch.id).where(
            SyncBatch.device_id == device.id).order_by(SyncBatch.received_at)).first()
    return world


def log_in(client, user) -> str:
    """Log ``client`` in as ``user`` without the form: a real server session, its token
    in the signed cookie (what the login form leaves behind)."""
    from server.security.session import SESSION_KEY
    from server.security.web_sessions import open_session

    token = open_session(db.session, user)
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session[SESSION_KEY] = token
    return token


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


class Browser:
    """A test client that fetches a form page first and posts with its CSRF token."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self._token: str | None = None  # one token per session: kept until the session changes

    def get(self, path: str, **kwargs: Any):
        return self.client.get(path, **kwargs)

    def token(self, page: str = "/login") -> str:
        return csrf_token(self.client.get(page).get_data(as_text=True))

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any):
        """POST a form with the session's CSRF token (read from the page's logout form)."""
        data = dict(data or {})
        self._token = self._token or self.token("/dashboard/")
        data["csrf_token"] = self._token
        response = self.client.post(path, data=data, **kwargs)
        if path in ("/logout", "/login", "/login/totp"):
            self._token = None
        return response

    def login(self, username: str, password: str = PASSWORD):
        self._token = None
        token = self.token("/login")
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token})


def load_synthetic_commune(commune_code: str, households: int, seed: int = 7) -> int:
    """Villages, areas, a realistic register and one collaborator per area for a commune
    of the imported list, loaded the way ``a0sync demo`` loads its commune. Returns the
    number of areas."""
    import datetime as dt

    from a0core.hlc import HybridClock
    from server.models.orgunits import LEVEL_VILLAGE
    from server.models.people import Collaborator
    from server.orgunits.formats import UnitSpec
    from server.orgunits.importer import upsert_local_units
    from server.orgunits.queries import unit_by_code
    from server.register.bulk import Writer, load_area
    from server.synthetic import generate_commune, local_units

    session = db.session
    commune = unit_by_code(session, commune_code)
    units = local_units(commune_code, n_villages=3, seed=seed)
    upsert_local_units(session, commune.tree, [
        UnitSpec(u.code, u.level, u.name, u.name, None, u.parent_code, commune.province_code)
        for u in units])
    period = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    writer = Writer("server", HybridClock().now())
    areas = 0
    for area in generate_commune(seed, commune_code, commune.full_name, households, period,
                                 villages=[u for u in units if u.level == LEVEL_VILLAGE]):
        load_area(session, area, commune.province_code, commune_code, writer)
        session.add(Collaborator(full_name=area.collaborator_name, area_code=area.area_code,
                                 commune_code=commune_code, province_code=commune.province_code))
        areas += 1
    session.commit()
    return areas


@contextmanager
def served_in_thread(app: Flask) -> Iterator[str]:
    """``app`` on a free localhost port, served by threads of this process (the test
    keeps its app context and sees the same database); yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        db.session.remove()
        db.engine.dispose()

"""A small real world for the district API: two provinces, web users with tokens, devices.

On the real 2025-03 three-level list: Hà Nội (01) → district 001 Ba Đình →
communes 00001 and 00004; district 002 Hoàn Kiếm → 00037; Hà Giang (02) → 00688.
Where each area lies is written out here by hand (not asked of the scope code),
so tests can say which rows each account must see.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from server.security import passwords
from server.security.api_tokens import create_token
from server.security.users import create_user
from tests.conftest import THREE_LEVEL
from tests.support.units import add_areas, import_provinces

PASSWORD = "mật khẩu thử nghiệm"

# area → (commune, district, province)
AREAS: dict[str, tuple[str, str, str]] = {
    "00001.01.1": ("00001", "001", "01"),
    "00001.02.1": ("00001", "001", "01"),
    "00004.01.1": ("00004", "001", "01"),
    "00037.01.1": ("00037", "002", "01"),
    "00688.01.1": ("00688", "024", "02"),
}

# account → (role, unit, person_access)
ACCOUNTS: dict[str, tuple[str, str | None, bool]] = {
    "xa.00001": ("commune_staff", "00001", False),       # commune staff see persons by role
    "huyen.001": ("district_staff", "001", True),
    "huyen.001.tonghop": ("district_staff", "001", False),  # roll-ups only
    "tinh.01": ("province_staff", "01", True),
    "quantri": ("admin", None, False),                  # admins see persons by role
}


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)     # account → bearer token
    token_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[account]}"}


def visible_areas(account: str) -> set[str]:
    """The areas an account must see, from the table above."""
    role, unit, _ = ACCOUNTS[account]
    if role == "admin":
        return set(AREAS)
    index = {"commune_staff": 0, "district_staff": 1, "province_staff": 2}[role]
    return {area for area, place in AREAS.items() if place[index] == unit}


def areas_below(unit: str) -> set[str]:
    return {area for area, place in AREAS.items() if area == unit or unit in place}


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """These accounts never log in with a password: argon2 at its lowest cost saves seconds."""
    saved = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    try:
        yield
    finally:
        passwords._hasher = saved


def build_world(session) -> World:
    tree = import_provinces(session, THREE_LEVEL, ["01", "02"])
    add_areas(session, tree, AREAS)
    world = World()
    for name, (role, unit, person) in ACCOUNTS.items():
        with cheap_password_hashing():
            create_user(session, name, name, PASSWORD, role, unit, person)
        token, row = create_token(session, name, f"hệ thống {name}", created_by="test")
        world.tokens[name] = token
        session.flush()
        world.token_ids[name] = row.id
    session.commit()
    return world


def place_of(area: str) -> dict[str, str]:
    commune, _, province = AREAS[area]
    return {"area": area, "commune": commune, "province": province}


def read_all(client, world: World, account: str, feed: str, *, limit: int = 500,
             cursor: str | None = None, unit: str | None = None
             ) -> tuple[list[dict[str, Any]], str, int]:
    """Every page until ``more`` is false: (items in order, last cursor, pages)."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if unit:
            params["unit"] = unit
        resp = client.get(f"/api/v1/district/{feed}", query_string=params,
                          headers=world.headers(account))
        assert resp.status_code == 200, resp.get_json()
        page = resp.get_json()
        pages += 1
        assert page["count"] == len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["cursor"]
        if not page["more"]:
            return items, cursor, pages

"""Who reaches what: every actor against every kind of row and unit (DESIGN §6).

On the real 2025-03 three-level list (province → district → commune), with
villages and areas added: ``Scope.covers``, ``Scope.covers_unit`` and a real
query through ``Scope.where`` must all give the one expected answer.
"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from server.models.orgunits import OrgGroup, OrgUnit
from server.models.people import Device, User
from server.models.register import Household
from server.orgunits.queries import unit_by_code
from server.security.scope import Scope
from server.security.users import create_user
from tests.conftest import THREE_LEVEL
from tests.support.units import add_areas, import_provinces

PASSWORD = "mật khẩu thử nghiệm"

# Hà Nội (01): district 001 Ba Đình holds communes 00001 and 00004, district 002
# Hoàn Kiếm holds 00037; Hà Giang (02) holds 00688.
ROWS = {
    "same area": "00001.01.1",
    "other area, same commune": "00001.02.1",
    "other commune, same district": "00004.01.1",
    "other district, same province": "00037.01.1",
    "other province": "00688.01.1",
}
UNITS = {"commune C": "00001", "district D": "001", "province P": "01"}

T, F = True, False
EXPECTED_ROWS = {
    "device of area A":          [T, F, F, F, F],
    "revoked device of area A":  [F, F, F, F, F],
    "commune staff of C":        [T, T, F, F, F],
    "district staff of D":       [T, T, T, F, F],
    "province staff of P":       [T, T, T, T, F],
    "admin":                     [T, T, T, T, T],
    "province staff, group of C": [T, T, F, F, F],  # a former district after the reform
    "group of another province": [F, F, F, F, F],
    "inactive commune staff":    [F, F, F, F, F],
    "district role on a commune": [F, F, F, F, F],
    "commune role without unit": [F, F, F, F, F],
    "unknown role":              [F, F, F, F, F],
}
EXPECTED_UNITS = {  # commune C, district D, province P
    "device of area A":          [F, F, F],
    "revoked device of area A":  [F, F, F],
    "commune staff of C":        [T, F, F],
    "district staff of D":       [T, T, F],
    "province staff of P":       [T, T, T],
    "admin":                     [T, T, T],
    "province staff, group of C": [T, F, F],
    "group of another province": [F, F, F],
    "inactive commune staff":    [F, F, F],
    "district role on a commune": [F, F, F],
    "commune role without unit": [F, F, F],
    "unknown role":              [F, F, F],
}


def _device(area: OrgUnit, revoked: bool) -> Device:
    import datetime as dt

    return Device(id=f"dev-{int(revoked)}", collaborator_id=1, area_code=area.code,
                  commune_code=area.commune_code, province_code=area.province_code,
                  sign_public_key="k", box_public_key="k",
                  revoked_at=dt.datetime.now(dt.UTC) if revoked else None)


@pytest.fixture
def world(session) -> dict[str, Scope]:
    tree = import_provinces(session, THREE_LEVEL, ["01", "02"])
    add_areas(session, tree, ROWS.values())
    session.execute(insert(Household), [
        {"id": f"hh-{i}", "number": str(i), "data": {}, "clocks": {}, "area_code": area.code,
         "commune_code": area.commune_code, "province_code": area.province_code}
        for i, area in enumerate(unit_by_code(session, code) for code in ROWS.values())])

    def unit(code: str) -> OrgUnit:
        found = unit_by_code(session, code)
        assert found is not None and found.tree == tree
        return found

    area_a = unit(ROWS["same area"])
    commune_staff = create_user(session, "xa.phucxa", "Cán bộ xã", PASSWORD, "commune_staff",
                                "00001")
    inactive = create_user(session, "xa.nghi", "Đã nghỉ", PASSWORD, "commune_staff", "00001")
    inactive.active = False
    users = {
        "commune staff of C": commune_staff,
        "district staff of D": create_user(session, "huyen.badinh", "Cán bộ huyện", PASSWORD,
                                           "district_staff", "001"),
        "province staff of P": create_user(session, "tinh.hanoi", "Cán bộ tỉnh", PASSWORD,
                                           "province_staff", "01"),
        "admin": create_user(session, "quantri", "Quản trị", PASSWORD, "admin", None),
        "inactive commune staff": inactive,
        "province staff, group of C": User(username="tinh.nhom", full_name="x",
                                           password_hash="x", role="province_staff",
                                           org_unit=unit("01"), group=OrgGroup(
                                               tree=tree, kind="former_district", code="001",
                                               name="Quận Ba Đình", province_code="01",
                                               communes=["00001"])),
        "group of another province": User(username="tinh.nhom2", full_name="x",
                                          password_hash="x", role="province_staff",
                                          org_unit=unit("01"), group=OrgGroup(
                                              tree=tree, kind="former_district", code="024",
                                              name="x", province_code="02",
                                              communes=["00688"])),
        # accounts that could only come from a bug or a hand-edited database
        "district role on a commune": User(username="sai.1", full_name="x", password_hash="x",
                                           role="district_staff", org_unit=unit("00001")),
        "commune role without unit": User(username="sai.2", full_name="x", password_hash="x",
                                          role="commune_staff", org_unit=None),
        "unknown role": User(username="sai.3", full_name="x", password_hash="x",
                             role="superuser", org_unit=unit("01")),
    }
    session.add_all(users.values())
    session.commit()
    scopes = {name: Scope.for_user(session, user) for name, user in users.items()}
    scopes["device of area A"] = Scope.for_device(_device(area_a, revoked=False))
    scopes["revoked device of area A"] = Scope.for_device(_device(area_a, revoked=True))
    assert set(scopes) == set(EXPECTED_ROWS) == set(EXPECTED_UNITS)
    return scopes


def test_scope_matrix(session, world: dict[str, Scope]) -> None:
    area_units = [unit_by_code(session, code) for code in ROWS.values()]
    upper_units = [unit_by_code(session, code) for code in UNITS.values()]
    households = {h.area_code: h.id for h in session.scalars(select(Household))}
    assert len(households) == len(ROWS)

    got_rows, got_where, got_units, got_upper = {}, {}, {}, {}
    for name, scope in world.items():
        got_rows[name] = [scope.covers(u.province_code, u.commune_code, u.code)
                          for u in area_units]
        got_units[name] = [scope.covers_unit(u) for u in area_units]
        visible = set(session.scalars(select(Household.id).where(scope.where(Household))))
        got_where[name] = [households[u.code] in visible for u in area_units]
        got_upper[name] = [scope.covers_unit(u) for u in upper_units]

    assert got_rows == EXPECTED_ROWS
    assert got_units == EXPECTED_ROWS
    assert got_where == EXPECTED_ROWS
    assert got_upper == EXPECTED_UNITS


def test_person_level_access(session, world: dict[str, Scope]) -> None:
    person = {name: scope.person_level for name, scope in world.items()}
    assert person["device of area A"] and person["commune staff of C"] and person["admin"]
    assert not person["district staff of D"] and not person["province staff of P"]
    assert not any(person[name] for name in ("revoked device of area A",
                                             "inactive commune staff", "unknown role"))

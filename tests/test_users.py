"""Web users: creation checks, argon2id login, the session helpers and the CLI."""

from __future__ import annotations

import unicodedata

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask import session as flask_session
from sqlalchemy import select

from a0core.errors import A0Error
from server.models.people import AuditLog, User
from server.orgunits.lineage import import_conversion
from server.security import passwords, users
from server.security.session import (
    SESSION_KEY,
    current_scope,
    current_user,
    login_required,
    login_user,
)
from server.security.users import authenticate, create_user
from tests.conftest import THREE_LEVEL, TWO_LEVEL
from tests.support.units import import_provinces

PASSWORD = "Hoa phượng đỏ 2026"


@pytest.fixture
def units(session) -> None:
    import_provinces(session, THREE_LEVEL, ["01"])  # Hà Nội: province 01, district 001…
    session.commit()


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises(A0Error) as caught:
        call(*args, **kwargs)
    return caught.value.code


def test_roles_must_match_their_unit_level(session, units) -> None:
    made = [create_user(session, "canboxa", "Cán bộ xã", PASSWORD, "commune_staff", "00001"),
            create_user(session, "huyen", "Cán bộ huyện", PASSWORD, "district_staff", "001"),
            create_user(session, "tinh", "Cán bộ tỉnh", PASSWORD, "province_staff", "01",
                        person_access=True),
            create_user(session, "quantri", "Quản trị", PASSWORD, "admin", None)]
    session.commit()
    assert [u.org_unit.code if u.org_unit else None for u in made] == [
        "00001", "001", "01", None]
    # an administrator sees the whole country: a unit would read as a scope it is not
    for unit in ("00001", "01"):
        assert refusal(create_user, session, "quantri.xa", "Quản trị xã", PASSWORD, "admin",
                       unit) == "admin_unit_refused"
    with pytest.raises(A0Error) as caught:
        create_user(session, "sai", "Sai", PASSWORD, "commune_staff", "001")
    assert caught.value.vi == "Tài khoản cán bộ xã phải gắn với một đơn vị cấp xã"
    assert caught.value.en == "A commune staff account must be bound to a commune unit"
    assert made[2].person_access and not made[0].person_access
    assert all(u.active and u.password_hash.startswith("$argon2id$") for u in made)
    assert PASSWORD not in made[0].password_hash

    for role, unit in (("commune_staff", "001"), ("commune_staff", None),
                       ("district_staff", "00001"), ("district_staff", "01"),
                       ("province_staff", "001"), ("province_staff", None)):
        assert refusal(create_user, session, "sai", "Sai", PASSWORD, role, unit) == \
            "role_unit_mismatch", (role, unit)
    assert refusal(create_user, session, "sai", "Sai", PASSWORD, "boss", None) == "role_unknown"
    assert refusal(create_user, session, "sai", "Sai", PASSWORD, "commune_staff",
                   "99999") == "orgunit_unknown"
    assert refusal(create_user, session, "sai", "Sai", "ngắn quá", "admin", None) == \
        "password_weak"
    assert refusal(create_user, session, "sai", "Sai", " " * 20, "admin", None) == \
        "password_weak"
    assert refusal(create_user, session, "sai", "Sai", "x" * 300, "admin", None) == \
        "password_weak"
    assert refusal(create_user, session, "CANBOXA", "Khác", PASSWORD, "admin", None) == \
        "username_taken"
    for bad in ("a", "có dấu", "a b c", "../x", "", "x" * 81):
        assert refusal(create_user, session, bad, "Sai", PASSWORD, "admin", None) == \
            "username_invalid", bad
    assert refusal(create_user, session, "ok.name", "  ", PASSWORD, "admin", None) == \
        "field_required"
    session.rollback()
    assert session.scalar(select(User).where(User.username == "sai")) is None
    audits = session.scalars(select(AuditLog).where(AuditLog.action == "user.create")).all()
    assert {a.target for a in audits} == {"user:canboxa", "user:huyen", "user:tinh",
                                          "user:quantri"}
    assert {a.commune_code for a in audits if a.target == "user:canboxa"} == {"00001"}


def new_list_installed(session) -> None:
    """A fresh server of a province (Lạng Sơn) as set up after the reform: the two-level
    list first (so current), then the three-level one and the conversion table."""
    from tests.support import reform

    import_provinces(session, TWO_LEVEL, ["20"])
    import_provinces(session, THREE_LEVEL, ["20"])
    import_conversion(session, reform.conversion_of({"20"}), str(reform.CONVERSION))


def test_a_server_started_on_the_new_list_makes_former_district_staff(app: Flask,
                                                                      session) -> None:
    """A fresh install on the two-level list never migrates: a former district's group
    comes from the conversion table, made once, with the communes its old ones became."""
    from server.models.orgunits import OrgGroup
    from server.security.scope import Scope

    new_list_installed(session)
    session.commit()
    assert refusal(create_user, session, "huyen", "Huyện", PASSWORD, "district_staff",
                   "180") == "district_role_replaced"
    assert session.scalar(select(OrgGroup)) is None  # a refusal writes nothing
    made = create_user(session, "huyen", "Cán bộ huyện cũ", PASSWORD, "province_staff", "20",
                       group_code="180")
    again = create_user(session, "huyen2", "Cán bộ huyện cũ", PASSWORD, "province_staff",
                        "20", group_code="180")
    session.commit()
    assert made.group is not None and made.group.id == again.group_id
    assert made.group.code == "180" and made.group.province_code == "20"
    assert "06001" in made.group.communes and "06613" not in made.group.communes
    assert Scope.for_user(session, made).communes == set(made.group.communes)
    assert refusal(create_user, session, "sai", "Sai", PASSWORD, "province_staff", "20",
                   group_code="999") == "group_unknown"
    # the listing shows that the account is limited to the former district
    listed = app.test_cli_runner().invoke(args=["users", "list"]).output
    assert "huyện cũ/former district 180" in listed.split("huyen ")[1].splitlines()[0]


def test_on_the_new_list_pages_need_no_migration(app: Flask, session) -> None:
    """Both lists and the table imported, the new list current: the migration page has no
    plan and does not ask for imports already done; a former district's staff open the
    logistics menu on their communes (their scope holds no unit to report on)."""
    from tests.support.web import Browser

    new_list_installed(session)
    create_user(session, "quantri", "Quản trị", PASSWORD, "admin", None)
    group = create_user(session, "huyen", "Huyện", PASSWORD, "province_staff", "20",
                        group_code="180").group
    session.commit()
    browser = Browser(app)
    browser.login("quantri", PASSWORD)
    page = browser.get("/dashboard/migration").get_data(as_text=True)
    assert 'id="nothing-to-move"' in page and "vn-2025-07" in page
    assert 'id="no-target"' not in page
    district = Browser(app)
    district.login("huyen", PASSWORD)
    stock = district.get("/dashboard/stock")
    assert stock.status_code == 200
    listed = stock.get_data(as_text=True).split('id="group-communes"')[1]
    assert group.name in stock.get_data(as_text=True)
    assert all(f"/dashboard/stock/report/{c}" in listed for c in group.communes)
    assert district.get(f"/dashboard/stock/report/{group.communes[0]}").status_code == 200


def test_authenticate(session, units, monkeypatch: pytest.MonkeyPatch) -> None:
    user = create_user(session, "Lan.Tran", "Trần Thị Lan", PASSWORD, "commune_staff", "00001")
    session.commit()
    assert user.username == "lan.tran"
    assert authenticate(session, "lan.tran", PASSWORD) is user
    assert authenticate(session, " LAN.TRAN ", PASSWORD) is user
    # the same password typed with decomposed diacritics
    assert authenticate(session, "lan.tran", unicodedata.normalize("NFD", PASSWORD)) is user
    assert authenticate(session, "lan.tran", PASSWORD + "x") is None
    assert authenticate(session, "lan.tran", None) is None
    assert authenticate(session, "lan.tran", "x" * 100_000) is None

    burned: list[int] = []
    real_burn = passwords.burn
    monkeypatch.setattr(passwords, "burn", lambda: burned.append(1) or real_burn())
    assert authenticate(session, "nobody", PASSWORD) is None
    assert authenticate(session, "???", PASSWORD) is None
    user.active = False
    assert authenticate(session, "lan.tran", PASSWORD) is None
    assert len(burned) == 3  # unknown, malformed and inactive users cost an argon2 run


def test_outdated_hash_is_upgraded_at_login(session, units) -> None:
    user = create_user(session, "nguoi.cu", "Người dùng cũ", PASSWORD, "admin", None)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    user.password_hash = weak
    session.commit()
    assert passwords.needs_rehash(weak)
    assert authenticate(session, "nguoi.cu", PASSWORD) is user
    assert user.password_hash != weak and not passwords.needs_rehash(user.password_hash)
    assert passwords.verify_password(user.password_hash, PASSWORD)
    assert not passwords.verify_password("not a hash", PASSWORD)
    users.set_password(session, user, "một mật khẩu mới dài", by="cli")
    assert authenticate(session, "nguoi.cu", "một mật khẩu mới dài") is user


def test_session_helpers(app: Flask, session, units) -> None:
    staff = create_user(session, "canboxa", "Cán bộ xã", PASSWORD, "commune_staff", "00001")
    session.commit()

    @login_required
    def view() -> str:
        return "ok"

    with app.test_request_context("/"):
        assert current_user() is None
        assert current_scope().level == "none"
        with pytest.raises(A0Error) as refused:
            view()
        assert refused.value.code == "login_required"
    with app.test_request_context("/"):
        login_user(staff)
        token = flask_session[SESSION_KEY]
        assert isinstance(token, str) and len(token) >= 40
        assert current_user() is staff
        scope = current_scope()
        assert (scope.level, scope.code, scope.actor) == ("commune", "00001", "user:canboxa")
        assert current_scope() is scope  # cached for the request
        assert view() == "ok"
    session.commit()
    staff.active = False
    session.commit()
    with app.test_request_context("/"):
        flask_session[SESSION_KEY] = token
        assert current_user() is None
        assert current_scope().level == "none"


def test_cli_creates_users(app: Flask, session, units) -> None:
    runner = app.test_cli_runner()
    prompted = runner.invoke(args=["users", "create", "can.bo", "--role", "district_staff",
                                   "--unit", "001", "--full-name", "Cán bộ huyện",
                                   "--person-access"],
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output
    piped = runner.invoke(args=["users", "create", "admin1", "--role", "admin",
                                "--password-stdin"], input=PASSWORD + "\n")
    assert piped.exit_code == 0, piped.output
    weak = runner.invoke(args=["users", "create", "x.y.z", "--role", "admin",
                               "--password-stdin"], input="short\n")
    assert weak.exit_code == 2 and "password_weak" in weak.output
    mismatch = runner.invoke(args=["users", "create", "x.y.z", "--role", "commune_staff",
                                   "--unit", "001", "--password-stdin"], input=PASSWORD + "\n")
    assert mismatch.exit_code == 2 and "role_unit_mismatch" in mismatch.output
    session.expire_all()
    made = {u.username: u for u in session.scalars(select(User))}
    assert set(made) == {"can.bo", "admin1"}
    assert made["can.bo"].person_access and made["can.bo"].full_name == "Cán bộ huyện"
    assert authenticate(session, "admin1", PASSWORD) is not None
    assert session.scalar(select(AuditLog.actor_id).where(AuditLog.target == "user:can.bo")) \
        == "cli"

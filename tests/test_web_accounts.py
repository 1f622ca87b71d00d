"""Web accounts: login and its audit, throttling across workers, cookie flags, CSRF,
TOTP, logout, and the ``a0sync users`` commands."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from flask import Flask
from sqlalchemy import func, select, update

from server.extensions import db
from server.models.accounts import LoginAttempt, WebSession
from server.models.people import AuditLog, Device, User
from server.security import login as login_flow
from server.security.totp import box_for
from server.security.users import create_user
from tests.conftest import THREE_LEVEL, make_app
from tests.support.units import add_areas, import_provinces
from tests.support.web import PASSWORD, Browser, csrf_token


@pytest.fixture
def staff(session) -> User:
    tree = import_provinces(session, THREE_LEVEL, ["01"])
    add_areas(session, tree, ["00001.01.1"])
    user = create_user(session, "lan.tran", "Trần Thị Lan", PASSWORD, "commune_staff", "00001")
    session.commit()
    return user


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                                   .order_by(AuditLog.id)))


def failures() -> int:
    return db.session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.success.is_(False))) or 0


def test_login_logout_and_their_audit(app: Flask, staff: User) -> None:
    browser = Browser(app)
    assert browser.get("/dashboard/").status_code == 302  # not logged in: to the login page
    wrong = browser.login("lan.tran", "not the password at all")
    assert wrong.status_code == 401
    page = wrong.get_data(as_text=True)
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in page and "login_failed" in page
    ok = browser.login("LAN.TRAN")  # usernames are case-insensitive
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/dashboard/")
    assert browser.get("/dashboard/").status_code == 200
    assert [a.ip for a in audits("login.failure")] == ["127.0.0.1"]
    success = audits("login.success")
    assert [(a.actor_id, a.commune_code) for a in success] == [("lan.tran", "00001")]
    assert db.session.get(User, staff.id).last_login_at is not None

    assert browser.post("/logout").status_code == 302
    assert browser.get("/dashboard/").status_code == 302
    assert [a.actor_id for a in audits("logout")] == ["lan.tran"]


def test_next_only_goes_to_this_site(app: Flask, staff: User) -> None:
    browser = Browser(app)
    token = browser.token("/login")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = browser.client.post("/login", data={
            "username": "lan.tran", "password": PASSWORD, "csrf_token": token, "next": target})
        assert response.headers["Location"] == "/dashboard/", target
        token = browser.token("/dashboard/")
    response = browser.client.post("/login", data={
        "username": "lan.tran", "password": PASSWORD, "csrf_token": browser.token("/dashboard/"),
        "next": "/dashboard/conflicts?page=2"})
    assert response.headers["Location"] == "/dashboard/conflicts?page=2"


def test_account_throttling_holds_across_workers_and_ends(app: Flask, staff: User,
                                                          tmp_path) -> None:
    """Two app instances on one database stand for two gunicorn workers."""
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "worker2")
    first, second = Browser(app), Browser(other)
    for n in range(login_flow.ACCOUNT_FAILURES):
        browser = first if n % 2 else second
        assert browser.login("lan.tran", f"wrong password {n}").status_code == 401
    with other.app_context():
        db.session.remove()
    refused = first.login("lan.tran")  # the right password, but locked
    assert refused.status_code == 429
    assert "login_throttled" in refused.get_data(as_text=True)
    assert first.get("/dashboard/").status_code == 302
    assert failures() == login_flow.ACCOUNT_FAILURES  # a throttled try checks nothing
    assert audits("login.throttled")[-1].actor_id == "lan.tran"
    assert db.session.get(User, staff.id).locked_until is not None
    # a later window lets the user in again; a success restarts the count
    later = dt.datetime.now(dt.UTC) + login_flow.WINDOW + dt.timedelta(seconds=1)
    user = login_flow.check_password(db.session, "lan.tran", PASSWORD, "10.0.0.9", now=later)
    assert user.id == staff.id
    db.session.commit()


def test_ip_throttling_counts_every_username(app: Flask, staff: User) -> None:
    app.config["A0SYNC_LOGIN_IP_FAILURES"] = 6
    browser = Browser(app)
    for n in range(6):
        assert browser.login(f"nobody{n}", "wrong password here").status_code == 401
    assert browser.login("lan.tran").status_code == 429  # this address is throttled
    # the account itself is not locked: from another address it logs in
    other = app.test_client()
    token = csrf_token(other.get("/login", environ_base={"REMOTE_ADDR": "10.1.1.1"})
                       .get_data(as_text=True))
    ok = other.post("/login", data={"username": "lan.tran", "password": PASSWORD,
                                    "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert ok.status_code == 302


def test_session_cookie_flags(app: Flask, staff: User, tmp_path) -> None:
    browser = Browser(app)
    response = browser.login("lan.tran")
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("a0sync_session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure"} <= flags and "samesite=lax" in cookie.lower()
    page = browser.get("/dashboard/")
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]

    plain = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "plain",
                     A0SYNC_SECURE_COOKIES=False)
    response = Browser(plain).login("lan.tran")
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("a0sync_session="))
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()
    with plain.app_context():
        db.session.remove()


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(app: Flask,
                                                                   staff: User) -> None:
    browser = Browser(app)
    no_token = browser.client.post("/login", data={"username": "lan.tran", "password": PASSWORD})
    assert no_token.status_code == 400 and "csrf_invalid" in no_token.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    browser.login("lan.tran")
    device = Device(id="d" * 36, collaborator_id=_collaborator(), area_code="00001.01.1",
                    commune_code="00001", province_code="01", sign_public_key="k",
                    box_public_key="k")
    db.session.add(device)
    db.session.commit()
    for data in ({}, {"csrf_token": "forged"}):
        refused = browser.client.post(f"/dashboard/devices/{device.id}/revoke", data=data)
        assert refused.status_code == 400, data
    db.session.expire_all()
    assert db.session.get(Device, device.id).revoked_at is None
    # without the confirmation step's answer nothing happens: the step is shown
    asked = browser.post(f"/dashboard/devices/{device.id}/revoke")
    assert asked.status_code == 200 and 'id="confirm-revoke"' in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Device, device.id).revoked_at is None
    assert browser.post(f"/dashboard/devices/{device.id}/revoke",
                        {"confirm": "1"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Device, device.id).revoked_at is not None
    # the JSON device API is exempt: its own rules (signatures, JSON bodies) protect it
    issued = browser.client.post("/api/v1/enrolment-codes", json={
        "area_code": "00001.01.1", "collaborator_name": "Lê Thị Hồng"})
    assert issued.status_code == 201, issued.get_data(as_text=True)
    assert issued.get_json()["collaborator"]["full_name"] == "Lê Thị Hồng"


def _collaborator() -> int:
    from server.models.people import Collaborator

    row = Collaborator(full_name="Hà Thị Test", area_code="00001.01.1", commune_code="00001",
                       province_code="01")
    db.session.add(row)
    db.session.flush()
    return row.id


def test_totp_enrolment_login_and_replay(app: Flask, staff: User) -> None:
    browser = Browser(app)
    browser.login("lan.tran")
    page = browser.get("/account/totp").get_data(as_text=True)
    assert "<svg" in page
    secret = page.split('class="secret">')[1].split("<")[0]
    wrong = browser.post("/account/totp", {"code": "000000"})
    assert wrong.status_code == 400
    assert db.session.get(User, staff.id).totp_secret is None
    assert browser.post("/account/totp", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, staff.id).totp_secret
    assert secret not in stored and box_for(app.config).open(stored, staff.id) == secret
    assert audits("user.totp_enable")
    browser.post("/logout")

    # the password alone no longer logs in: a code is asked for
    step_one = browser.login("lan.tran")
    assert step_one.headers["Location"].endswith("/login/totp")
    assert browser.get("/dashboard/").status_code == 302
    token = browser.token("/login/totp")
    bad = browser.client.post("/login/totp", data={"code": "123456", "csrf_token": token})
    assert bad.status_code == 401 and "totp_invalid" in bad.get_data(as_text=True)
    code = pyotp.TOTP(secret).now()
    good = browser.client.post("/login/totp", data={"code": code, "csrf_token": token})
    assert good.status_code == 302 and browser.get("/dashboard/").status_code == 200
    browser.post("/logout")

    # the same code again (a replay within its window) is refused
    browser.login("lan.tran")
    token = browser.token("/login/totp")
    replay = browser.client.post("/login/totp", data={"code": code, "csrf_token": token})
    assert replay.status_code == 401
    assert browser.get("/dashboard/").status_code == 302
    assert [a.details["step"] for a in audits("login.failure")] == ["totp", "totp"]


def test_cli_lists_users_and_resets_a_password(app: Flask, staff: User) -> None:
    runner = app.test_cli_runner()
    for n in range(login_flow.ACCOUNT_FAILURES):
        with pytest.raises(Exception):  # noqa: B017
            login_flow.check_password(db.session, "lan.tran", f"wrong {n}", "1.2.3.4")
        db.session.commit()
    listed = runner.invoke(args=["users", "list", "--json"])
    assert '"username": "lan.tran"' in listed.output and '"org_unit": "00001"' in listed.output
    reset = runner.invoke(args=["users", "set-password", "lan.tran", "--password-stdin"],
                          input="một mật khẩu mới thật dài\n")
    assert reset.exit_code == 0, reset.output
    db.session.expire_all()
    user = login_flow.check_password(db.session, "lan.tran", "một mật khẩu mới thật dài",
                                     "1.2.3.4")
    assert user.id == staff.id  # unlocked by the reset, and the new password works


COOKIE = "a0sync_session"


def _replay(app: Flask, cookie: str) -> int:
    """Status of the dashboard for a browser holding a copy of ``cookie``."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief.get("/dashboard/").status_code


def _logged_in(app: Flask) -> tuple[Browser, str]:
    browser = Browser(app)
    assert browser.login("lan.tran").status_code == 302
    cookie = browser.client.get_cookie(COOKIE)
    assert cookie is not None and _replay(app, cookie.value) == 200
    return browser, cookie.value


def test_logout_ends_the_session_on_the_server(app: Flask, staff: User) -> None:
    browser, copied = _logged_in(app)
    stored = db.session.scalars(select(WebSession.token_hash)).all()
    assert len(stored) == 1 and len(stored[0]) == 64
    assert stored[0] not in copied  # only a hash of the cookie's token is kept
    assert browser.post("/logout").status_code == 302
    assert _replay(app, copied) == 302  # the copy kept from before logging out is dead
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(
        WebSession.revoked_at.is_not(None))) == 1
    browser.login("lan.tran")  # a new login is a new session
    assert browser.get("/dashboard/").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 2


def test_an_expired_session_is_logged_out(app: Flask, staff: User) -> None:
    _, copied = _logged_in(app)
    db.session.execute(update(WebSession).values(
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    db.session.commit()
    assert _replay(app, copied) == 302


@pytest.mark.parametrize("command", [
    ["users", "set-password", "lan.tran", "--password-stdin"],
    ["users", "deactivate", "lan.tran"],
])
def test_account_changes_end_every_session(app: Flask, staff: User, command) -> None:
    _, first = _logged_in(app)
    _, second = _logged_in(app)  # another browser, another session
    result = app.test_cli_runner().invoke(args=command, input="một mật khẩu mới thật dài\n")
    assert result.exit_code == 0, result.output
    assert (_replay(app, first), _replay(app, second)) == (302, 302)
    action = "user.set_password" if "set-password" in command else "user.deactivate"
    assert [a.target for a in audits(action)] == ["user:lan.tran"]


def test_a_deactivated_user_cannot_log_in_until_activated(app: Flask, staff: User) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "deactivate", "lan.tran"]).exit_code == 0
    refused = Browser(app).login("lan.tran")
    assert refused.status_code == 401
    assert db.session.scalar(select(func.count()).select_from(WebSession)) == 0
    assert runner.invoke(args=["users", "activate", "lan.tran"]).exit_code == 0
    assert Browser(app).login("lan.tran").status_code == 302
    assert [a.action for a in db.session.scalars(select(AuditLog).where(
        AuditLog.action.in_(["user.activate", "user.deactivate"])).order_by(AuditLog.id))] \
        == ["user.deactivate", "user.activate"]


def test_password_rechecks_are_throttled_and_audited(app: Flask, staff: User) -> None:
    """A session holder could guess the password at /account/totp/disable without limit."""
    secret = pyotp.random_base32()
    login_flow.enable_totp(db.session, staff, secret, pyotp.TOTP(secret).now(),
                           box_for(app.config))
    db.session.commit()
    browser = Browser(app)
    browser.login("lan.tran")
    token = browser.token("/login/totp")
    browser.client.post("/login/totp", data={"code": pyotp.TOTP(secret).now(),
                                             "csrf_token": token})
    assert browser.get("/dashboard/").status_code == 200
    statuses = [browser.post("/account/totp/disable", {"password": f"đoán sai {n}"}).status_code
                for n in range(login_flow.ACCOUNT_FAILURES + 2)]
    assert statuses == [401] * login_flow.ACCOUNT_FAILURES + [429, 429]
    right = browser.post("/account/totp/disable", {"password": PASSWORD})
    assert right.status_code == 429  # throttled: even the right password waits
    db.session.expire_all()
    assert db.session.get(User, staff.id).totp_secret is not None
    assert len(audits("password.recheck.failure")) == login_flow.ACCOUNT_FAILURES
    assert len(audits("login.throttled")) == 3
    # the same account's logins are throttled too
    assert Browser(app).login("lan.tran").status_code == 429

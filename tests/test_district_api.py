"""The district data API: tokens, scope matrix, person-level refusal, audit, cursors, changes.

Runs on SQLite and PostgreSQL. Register rows are written the real way: simulated
devices send sealed batches through ``/api/v1/sync/batches``.
"""

from __future__ import annotations

import jsonschema
import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models.people import AuditLog
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import Alias
from server.models.tokens import ApiToken
from server.register.sequence import allocate
from tests.support.district import (
    ACCOUNTS,
    AREAS,
    areas_below,
    build_world,
    read_all,
    visible_areas,
)
from tests.support.register import distribution, household, member, new_id
from tests.support.sim import SimDevice

FEEDS = ("households", "members", "events", "distributions", "aliases")
PERSON_FEEDS = ("households", "members", "events", "distributions")
UNITS = ("00001", "00001.01.1", "001", "002", "01", "02")


@pytest.fixture
def world(app, session):
    return build_world(session)


@pytest.fixture
def register(app, client, world):
    """Per area: a device, one household with two members, a marriage, a distribution,
    and one merged duplicate (alias)."""
    made: dict[str, dict] = {}
    for area, (commune, _district, province) in AREAS.items():
        device = SimDevice(app, area=area, commune=commune, province=province)
        hh, m1, m2 = new_id(), new_id(), new_id()
        device.upsert("household", hh, household(area))
        device.upsert("member", m1, member(hh, name="Nguyễn Văn Hùng", sex="male"))
        device.upsert("member", m2, member(hh, relation="spouse"))
        marriage = {"id": new_id(), "household_id": hh, "member_id": m2,
                    "event_date": "2025-03-15"}
        device.event("marriage", marriage)
        dist = distribution(area, hh)
        device.distribution(dist)
        body = device.send(client, device.seal())
        assert [v["verdict"] for v in body["receipt"]["verdicts"]] == ["applied"] * 5
        old = new_id()
        db.session.add(Alias(old_id=old, survivor_id=m1, entity="member",
                             province_code=province, commune_code=commune, area_code=area,
                             merged_by="test", seq=allocate(db.session, province, 1)))
        db.session.commit()
        made[area] = {"device": device, "household": hh, "members": [m1, m2],
                      "event": marriage["id"], "distribution": dist["id"], "alias": old}
    return made


def get(client, world, account: str, path: str, **params):
    resp = client.get(f"/api/v1/district/{path}", query_string=params,
                      headers=world.headers(account))
    documented(client, f"/api/v1/district/{path}", resp)
    return resp


def documented(client, path: str, resp) -> None:
    """The answer is one the OpenAPI document promises: its status, body and error code."""
    if not hasattr(client, "a0_openapi"):
        client.a0_openapi = client.get("/api/v1/openapi.json").get_json()
    doc = client.a0_openapi
    answers = doc["paths"][path]["get"]["responses"]
    assert str(resp.status_code) in answers, (path, resp.status_code, resp.get_data(True))
    answer = answers[str(resp.status_code)]
    schema = answer["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"]["Error"]
        assert resp.get_json()["error"]["code"] in answer["x-error-codes"], path
    jsonschema.validate(resp.get_json(), schema)


def code_of(resp) -> str:
    return resp.get_json()["error"]["code"]


def test_scope_matrix_tokens_by_units(client, world, register) -> None:
    """Each account × feed: exactly its rows; each account × unit: allowed or refused."""
    everyone = {kind: {area: made[key] if isinstance(made[key], list) else [made[key]]
                       for area, made in register.items()}
                for kind, key in (("households", "household"), ("members", "members"),
                                  ("events", "event"), ("distributions", "distribution"),
                                  ("aliases", "alias"))}
    for account in ACCOUNTS:
        person = ACCOUNTS[account][0] in ("commune_staff", "admin") or ACCOUNTS[account][2]
        for feed in FEEDS:
            if feed in PERSON_FEEDS and not person:
                continue
            items, _, _ = read_all(client, world, account, feed, limit=3)
            expected = {i for area in visible_areas(account) for i in everyone[feed][area]}
            assert {i["id"] for i in items} == expected, (account, feed)
            assert {i["area_code"] for i in items} <= visible_areas(account)

        role = ACCOUNTS[account][0]
        for unit in UNITS:
            resp = get(client, world, account, "aliases", unit=unit)
            below = areas_below(unit)
            allowed = role == "admin" or below <= visible_areas(account)
            if not allowed:
                assert resp.status_code == 403, (account, unit)
                assert code_of(resp) == "unit_out_of_scope"
                continue
            assert resp.status_code == 200, (account, unit, resp.get_json())
            ids = {i["id"] for i in resp.get_json()["items"]}
            assert ids == {register[a]["alias"] for a in below}, (account, unit)


def test_person_level_needs_person_access_and_refusal_changes_nothing(client, world,
                                                                       register) -> None:
    before = db.session.scalar(select(func.count()).select_from(AuditLog))
    used = db.session.get(ApiToken, world.token_ids["huyen.001.tonghop"]).last_used_at
    for feed in PERSON_FEEDS:
        resp = get(client, world, "huyen.001.tonghop", feed)
        assert resp.status_code == 403
        body = resp.get_json()["error"]
        assert body["code"] == "person_access_required"
        assert body["message_vi"] and body["message_en"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before
    assert db.session.get(ApiToken, world.token_ids["huyen.001.tonghop"]).last_used_at == used
    # what is not person-level stays open to the account
    resp = get(client, world, "huyen.001.tonghop", "aliases")
    assert resp.status_code == 200
    assert len(resp.get_json()["items"]) == 3
    scope = get(client, world, "huyen.001.tonghop", "scope").get_json()
    assert scope["scope"] == {"level": "district", "code": "001", "person_level": False}
    assert {f["name"]: f["allowed"] for f in scope["feeds"]} == {
        "households": False, "members": False, "events": False, "distributions": False,
        "aliases": True, "stock_movements": True}


def test_every_person_level_page_is_audited_once(client, world, register) -> None:
    def audits():
        return db.session.scalars(select(AuditLog).where(
            AuditLog.action == "district_api.read").order_by(AuditLog.id)).all()

    assert audits() == []
    items, _, pages = read_all(client, world, "huyen.001", "members", limit=2)
    assert len(items) == 6 and pages == 3
    rows = audits()
    assert len(rows) == pages  # one per page, not one per person
    assert [r.row_count for r in rows] == [2, 2, 2]
    for row in rows:
        assert (row.actor_type, row.actor_id) == ("user", "huyen.001")
        assert row.target == "/api/v1/district/members"
        assert row.details["feed"] == "members"
        assert row.details["scope"] == {"level": "district", "code": "001",
                                        "person_level": True}
        assert row.details["api_token"] == world.token_ids["huyen.001"]
    assert [r.details["more"] for r in rows] == [True, True, False]

    read_all(client, world, "tinh.01", "events", unit="00001")
    last = audits()[-1]
    assert last.actor_id == "tinh.01" and last.row_count == 2  # two areas in 00001
    assert last.commune_code == "00001"
    assert last.details["scope"]["unit"] == {"level": "commune", "code": "00001"}

    n = len(audits())
    read_all(client, world, "huyen.001", "aliases")  # ids only: not a person-level read
    assert len(audits()) == n


def test_tokens_missing_invalid_revoked(app, client, world, register) -> None:
    def status(headers):
        resp = client.get("/api/v1/district/members", headers=headers)
        return resp.status_code, resp.get_json()["error"]["code"] if resp.status_code != 200 \
            else None

    assert status({}) == (401, "api_token_missing")
    resp = client.get("/api/v1/district/members")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.headers["Cache-Control"] == "no-store"
    assert status({"Authorization": "Basic eHg6eXk="}) == (401, "api_token_missing")
    assert status({"Authorization": "Bearer "}) == (401, "api_token_missing")
    assert status({"Authorization": "Bearer a0t_nothing"}) == (401, "api_token_invalid")
    token = world.tokens["huyen.001"]
    assert status({"Authorization": "Bearer " + token[:-1]}) == (401, "api_token_invalid")
    assert status({"Authorization": "Bearer " + token}) == (200, None)

    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "token", "revoke",
                                 str(world.token_ids["huyen.001"])])
    assert result.exit_code == 0, result.output
    assert status({"Authorization": "Bearer " + token}) == (401, "api_token_revoked")
    # the user's other credentials are untouched; a new token works
    result = runner.invoke(args=["users", "token", "create", "huyen.001", "--label",
                                 "DHIS2 huyện Ba Đình"])
    assert result.exit_code == 0, result.output
    fresh = result.output.splitlines()[1].strip()
    assert fresh.startswith("a0t_") and fresh != token
    assert status({"Authorization": "Bearer " + fresh}) == (200, None)
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert fresh not in stored and token not in stored  # only hashes are kept
    listing = runner.invoke(args=["users", "token", "list", "huyen.001", "--json"])
    assert fresh not in listing.output
    assert '"revoked"' in listing.output and '"active"' in listing.output
    refused = runner.invoke(args=["users", "token", "create", "khong.co", "--label", "x"])
    assert refused.exit_code == 2 and "user_unknown" in refused.output

    # a deactivated user's tokens stop working too
    from server.models.people import User

    user = db.session.scalar(select(User).where(User.username == "huyen.001"))
    user.active = False
    db.session.commit()
    assert status({"Authorization": "Bearer " + fresh}) == (401, "api_token_invalid")
    actions = db.session.scalars(select(AuditLog.action).where(
        AuditLog.action.like("api_token.%"))).all()
    assert actions.count("api_token.revoke") == 1


def test_cursors_are_bound_to_feed_scope_and_unit(client, world, register) -> None:
    first = get(client, world, "huyen.001", "members", limit=2).get_json()
    cursor = first["cursor"]
    assert get(client, world, "huyen.001", "members", cursor=cursor).status_code == 200

    def refused(account, feed, **params):
        resp = get(client, world, account, feed, **params)
        return resp.status_code, code_of(resp)

    bad = ("cursor_invalid",)
    assert refused("tinh.01", "members", cursor=cursor)[1] in bad       # another account
    assert refused("huyen.001", "events", cursor=cursor)[1] in bad      # another feed
    assert refused("huyen.001", "members", cursor=cursor, unit="00001")[1] in bad
    payload, mac = cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    assert refused("huyen.001", "members", cursor=f"{flipped}.{mac}") == (400, "cursor_invalid")
    for junk in ("x", "a.b", "..", "é.é", "A" * 9000):
        assert refused("huyen.001", "members", cursor=junk) == (400, "cursor_invalid")
    for limit in ("0", "-1", "abc", "5001", "1.5", "²", "٣"):
        assert refused("huyen.001", "members", limit=limit) == (400, "request_malformed")
    assert refused("huyen.001", "members", unit="99999") == (400, "orgunit_unknown")
    assert refused("huyen.001", "members", unit="00001.01") == (400, "unit_level_unsupported")


def test_changes_since_cursor_include_updates_tombstones_and_voids(client, world,
                                                                   register) -> None:
    feeds = ("households", "members", "events", "distributions")
    cursors = {f: read_all(client, world, "huyen.001", f)[1] for f in feeds}
    for feed in feeds:  # nothing changed: nothing comes
        assert read_all(client, world, "huyen.001", feed, cursor=cursors[feed])[0] == []

    made = register["00004.01.1"]
    device = made["device"]
    renamed, removed = made["members"]
    device.upsert("member", renamed, {"full_name": "Nguyễn Văn Hưng"})
    device._op("delete", "member", removed, {})
    device.void("event", made["event"])
    device.void("distribution", made["distribution"])
    device.upsert("household", made["household"], {"address": "Xóm 3"})
    body = device.send(client, device.seal())
    assert {v["verdict"] for v in body["receipt"]["verdicts"]} == {"applied"}
    foreign = register["00037.01.1"]  # another district: must not show up
    foreign["device"].upsert("member", foreign["members"][0], {"full_name": "Lê Văn Tám"})
    foreign["device"].send(client, foreign["device"].seal())

    got = {f: read_all(client, world, "huyen.001", f, cursor=cursors[f], limit=1)[0]
           for f in feeds}
    members = {i["id"]: i for i in got["members"]}
    assert set(members) == {renamed, removed}
    assert members[renamed]["full_name"] == "Nguyễn Văn Hưng"
    assert members[renamed]["data"]["full_name"] == "Nguyễn Văn Hưng"
    assert members[removed]["deleted"] is True
    assert [(i["id"], i["voided"]) for i in got["events"]] == [(made["event"], True)]
    assert [(i["id"], i["voided"]) for i in got["distributions"]] == [
        (made["distribution"], True)]
    assert [(i["id"], i["address"]) for i in got["households"]] == [
        (made["household"], "Xóm 3")]
    db.session.expire_all()
    for feed, model in (("members", Member), ("events", Event),
                        ("distributions", Distribution), ("households", Household)):
        for item in got[feed]:
            assert item["seq"] == db.session.get(model, item["id"]).seq


def test_scope_and_openapi_are_served(client, world) -> None:
    resp = get(client, world, "quantri", "scope")
    assert resp.status_code == 200
    assert resp.get_json()["scope"] == {"level": "national", "code": None,
                                        "person_level": True}
    assert resp.get_json()["user"] == "quantri"
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert "/api/v1/district/members" in doc["paths"]


def test_an_unexpected_failure_is_a_coded_json_answer(app, client, world, monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("server.district.feeds.read_page", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    resp = get(client, world, "huyen.001", "members")
    assert resp.status_code == 500 and resp.is_json
    assert code_of(resp) == "internal_error" and "a bug" not in resp.get_data(True)

"""What keeps working across a reform migration (issue 13): phones keep syncing, district
systems' cursors go on without loss or repeats, an undo puts everything back exactly,
and every old commune of the real list is either mapped or reported."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from server.extensions import db
from server.models import (
    Alias,
    ApiToken,
    Collaborator,
    Conflict,
    Device,
    Distribution,
    EnrolmentCode,
    Event,
    Household,
    Member,
    OrgGroup,
    OrgTree,
    OrgUnit,
    RollupCell,
    SyncBatch,
    SyncOp,
    User,
)
from server.orgunits.formats import ConversionTable, read_admin_file, read_official_list
from server.orgunits.importer import import_official
from server.orgunits.lineage import import_conversion
from server.orgunits.plan import build_plan
from server.orgunits.reform import apply_plan, recompute_rollups, undo
from server.rollups.jobs import full_recompute
from server.security.api_tokens import create_token
from server.sync.pull import pull_page
from tests.conftest import THREE_LEVEL, TWO_LEVEL, make_app
from tests.support import reform as world
from tests.support.district import World, read_all
from tests.support.register import household, member, new_id
from tests.support.sim import SimDevice


def _sent(device: SimDevice, client) -> list[str]:
    body = device.send(client, device.seal())
    return [v["verdict"] for v in body["receipt"]["verdicts"]]


def _area_rows(area: str) -> set[str]:
    return {i for model in (Household, Member, Event, Distribution)
            for i in db.session.scalars(select(model.id).where(model.area_code == area))}


def test_a_device_of_a_moved_area_syncs_before_and_after(app) -> None:
    session = db.session
    areas = world.build(session, {"06010": 12})
    area = areas["06010"][0]
    client = app.test_client()
    device = SimDevice(app, area=area, commune="06010", province="20")
    device.pull(client)
    assert device.place["commune"] == {"code": "06010", "name": "Xã Cao Minh"}
    before = device.cursor
    hid = new_id()
    device.upsert("household", hid, household(area, "901"))
    device.upsert("member", new_id(), member(hid))
    assert _sent(device, client) == ["applied", "applied"]

    world.migrate(session)

    # the next pull says where the area is now, and carries each of its records once more
    moved = pull_page(session, session.get(Device, device.id), before, limit=5000)
    assert {c["id"] for c in moved["changes"]} == _area_rows(area)
    session.rollback()
    device.pull(client)
    place = dict(device.place)
    villages = place.pop("villages")  # the commune's villages, the area's own first
    assert place == {"area": {"code": area, "name": device.place["area"]["name"]},
                     "commune": {"code": "06001", "name": "Xã Đoàn Kết"},
                     "province": {"code": "20", "name": "Tỉnh Lạng Sơn"}}
    assert villages[0]["code"] == area.rsplit(".", 1)[0]
    assert hid in device.replica.entities
    # ... and keeps syncing, without enrolling again: edits and new records land in 06001
    device.upsert("household", hid, {"address": "Thôn Nà Pàn"})
    second = new_id()
    device.upsert("household", second, household(area, "902"))
    assert _sent(device, client) == ["applied", "applied"]
    rows = dict(session.execute(select(Household.id, Household.commune_code)
                                .where(Household.id.in_([hid, second]))).all())
    assert rows == {hid: "06001", second: "06001"}
    assert session.get(Household, hid).address == "Thôn Nà Pàn"
    assert session.get(Device, device.id).commune_code == "06001"


def test_district_cursors_go_on_without_loss_or_repeats(app) -> None:
    session = db.session
    world.build(session, {"06001": 8, "06010": 8, "06622": 8}, villages=2)
    world.staff(session)
    readers = World()
    for name in ("huyen.trangdinh", "xa.caominh", "tinh.langson"):
        readers.tokens[name] = create_token(session, name, "DHIS2", created_by="test")[0]
    session.commit()
    client = app.test_client()
    cursors = {}
    for name in readers.tokens:
        items, cursors[name], _ = read_all(client, readers, name, "members", limit=7)
        assert items
    _, narrowed, _ = read_all(client, readers, "tinh.langson", "members", unit="06010")

    world.split_choices(session, {"06622.01": "06613", "06622.02": "06625"})
    world.migrate(session)

    def members_of(communes: set[str]) -> set[str]:
        return set(session.scalars(select(Member.id).where(Member.commune_code.in_(communes))))

    expect = {"huyen.trangdinh": {"06001"}, "xa.caominh": {"06001"},
              "tinh.langson": {"06001", "06613", "06625"}}
    for name, communes in expect.items():
        items, cursor, _ = read_all(client, readers, name, "members", cursor=cursors[name],
                                    limit=7)
        ids = Counter(item["id"] for item in items)
        assert set(ids) == members_of(communes) and set(ids.values()) == {1}, name
        assert {item["commune_code"] for item in items} == communes
        again, cursors[name], _ = read_all(client, readers, name, "members", cursor=cursor)
        assert again == []  # nothing twice

    # a record written after the migration comes once, to everyone whose scope holds it
    area = session.scalar(select(Household.area_code).where(Household.commune_code == "06001"))
    device = SimDevice(app, area=area, commune="06001", province="20")
    hid, mid = new_id(), new_id()
    device.upsert("household", hid, household(area, "950"))
    device.upsert("member", mid, member(hid))
    assert _sent(device, client) == ["applied", "applied"]
    for name in expect:
        items, _, _ = read_all(client, readers, name, "members", cursor=cursors[name])
        assert [i["id"] for i in items] == [mid]

    resp = client.get("/api/v1/district/members", query_string={"unit": "06010"},
                      headers=readers.headers("tinh.langson"))
    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["code"] == "orgunit_replaced"
    assert "06001" in error["message_en"]
    # so does a former district's code: the new communes its communes went into
    error = client.get("/api/v1/district/members", query_string={"unit": "180"},
                       headers=readers.headers("tinh.langson")).get_json()["error"]
    assert error["code"] == "orgunit_replaced" and "06001" in error["message_en"]
    assert narrowed  # (that cursor's unit is gone: the consumer starts over on 06001)


# ------------------------------------------------------------------ undo

def _state() -> dict:
    """Everything a migration touches, as comparable values: every column but the change
    sequence and update times (which move on, so readers see the return as an update)
    and an account's former scope (cursor bookkeeping)."""
    skip = {"seq", "updated_at", "computed_at", "former_scope", "last_used_at"}
    out: dict = {}
    for model in (OrgTree, OrgUnit, OrgGroup, Household, Member, Event, Distribution, Alias,
                  SyncOp, SyncBatch, Device, Collaborator, EnrolmentCode, Conflict, User,
                  ApiToken):
        columns = [c for c in model.__table__.c if c.name not in skip]
        out[model.__tablename__] = sorted(
            json.dumps([r[i] for i in range(len(columns))], default=str, sort_keys=True)
            for r in db.session.execute(select(*columns)))
    out["rollup_cell"] = {(t, u, m): v for t, u, m, v in db.session.execute(
        select(RollupCell.tree, RollupCell.unit_code, RollupCell.month, RollupCell.values))}
    return out


@pytest.fixture(scope="module")
def reform_world(sqlite_template: Path, tmp_path_factory) -> Path:
    """A built old-list world with staff, a device that synced and roll-ups, kept as a file."""
    folder = tmp_path_factory.mktemp("reform-world")
    path = folder / "world.sqlite"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", folder / "instance")
    with app.app_context():
        world.build(db.session, {"06001": 6, "06010": 6, "06622": 10})
        world.staff(db.session)
        create_token(db.session, "huyen.trangdinh", "DHIS2", created_by="test")
        device = SimDevice(app, area="06010.01.1", commune="06010", province="20")
        hid = new_id()
        device.upsert("household", hid, household("06010.01.1", "77"))
        device.upsert("member", new_id(), member(hid))
        assert _sent(device, app.test_client()) == ["applied", "applied"]
        full_recompute(db.session)
        db.session.remove()
        db.engine.dispose()
    return path


NEW_COMMUNES = ["06613", "06625", "06001", "06616"]


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choices=st.lists(st.sampled_from(NEW_COMMUNES), min_size=3, max_size=3),
       redirect=st.one_of(st.none(), st.sampled_from(NEW_COMMUNES)))
def test_undo_restores_the_previous_state_exactly(reform_world: Path, tmp_path_factory,
                                                  choices: list[str], redirect) -> None:
    """Random plans: 06622's villages anywhere (also off the table), 06010's first village
    maybe elsewhere than the table says; apply, then undo."""
    folder = tmp_path_factory.mktemp("undo")
    shutil.copy(reform_world, folder / "db.sqlite")
    app = make_app(f"sqlite:///{folder / 'db.sqlite'}", folder / "instance")
    with app.app_context():
        session = db.session
        before = _state()
        seqs = dict(session.execute(select(Member.id, Member.seq)).all())
        picks = dict(zip(["06622.01", "06622.02", "06622.03"], choices, strict=True))
        if redirect:
            picks["06010.01"] = redirect
        world.split_choices(session, picks)
        before = _state()  # (the choices themselves are not part of what an undo restores)
        migration = apply_plan(session, build_plan(session, world.NEW), "cli")
        session.commit()
        recompute_rollups(session, migration)
        assert _state() != before
        undo(session, migration.id, "cli")
        session.commit()
        recompute_rollups(session, migration)
        assert _state() == before
        assert all(seq > seqs[i] for i, seq in session.execute(select(Member.id, Member.seq)))
        db.session.remove()
        db.engine.dispose()


# ------------------------------------------------------- the whole country

def test_every_old_commune_is_either_mapped_or_reported(sqlite_app) -> None:
    """The real lists and table: one village under each of the 10,047 old communes; the
    plan answers each of them, checked against the files read independently."""
    session = db.session
    import_official(session, read_official_list(THREE_LEVEL), "three")
    import_official(session, read_official_list(TWO_LEVEL), "two")
    table = read_admin_file(world.CONVERSION)
    assert isinstance(table, ConversionTable)
    result = import_conversion(session, table, "conversion")
    raw = json.loads(world.CONVERSION.read_text(encoding="utf-8"))["old_to_new"]
    old = {c["level3_id"]: p["level1_id"] for p in json.loads(THREE_LEVEL.read_text(
        encoding="utf-8"))["data"] for d in p["level2s"] for c in d["level3s"]}
    new = {w["Code"] for p in json.loads(TWO_LEVEL.read_text(encoding="utf-8"))
           for w in p["Wards"]}
    unmapped = sorted(set(old) - set(raw))
    assert len(old) == 10047 and len(unmapped) == 14 == len(result.without_successor)
    assert result.without_successor == unmapped
    assert sum(v["partly"] for v in raw.values()) == 573 == result.split

    ids = dict(session.execute(select(OrgUnit.code, OrgUnit.id).where(
        OrgUnit.tree == world.OLD, OrgUnit.level == "commune")).all())
    session.execute(insert(OrgUnit), [
        {"tree": world.OLD, "code": f"{code}.01", "level": "village", "depth": 3,
         "name": "Thôn 1", "full_name": "Thôn 1", "parent_id": ids[code],
         "path": f"/{province}/x/{code}/{code}.01/", "province_code": province,
         "commune_code": code, "official": False, "active": True}
        for code, province in old.items()])
    plan = build_plan(session, world.NEW)
    assert sorted(r.old_commune for r in plan.rows) == sorted(old)
    for row in plan.rows:
        link = raw.get(row.old_commune)
        if link is None:
            assert (row.candidates, row.new_commune, row.reason) == ([], None, "no_successor")
            continue
        codes = [code for code, _ in link["new"]]
        assert [c.code for c in row.candidates] == list(dict.fromkeys(codes))
        if link["partly"] or len(set(codes)) > 1 or codes[0] not in new:
            assert row.new_commune is None, row.old_commune
            assert row.reason == ("successor_unknown" if set(codes) - new else "split")
        else:
            assert row.new_commune == codes[0] and row.source == "whole"
    blank = [r.old_commune for r in plan.rows if r.new_commune is None]
    assert set(unmapped) <= set(blank)
    assert len(blank) == len(unmapped) + sum(
        1 for v in raw.values() if v["partly"] or {c for c, _ in v["new"]} - new)



def test_a_batch_whose_area_moved_province_while_it_was_opened_lands_in_the_new_one(
        app, monkeypatch) -> None:
    """A batch reads its device's place when it opens the envelope, before taking its
    province's lock; a migration committing in between must not leave rows under the
    old codes: the place is read again under the lock, and the batch starts over."""
    from server.models import ChangeCounter
    from server.sync import ingest

    world.build(db.session, {"06010": 4}, villages=1)
    area = db.session.scalar(select(Household.area_code))
    device = SimDevice(app, area=area, commune="06010", province="20")
    real = ingest._sender
    calls = []

    def stale_then_real(session, device_id, accept_revoked):
        found = real(session, device_id, accept_revoked)
        calls.append(found)
        if len(calls) == 1:  # as read before a migration moved the area to province 99
            return ingest.Sender(found.id, found.sign_public_key, found.area_code, "99999",
                                 "99")
        return found

    monkeypatch.setattr(ingest, "_sender", stale_then_real)
    hid = new_id()
    device.upsert("household", hid, household(area, "31"))
    assert _sent(device, app.test_client()) == ["applied"]
    # opened, checked under the lock (moved), checked again; on PostgreSQL the checks
    # read the device with the batch's validation, and read it whole only when it moved
    assert len(calls) == (2 if db.engine.dialect.name == "postgresql" else 3)
    row = db.session.get(Household, hid)
    assert (row.province_code, row.commune_code) == ("20", "06010")
    assert db.session.get(ChangeCounter, "99") is None

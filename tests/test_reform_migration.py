"""Carrying registers from the old communes to the new ones (issue 13), on the real lists
and the real conversion table: what moves where, the roll-ups before and after, staff
accounts, refusals that change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from a0core.errors import A0Error
from server.extensions import db
from server.models import (
    AuditLog,
    Collaborator,
    Household,
    Member,
    OrgMigration,
    OrgTree,
    OrgUnit,
    RollupCell,
    User,
)
from server.orgunits.plan import build_plan
from server.orgunits.reform import apply_plan, recompute_rollups, undo
from server.rollups.indicators import DERIVED
from server.rollups.jobs import full_recompute
from server.security.scope import Scope
from tests.support import reform as world


def _cells(tree: str, level: str) -> dict[tuple[str, str], dict]:
    return {(code, month): values for code, month, values in db.session.execute(
        select(RollupCell.unit_code, RollupCell.month, RollupCell.values).where(
            RollupCell.tree == tree, RollupCell.level == level))}


def _every_cell(tree: str) -> dict[tuple[str, str], tuple]:
    c = RollupCell.__table__.c
    return {(row.unit_code, row.month): (row.level, row.province_code, row.commune_code,
                                         row.area_code, row.values)
            for row in db.session.execute(select(c).where(c.tree == tree))}


def _indexes() -> set[tuple[str, str]]:
    if db.session.get_bind().dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    return set(map(tuple, db.session.execute(text(query))))


def _add(into: dict, values: dict) -> None:
    for key, value in values.items():
        if key not in DERIVED:
            into[key] = into.get(key, 0) + value


def _counts(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in DERIVED and v}


def test_a_merged_and_a_split_commune_move_village_by_village(app) -> None:
    session = db.session
    areas = world.build(session)
    ids = dict(session.execute(select(OrgUnit.code, OrgUnit.id).where(
        OrgUnit.level.in_(("village", "area")))).all())
    households = dict(session.execute(select(Household.area_code, func.count())
                                      .group_by(Household.area_code)).all())
    seqs = dict(session.execute(select(Member.id, Member.seq)).all())

    # the table decides 06010 (→ 06001) and 06001; the split 06622 waits for people
    plan = build_plan(session, world.NEW)
    by_village = {r.village: r for r in plan.rows}
    assert {r.new_commune for r in plan.rows if r.old_commune in ("06001", "06010")} == {"06001"}
    split = [r for r in plan.rows if r.old_commune == "06622"]
    assert split and all(r.new_commune is None and r.reason == "split" for r in split)
    assert [c.code for c in split[0].candidates] == \
        [code for code, _ in world.raw_links("06622")["new"]] == ["06613", "06625"]
    with pytest.raises(A0Error) as refused:
        apply_plan(session, plan, "cli")
    assert refused.value.code == "plan_incomplete" and "06622.01" in refused.value.vi
    session.rollback()
    assert session.scalar(select(OrgTree.name).where(OrgTree.current)) == world.OLD
    assert session.scalar(select(func.count()).select_from(OrgMigration)) == 0

    world.split_choices(session)
    schema = _indexes()
    migration = world.migrate(session)
    assert _indexes() == schema  # dropped while the rows moved (SQLite), made again

    assert session.scalar(select(OrgTree.name).where(OrgTree.current)) == world.NEW
    moved = {u.code: u for u in session.scalars(select(OrgUnit).where(
        OrgUnit.level.in_(("village", "area"))))}
    assert {code: u.id for code, u in moved.items()} == ids  # ids and codes kept
    assert all(u.tree == world.NEW for u in moved.values())
    expected = {"06001": "06001", "06010": "06001", "06622.01": "06613", "06622.02": "06625",
                "06622.03": "06625"}
    for code, unit in moved.items():
        want = expected.get(code[:8]) or expected[code[:5]]
        assert unit.commune_code == want and unit.path.startswith(f"/20/{want}/"), code
        assert unit.path.endswith(f"/{code}/")
    for commune, codes in areas.items():
        for area in codes:
            want = expected.get(area[:8]) or expected[commune]
            rows = session.execute(select(Household.commune_code, Household.province_code)
                                   .where(Household.area_code == area)).all()
            assert len(rows) == households[area] and set(rows) == {(want, "20")}
            assert {c for (c,) in session.execute(select(Collaborator.commune_code).where(
                Collaborator.area_code == area))} == {want}
    # every member moved got a new change number, above every earlier one
    top = max(seqs.values())
    assert all(seq > top for seq in session.scalars(select(Member.seq)))
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "orgunits.migrate"))
    assert entry.target == f"migration:{migration.id}" and entry.details["villages"] == 9
    assert by_village  # (the plan had a row per village)


def test_province_figures_are_the_same_before_and_after_and_new_communes_add_up(app) -> None:
    session = db.session
    areas = world.build(session)
    full_recompute(session)
    every_before = _every_cell(world.OLD)
    province_before = _cells(world.OLD, "province")
    area_before = _cells(world.OLD, "area")
    communes_before = _cells(world.OLD, "commune")
    months = sorted({m for _, m in province_before})
    assert len(months) >= 12 and any(v.get("births") for v in province_before.values())

    world.split_choices(session)
    migration = world.migrate(session)
    # the stored cells added up again under the new tree: what the register gives
    regrouped = _every_cell(world.NEW)
    full_recompute(session)
    assert regrouped == _every_cell(world.NEW)

    province_after = _cells(world.NEW, "province")
    assert set(province_after) == set(province_before)
    for key, values in province_before.items():
        assert province_after[key] == values, key  # population, households, every flow
    assert _cells(world.OLD, "province") == {}  # the old tree's cells are gone

    after = _cells(world.NEW, "commune")
    for month in months:
        merged: dict = {}
        for old in ("06001", "06010"):
            _add(merged, communes_before.get((old, month), {}))
        assert _counts(after.get(("06001", month), {})) == _counts(merged), month
        for new, villages in (("06613", ["06622.01"]), ("06625", ["06622.02", "06622.03"])):
            total: dict = {}
            for area in areas["06622"]:
                if area[:8] in villages:
                    _add(total, area_before.get((area, month), {}))
            assert _counts(after.get((new, month), {})) == _counts(total), (new, month)

    # undone: the old tree's cells, every level, exactly as they were
    undo(session, migration.id, "cli")
    session.commit()
    recompute_rollups(session, migration)
    assert _every_cell(world.OLD) == every_before
    assert _every_cell(world.NEW) == {}


def test_staff_of_an_old_commune_see_the_new_one_and_nothing_else(app) -> None:
    session = db.session
    world.build(session)
    ids = world.staff(session)
    world.split_choices(session)
    migration = world.migrate(session)

    def scope(username: str) -> Scope:
        return Scope.for_user(session, session.get(User, ids[username]))

    def communes(s: Scope) -> set[str]:
        return set(session.scalars(select(Household.commune_code).where(s.where(Household))
                                   .distinct()))

    cao_minh = scope("xa.caominh")
    assert (cao_minh.level, cao_minh.code) == ("commune", "06001")
    assert communes(cao_minh) == {"06001"}  # old 06001's households too, none of 06622's
    persons = dict(session.execute(select(Member.commune_code, func.count())
                                   .group_by(Member.commune_code)).all())
    binh_xa = scope("xa.binhxa")  # split: the new commune that took most of its persons
    assert binh_xa.code == max(("06613", "06625"), key=lambda c: persons.get(c, 0))
    assert communes(binh_xa) == {binh_xa.code}

    district = scope("huyen.trangdinh")  # province staff limited to the former district
    user = session.get(User, ids["huyen.trangdinh"])
    assert (user.role, user.org_unit.code, user.group.code) == ("province_staff", "20", "180")
    assert (district.level, district.code, district.group) == ("province", "20", "180")
    assert "06001" in district.communes and not {"06613", "06625"} & district.communes
    assert communes(district) == {"06001"}
    assert not district.covers_unit(session.get(User, ids["tinh.langson"]).org_unit)
    province = scope("tinh.langson")
    assert (province.level, province.code, province.group) == ("province", "20", None)
    assert communes(province) == {"06001", "06613", "06625"}
    before = {u["username"]: u["before"] for u in migration.summary["users"]}
    assert before == {"xa.caominh": "commune:06010", "xa.binhxa": "commune:06622",
                      "huyen.trangdinh": "district:180", "tinh.langson": "province:20"}

    # after the reform a former district's staff are made as province staff of its group
    from server.security.users import create_user

    with pytest.raises(A0Error) as replaced:
        create_user(session, "huyen.moi", "x", "mật-khẩu-đủ-dài-1", "district_staff", "180")
    assert replaced.value.code == "district_role_replaced" and "--group 180" in replaced.value.en
    with pytest.raises(A0Error) as unknown:
        create_user(session, "huyen.moi", "x", "mật-khẩu-đủ-dài-1", "province_staff", "20",
                    group_code="999")
    assert unknown.value.code == "group_unknown"
    made = create_user(session, "huyen.moi", "x", "mật-khẩu-đủ-dài-1", "province_staff", "20",
                       group_code="180")
    assert Scope.for_user(session, made).communes == district.communes
    session.rollback()

    undo(session, migration.id, "cli")
    session.commit()
    back = scope("huyen.trangdinh")
    assert (back.level, back.code, back.group) == ("district", "180", None)
    assert session.get(User, ids["huyen.trangdinh"]).role == "district_staff"


def test_an_undo_is_refused_once_the_new_tree_has_moved_on(app) -> None:
    session = db.session
    world.build(session, {"06010": 12})
    migration = world.migrate(session)
    from server.orgunits.local import add
    from server.security.scope import NATIONAL

    add(session, Scope("cli", NATIONAL), "06001", "Thôn Mới", by="cli")
    session.commit()
    with pytest.raises(A0Error) as refused:
        undo(session, migration.id, "cli")
    assert refused.value.code == "migration_undo_blocked" and "06001.01" in refused.value.vi
    session.rollback()
    assert session.get(OrgMigration, migration.id).status == "applied"
    with pytest.raises(A0Error) as unknown:
        undo(session, migration.id + 1, "cli")
    assert unknown.value.code == "migration_unknown"

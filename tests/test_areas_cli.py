"""``a0sync areas`` (villages and collaborator areas) and ``a0sync orgunits migrate`` as an
operator uses them: refusals carry their code and change nothing (issue 13)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditLog, Collaborator, Device, Household, Member, OrgMigration, OrgUnit
from server.orgunits.plan import CSV_COLUMNS
from tests.conftest import TWO_LEVEL
from tests.support import reform as world
from tests.support.sim import SimDevice
from tests.support.units import import_provinces


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def _refused(result, code: str) -> None:
    assert result.exit_code == 2, result.output
    assert f"{code}:" in result.output


def test_villages_and_areas_from_the_command_line(app) -> None:
    import_provinces(db.session, TWO_LEVEL, ["20"])
    db.session.commit()
    assert _run(app, "areas", "add", "--commune", "06001", "--name", "Thôn  Nà Pàn").exit_code == 0
    assert _run(app, "areas", "add", "--commune", "06001", "--name", "Bản Khe Mò").exit_code == 0
    assert _run(app, "areas", "add", "--village", "06001.01", "--name", "Địa bàn 1").exit_code == 0
    added = _run(app, "areas", "add", "--village", "06001.01", "--name", "Địa bàn 2",
                 "--code", "06001.01.7")
    assert "06001.01.7" in added.output
    _refused(_run(app, "areas", "add", "--village", "06001.01", "--name", "x", "--code",
                  "06001.01.7"), "unit_code_taken")
    _refused(_run(app, "areas", "add", "--village", "06001.01", "--name", "x", "--code",
                  "06002.01.1"), "unit_code_invalid")
    _refused(_run(app, "areas", "add", "--village", "06001.01.1", "--name", "x"),
             "unit_parent_invalid")
    _refused(_run(app, "areas", "add", "--commune", "06001", "--name", " "), "unit_name_invalid")
    # the same command run twice (any spelling) makes no second village
    twice = _run(app, "areas", "add", "--commune", "06001", "--name", "thon na  pan")
    _refused(twice, "unit_name_taken")
    assert "06001.01" in twice.output
    _refused(_run(app, "areas", "rename", "06001.02", "Thôn Nà Pàn"), "unit_name_taken")
    listed = json.loads(_run(app, "areas", "list", "--commune", "06001", "--json").output)
    assert [(r["code"], r["level"], r["name"]) for r in listed] == [
        ("06001.01", "village", "Thôn Nà Pàn"), ("06001.01.1", "area", "Địa bàn 1"),
        ("06001.01.7", "area", "Địa bàn 2"), ("06001.02", "village", "Bản Khe Mò")]
    village = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "06001.01"))
    assert (village.unit_type, village.path) == ("Thôn", "/20/06001/06001.01/")

    assert _run(app, "areas", "rename", "06001.01.7", "Địa bàn Nà Pàn 2").exit_code == 0
    assert _run(app, "areas", "assign", "06001.01.1", "--collaborator-name",
                "Hoàng Thị Mai").exit_code == 0
    # the same person again (another spelling) is offered, not made twice
    again = _run(app, "areas", "assign", "06001.01.7", "--collaborator-name", "hoang thi  mai")
    _refused(again, "collaborator_exists")
    mai = db.session.scalar(select(Collaborator).where(Collaborator.full_name == "Hoàng Thị Mai"))
    assert f"#{mai.id}" in again.output
    assert "--collaborator-id" in again.output and "--new-person" in again.output
    assert db.session.scalar(select(func.count()).select_from(Collaborator)) == 1
    assert _run(app, "areas", "assign", "06001.01.7", "--collaborator-id", str(mai.id)).exit_code \
        == 0
    db.session.expire_all()
    assert db.session.get(Collaborator, mai.id).area_code == "06001.01.7"

    # an area with households or a device cannot be retired; an empty one can
    SimDevice(app, area="06001.01.1", commune="06001", province="20")
    db.session.add(Household(id="h1", area_code="06001.01.1", commune_code="06001",
                             province_code="20", number="1", data={}, clocks={}))
    db.session.commit()
    _refused(_run(app, "areas", "retire", "06001.01.1"), "area_has_households")
    _refused(_run(app, "areas", "retire", "06001.01"), "village_has_areas")
    _refused(_run(app, "areas", "retire", "06001"), "unit_not_local")
    assert _run(app, "areas", "retire", "06001.02").exit_code == 0
    _refused(_run(app, "areas", "add", "--village", "06001.02", "--name", "x"), "unit_retired")
    assert [r["code"] for r in json.loads(_run(app, "areas", "list", "--json").output)] == \
        ["06001.01", "06001.01.1", "06001.01.7"]

    # a move carries the households, and is undone like any migration
    assert _run(app, "areas", "add", "--commune", "06004", "--name", "Thôn Mới").exit_code == 0
    moved = _run(app, "areas", "move", "06001.01", "--to", "06004")
    assert moved.exit_code == 0, moved.output
    db.session.expire_all()
    assert db.session.get(Household, "h1").commune_code == "06004"
    assert db.session.scalar(select(Device.commune_code)) == "06004"
    migration = db.session.scalar(select(OrgMigration.id))
    assert _run(app, "orgunits", "migrate", "--undo", str(migration)).exit_code == 0
    db.session.expire_all()
    assert db.session.get(Household, "h1").commune_code == "06001"
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"village.add", "area.add", "area.rename", "collaborator.assign", "village.retire",
            "village.move", "orgunits.migrate_undo"} <= actions


def test_a_plan_from_the_command_line(app, tmp_path: Path) -> None:
    world.build(db.session, {"06010": 6, "06622": 8}, villages=2)
    plan = tmp_path / "plan.csv"
    # the list already in use: refused in words, no plan written
    same = _run(app, "orgunits", "migrate", "--to", world.OLD, "--plan", str(plan))
    _refused(same, "migration_same_list")
    assert "đã là danh mục hiện hành" in same.output and not plan.exists()
    dry = _run(app, "orgunits", "migrate", "--to", world.NEW, "--plan", str(plan))
    assert dry.exit_code == 0, dry.output
    assert "06001 Xã Đoàn Kết" in dry.output and "split" in dry.output
    rows = list(csv.DictReader(plan.open(encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["old_commune"] for r in rows} == {"06010", "06622"}
    assert all(r["new_commune"] == "06001" for r in rows if r["old_commune"] == "06010")
    blank = [r for r in rows if not r["new_commune"]]
    assert blank and all(r["candidates"] == "06613|06625" for r in blank)
    assert json.loads(plan.with_suffix(".json").read_text(encoding="utf-8"))["missing"] == \
        len(blank)

    broken = plan.with_name("broken.json")
    broken.write_text('{"format": 1,\n  "rows": [}', encoding="utf-8")
    unreadable = _run(app, "orgunits", "migrate", "--to", world.NEW, "--plan", str(broken),
                      "--apply")
    _refused(unreadable, "plan_file_invalid")
    vi = unreadable.output.splitlines()[0]
    assert "không phải JSON hợp lệ" in vi and "Expecting" not in vi
    assert "ghi chú / note: Expecting value: line 2, column 12" in unreadable.output
    refused = _run(app, "orgunits", "migrate", "--to", world.NEW, "--plan", str(plan), "--apply")
    _refused(refused, "plan_incomplete")
    assert all(r["area"] in refused.output for r in blank)
    assert db.session.scalar(select(func.count()).select_from(OrgMigration)) == 0

    for row in rows:
        row["new_commune"] = row["new_commune"] or "06625"
    with plan.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    applied = _run(app, "orgunits", "migrate", "--to", world.NEW, "--plan", str(plan), "--apply",
                   "--workers", "1")
    assert applied.exit_code == 0, applied.output
    assert db.session.scalar(select(func.count()).where(Household.commune_code == "06625")) > 0
    where = json.loads(_run(app, "orgunits", "where", "06010", "--json").output)
    assert [w["code"] for w in where["went_to"]] == ["06001"]
    listed = json.loads(_run(app, "areas", "list", "--commune", "06622", "--json").output)
    assert listed and {r["moved_from"] for r in listed if r["level"] == "village"} == {"06622"}
    undone = _run(app, "orgunits", "migrate", "--undo", "1")
    assert undone.exit_code == 0, undone.output
    _refused(_run(app, "orgunits", "migrate", "--undo", "1"), "migration_undo_blocked")


def test_an_area_is_emptied_into_another_then_retired(app) -> None:
    areas = world.build(db.session, {"06010": 10}, villages=2)
    source, target = areas["06010"][0], areas["06010"][-1]
    village = db.session.scalar(select(OrgUnit.parent_id).where(OrgUnit.code == target))
    village_code = db.session.get(OrgUnit, village).code
    client = app.test_client()
    old_phone = SimDevice(app, area=source, commune="06010", province="20")
    new_phone = SimDevice(app, area=target, commune="06010", province="20")
    old_phone.pull(client)
    new_phone.pull(client)
    moving = set(db.session.scalars(select(Household.id).where(Household.area_code == source)))
    seqs = dict(db.session.execute(select(Member.id, Member.seq)
                                   .where(Member.area_code == source)).all())
    assert moving and seqs

    _refused(_run(app, "areas", "retire", source), "area_has_households")
    moved = _run(app, "areas", "move-households", source, "--to", target, "--workers", "1")
    assert moved.exit_code == 0, moved.output
    db.session.expire_all()
    for household in db.session.scalars(select(Household).where(Household.id.in_(moving))):
        assert (household.area_code, household.village_code) == (target, village_code)
        assert household.data["area_code"] == target and \
            household.clocks["area_code"][1] == "server"
    assert all(seq > seqs[i] for i, seq in db.session.execute(
        select(Member.id, Member.seq).where(Member.id.in_(list(seqs)))))
    assert not db.session.scalar(select(func.count()).where(Household.area_code == source))
    # the receiving area's phone gets them; the old one's edit is refused, not applied
    new_phone.pull(client)
    assert moving <= set(new_phone.replica.entities)
    some = sorted(moving)[0]
    old_phone.upsert("household", some, {"address": "Xóm Cũ"})
    body = old_phone.send(client, old_phone.seal())
    assert [v.get("code") for v in body["receipt"]["verdicts"]] == ["op_out_of_scope"]
    db.session.expire_all()
    assert db.session.get(Household, some).address != "Xóm Cũ"
    db.session.execute(Device.__table__.update().where(Device.area_code == source)
                       .values(revoked_at=func.now()))
    db.session.commit()
    assert _run(app, "areas", "retire", source).exit_code == 0


def test_the_conversion_table_imports_from_the_command_line(app, tmp_path: Path) -> None:
    from server.models import OrgLineage
    from tests.conftest import THREE_LEVEL

    missing = _run(app, "orgunits", "import", str(world.CONVERSION))
    _refused(missing, "lineage_tree_missing")  # each language says which list, in its words
    assert "danh mục cũ (3 cấp" in missing.output and "The old (three-level" in missing.output
    assert "/ old" not in missing.output and "cũ" not in missing.output.splitlines()[-1]
    import_provinces(db.session, THREE_LEVEL, ["20", "22"])
    import_provinces(db.session, TWO_LEVEL, ["20", "22"])
    db.session.commit()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"old_to_new": {"06010": {"partly": False,
                                                        "new": [["6001", "20"]]}}}))
    _refused(_run(app, "orgunits", "import", str(bad)), "orgunit_record_invalid")
    assert db.session.scalar(select(func.count()).select_from(OrgLineage)) == 0
    first = _run(app, "orgunits", "import", str(world.CONVERSION))
    assert first.exit_code == 0, first.output
    assert "vn-2025-03 → vn-2025-07" in first.output and "06970 (5)" in first.output
    links = db.session.scalar(select(func.count()).select_from(OrgLineage))
    assert links == 10565
    again = _run(app, "orgunits", "import", str(world.CONVERSION))
    assert f"unchanged {links}" in again.output.replace("không đổi/", "")
    assert db.session.scalar(select(func.count()).select_from(OrgLineage)) == links

"""Importing the real official lists: exact counts, idempotency, updates, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from a0core.errors import A0Error
from server.cli import main
from server.models.orgunits import OrgUnit
from server.orgunits.formats import UnitSpec, read_official_list
from server.orgunits.importer import import_official, level_counts, upsert_local_units
from tests.conftest import THREE_LEVEL, TWO_LEVEL

EXPECTED = {
    TWO_LEVEL: {"province": 34, "commune": 3321},
    THREE_LEVEL: {"province": 63, "district": 696, "commune": 10047},
}


def _cli(args: list[str], db_url: str, instance: Path) -> str:
    result = CliRunner().invoke(main, args, env={"DATABASE_URL": db_url,
                                                 "A0SYNC_INSTANCE": str(instance)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", [TWO_LEVEL, THREE_LEVEL], ids=["2025-two-level", "2025-03-three"])
def test_cli_imports_real_list_twice_with_exact_counts(path: Path, db_url: str,
                                                       tmp_path: Path) -> None:
    for _ in range(2):
        _cli(["orgunits", "import", str(path)], db_url, tmp_path)
        out = _cli(["orgunits", "stats", "--json"], db_url, tmp_path)
        assert json.loads(out.strip().splitlines()[-1]) == EXPECTED[path]


def test_a_second_list_imported_says_which_list_stays_current(db_url: str,
                                                             tmp_path: Path) -> None:
    """After the reform a province imports the two-level list, then the three-level one
    for the old codes: the second import says the register keeps the first."""
    _cli(["orgunits", "import", str(TWO_LEVEL)], db_url, tmp_path)
    second = _cli(["orgunits", "import", str(THREE_LEVEL)], db_url, tmp_path)
    assert "sổ vẫn dùng danh mục vn-2025-07" in second
    assert "the register keeps the list vn-2025-07" in second
    assert "sổ vẫn dùng" not in _cli(["orgunits", "import", str(TWO_LEVEL)], db_url, tmp_path)


def test_both_lists_live_side_by_side(session) -> None:
    import_official(session, read_official_list(TWO_LEVEL), "two")
    import_official(session, read_official_list(THREE_LEVEL), "three")
    session.commit()
    assert level_counts(session, "vn-2025-07") == EXPECTED[TWO_LEVEL]
    assert level_counts(session, "vn-2025-03") == EXPECTED[THREE_LEVEL]
    # the first list imported stays the register's list until told otherwise
    hanoi_ward = session.scalar(select(OrgUnit).where(OrgUnit.tree == "vn-2025-03",
                                                      OrgUnit.code == "00004"))
    assert hanoi_ward.full_name == "Phường Trúc Bạch"
    assert hanoi_ward.path == "/01/001/00004/"
    assert hanoi_ward.province_code == "01" and hanoi_ward.commune_code == "00004"
    assert hanoi_ward.level == "commune" and hanoi_ward.depth == 2


def test_reimport_is_idempotent_and_updates_in_place(session, tmp_path: Path) -> None:
    first = import_official(session, read_official_list(TWO_LEVEL), "v1")
    session.commit()
    assert first.created == 34 + 3321
    ids = dict(session.execute(select(OrgUnit.code, OrgUnit.id)).all())

    again = import_official(session, read_official_list(TWO_LEVEL), "v1")
    session.commit()
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)

    # rename a ward and move another to a different province
    data = json.loads(TWO_LEVEL.read_text(encoding="utf-8"))
    data[0]["Wards"][0]["FullName"] = "Phường Ba Đình Mới"
    moved = data[0]["Wards"].pop(1)
    moved["ProvinceCode"] = data[1]["Code"]
    data[1]["Wards"].append(moved)
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = import_official(session, read_official_list(changed), "v2")
    session.commit()
    assert (result.created, result.updated) == (0, 2)
    assert dict(session.execute(select(OrgUnit.code, OrgUnit.id)).all()) == ids
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == moved["Code"]))
    assert unit.parent.code == data[1]["Code"]
    assert unit.path == f"/{data[1]['Code']}/{moved['Code']}/"
    assert unit.province_code == data[1]["Code"]


def test_moving_a_commune_carries_its_villages(session, tmp_path: Path) -> None:
    import_official(session, read_official_list(TWO_LEVEL), "v1")
    upsert_local_units(session, "vn-2025-07", [
        UnitSpec("00004.01", "village", "Tổ 1", "Tổ dân phố 1", None, "00004", "01"),
        UnitSpec("00004.01.1", "area", "Địa bàn 1", "Địa bàn 1", None, "00004.01", "01"),
    ])
    session.commit()
    data = json.loads(TWO_LEVEL.read_text(encoding="utf-8"))
    ward = data[0]["Wards"].pop(0)
    ward["ProvinceCode"] = data[2]["Code"]
    data[2]["Wards"].append(ward)
    changed = tmp_path / "moved.json"
    changed.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    import_official(session, read_official_list(changed), "v2")
    session.commit()
    area = session.scalar(select(OrgUnit).where(OrgUnit.code == "00004.01.1"))
    assert area.path == f"/{data[2]['Code']}/00004/00004.01/00004.01.1/"
    assert area.province_code == data[2]["Code"] and area.commune_code == "00004"
    # local units are not in the official list, so they are never deactivated by it
    assert area.active
    assert level_counts(session, "vn-2025-07")["area"] == 1


def test_unit_missing_from_a_new_list_is_deactivated_not_deleted(session, tmp_path) -> None:
    import_official(session, read_official_list(TWO_LEVEL), "v1")
    data = json.loads(TWO_LEVEL.read_text(encoding="utf-8"))
    gone = data[0]["Wards"].pop()
    smaller = tmp_path / "smaller.json"
    smaller.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = import_official(session, read_official_list(smaller), "v2")
    assert result.deactivated == 1
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == gone["Code"]))
    assert unit is not None and not unit.active
    assert result.counts["commune"] == 3320


def _broken(tmp_path: Path, mutate) -> Path:
    data = json.loads(TWO_LEVEL.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("mutate", "code", "field"), [
    (lambda d: d[20]["Wards"][7].update(Code="12A45"), "orgunit_record_invalid", "Code"),
    (lambda d: d[33]["Wards"][-1].update(FullName=""), "orgunit_record_invalid", "FullName"),
    (lambda d: d[5].update(Wards="none"), "orgunit_record_invalid", "Wards"),
    (lambda d: d[9]["Wards"][3].update(ProvinceCode="99"), "orgunit_record_invalid",
     "ProvinceCode"),
    (lambda d: d[2]["Wards"].append(dict(d[1]["Wards"][0], ProvinceCode=d[2]["Code"])),
     "orgunit_duplicate_code", None),
])
def test_bad_record_names_file_record_and_field_and_writes_nothing(
        mutate, code: str, field: str | None, db_url: str, tmp_path: Path, session) -> None:
    path = _broken(tmp_path, mutate)
    with pytest.raises(A0Error) as caught:
        read_official_list(path)
    error = caught.value
    assert error.code == code
    assert error.params["file"] == "broken.json"
    assert error.params.get("record")
    if field:
        assert error.params["field"] == field
    assert "broken.json" in error.vi and "broken.json" in error.en

    result = CliRunner().invoke(main, ["orgunits", "import", str(path)],
                                env={"DATABASE_URL": db_url, "A0SYNC_INSTANCE": str(tmp_path)})
    assert result.exit_code != 0
    assert code in result.output
    assert session.scalar(select(func.count()).select_from(OrgUnit)) == 0


@pytest.mark.parametrize("content", ["{not json", '{"data": 5}', "[1, 2]", '"text"', ""])
def test_unreadable_or_unknown_file_is_refused(content: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(A0Error) as caught:
        read_official_list(path)
    assert caught.value.code in {"orgunit_file_unreadable", "orgunit_file_format"}
    assert caught.value.params["file"] == "bad.json"
    if caught.value.code == "orgunit_file_unreadable":  # the parser's words: a note
        assert "Expecting" not in caught.value.vi and "line 1, column" in \
            caught.value.params["note"]

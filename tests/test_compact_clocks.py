"""Per-field clocks packed by stamp (issue 19): the same clocks for every reader, fewer
bytes, and existing rows migrated (0022) and back."""

from __future__ import annotations

import json
from pathlib import Path

from flask_migrate import downgrade, upgrade
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from a0core.merge import merge_fields
from server import MIGRATIONS_DIR
from server.extensions import db
from server.models.clocks import PackedClocks, pack, unpack
from server.models.register import Household, Member
from tests.conftest import make_app

DEVICE_A = "3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
DEVICE_B = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"

stamps = st.tuples(st.integers(min_value=0, max_value=2**62),
                   st.sampled_from([DEVICE_A, DEVICE_B, "server", "bench-loader"]))
clock_maps = st.dictionaries(st.text(min_size=1, max_size=20), stamps.map(list), max_size=30)


@given(clock_maps)
def test_packing_keeps_every_stamp_and_is_canonical(clocks: dict) -> None:
    packed = pack(clocks)
    assert unpack(packed) == clocks
    assert pack(unpack(packed)) == packed  # one form per clock map, whatever the key order
    assert pack(dict(reversed(list(clocks.items())))) == packed
    assert len({(g[0], g[1]) for g in packed}) == len(packed)  # a stamp once
    assert unpack(clocks) == clocks  # the old form still reads


@given(clock_maps)
def test_shared_unpacking_reads_the_same_stamps_one_list_per_stamp(clocks: dict) -> None:
    packed = pack(clocks)
    shared = unpack(packed, shared=True)
    assert shared == unpack(packed) == clocks
    by_stamp = {}
    for stamp in shared.values():  # one list per stamp, whatever its fields
        assert by_stamp.setdefault(tuple(stamp), stamp) is stamp
    assert unpack(clocks, shared=True) == clocks and unpack(None, shared=True) is None


# few stamps, so that fields share one (a record's fields mostly come from one write)
shared_clock_maps = st.dictionaries(
    st.text(min_size=1, max_size=20),
    st.sampled_from([[5, DEVICE_A], [5, DEVICE_B], [9, DEVICE_A]]).map(list), max_size=30)


@given(shared_clock_maps, st.data())
def test_a_merge_of_stored_clocks_moves_only_the_fields_it_won(clocks: dict, data) -> None:
    """Clocks read from the column share a list per stamp: a merge must replace a won
    field's stamp, not change the list, or every field of that stamp would move."""
    stored = PackedClocks().process_result_value(pack(clocks), None)
    won_fields = data.draw(st.sets(st.sampled_from(sorted(clocks)))) if clocks else set()
    newer = (2**63, "server")  # greater than any stamp drawn
    won = merge_fields({}, stored, dict.fromkeys(won_fields, 1), newer)
    assert set(won) == won_fields
    assert stored == {name: [*newer] if name in won_fields else stamp
                      for name, stamp in clocks.items()}


def _member_clocks(fields: list[str]) -> dict:
    created = {name: [112233445566 << 16, DEVICE_A] for name in fields}
    created["full_name"] = [(112233445999 << 16) + 3, DEVICE_B]  # a later correction
    return created


FIELDS = ["household_id", "full_name", "relation", "sex", "birth_date", "ethnicity",
          "education", "marital_status", "residence_status", "bhyt_number"]


def test_a_member_row_holds_its_clocks_in_under_two_fifths_of_the_bytes(app) -> None:
    clocks = _member_clocks(FIELDS)
    old = len(json.dumps(clocks, separators=(",", ":")))
    new = len(json.dumps(pack(clocks), separators=(",", ":")))
    assert new * 5 <= old * 2, (old, new)
    db.session.add(Household(id="h-1", province_code="33", commune_code="12619",
                             area_code="12619.01.1", number="1", data={}, clocks={}))
    db.session.add(Member(id="m-1", household_id="h-1", province_code="33",
                          commune_code="12619", area_code="12619.01.1", full_name="Lan",
                          sex="female", birth_date="1990", birth_year=1990,
                          data={}, clocks=clocks))
    db.session.commit()
    db.session.expunge_all()
    raw = db.session.execute(text("SELECT clocks FROM member WHERE id = 'm-1'")).scalar_one()
    raw = json.loads(raw) if isinstance(raw, str) else raw
    assert raw == pack(clocks) and isinstance(raw, list)
    assert db.session.get(Member, "m-1").clocks == clocks
    assert db.session.execute(select(Member.clocks)).scalar_one() == clocks


def test_migration_packs_existing_rows_and_its_downgrade_unpacks_them(db_url: str,
                                                                      tmp_path: Path) -> None:
    app = make_app(db_url, tmp_path / "instance")
    clocks = _member_clocks(FIELDS)
    with app.app_context():
        downgrade(directory=MIGRATIONS_DIR, revision="0021b")
        insert_h = text("INSERT INTO household (id, province_code, commune_code, area_code, "
                        "number, data, clocks, deleted, seq, created_at, updated_at) VALUES "
                        "(:id, '33', '12619', '12619.01.1', :n, '{}', :clocks, false, 0, "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        db.session.execute(insert_h, [{"id": f"h-{i:05d}", "n": str(i),
                                       "clocks": json.dumps({"number": [i, DEVICE_A]})}
                                      for i in range(6001)])  # more than a chunk
        db.session.execute(text(
            "INSERT INTO member (id, household_id, province_code, commune_code, area_code, "
            "full_name, sex, birth_date, birth_year, data, clocks, deleted, pregnant, seq, "
            "created_at, updated_at) VALUES ('m-1', 'h-00001', '33', '12619', '12619.01.1', "
            "'Lan', 'female', '1990', 1990, '{}', :clocks, false, false, 0, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"clocks": json.dumps(clocks)})
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR, revision="heads")

        def raw(table: str, row_id: str):
            value = db.session.execute(text(f"SELECT clocks FROM {table} WHERE id = :id"),
                                       {"id": row_id}).scalar_one()
            return json.loads(value) if isinstance(value, str) else value

        assert raw("member", "m-1") == pack(clocks)
        assert raw("household", "h-06000") == [[6000, DEVICE_A, "number"]]
        assert db.session.get(Member, "m-1").clocks == clocks
        db.session.commit()
        downgrade(directory=MIGRATIONS_DIR, revision="0021b")
        assert raw("member", "m-1") == clocks
        assert raw("household", "h-00007") == {"number": [7, DEVICE_A]}
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

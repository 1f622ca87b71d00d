"""The blocking-key migrations (0009, then 0016) fill the keys of the members already
registered.

Detection finds candidates only through the stored keys, so a register upgraded
from before them must get them for every member, or its old records would never
be compared again; 0016 also takes the identification number out of the data of
member records of form version 2. Runs on SQLite and PostgreSQL, from an empty
database.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import Column, MetaData, String, insert, select

from server import MIGRATIONS_DIR
from server.extensions import db
from server.models.register import Household, Member
from server.sync.duplicates.detect import detect
from server.sync.duplicates.scoring import BLOCK_COLUMNS, NUMBER_COLUMNS, block_columns
from tests.conftest import make_app

BEFORE_KEYS = "0008"
PEOPLE = [("Nguyễn Văn Hùng", "male", "1985-03-04", None),
          ("Nguyen Van  Hung", "male", "1985-04-03", None),
          ("Lê Thị Mai", "female", "1972", "036172004512"),
          ("Đỗ Đức Dũng", "male", "1990-01-01", None),
          ("Le Thi Mai", "female", "1975", "036172004512")]  # one number, a year mistyped


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"a0_mig_{os.getpid()}_{uuid.uuid4().hex[:8]}")


def test_members_registered_before_the_keys_get_them_and_pair_up(empty_url: str,
                                                                 tmp_path: Path) -> None:
    app = make_app(empty_url, tmp_path / "instance")
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision=BEFORE_KEYS)
        place = {"province_code": "33", "commune_code": "12619", "area_code": "12619.01.1"}
        households, members = [], []
        for n, (name, sex, born, number) in enumerate(PEOPLE):
            households.append({"id": str(uuid.uuid4()), "number": str(n + 1), **place})
            data = {"full_name": name, "sex": sex, "birth_date": born}
            if number:
                data["id_number"] = number
            members.append({"id": str(uuid.uuid4()), "household_id": households[-1]["id"],
                            "full_name": name, "name_key": name, "sex": sex, "data": data,
                            "birth_date": born, "birth_year": int(born[:4]), **place})
        db.session.execute(insert(Household), households)
        # the member table before revision 0009 (it still had name_key, dropped in 0013)
        legacy = Member.__table__.to_metadata(MetaData())
        legacy.append_column(Column("name_key", String(100)))
        db.session.execute(insert(legacy), members)
        db.session.commit()
        db.session.remove()

        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        m = Member.__table__.c
        keys = (*BLOCK_COLUMNS, *NUMBER_COLUMNS)
        stored = {r.id: {k: getattr(r, k) for k in keys}
                  for r in db.session.execute(select(m.id, *(m[k] for k in keys)))}
        assert stored == {r["id"]: block_columns(r["full_name"], r["sex"], r["birth_date"],
                                                 r["data"].get("id_number"))
                          for r in members}
        assert stored[members[2]["id"]]["id_number"] == "036172004512"
        result = detect(db.session, [], [h["id"] for h in households])
        assert result.open_members == {tuple(sorted((members[0]["id"], members[1]["id"]))),
                                       tuple(sorted((members[2]["id"], members[4]["id"])))}
        db.session.remove()
        db.engine.dispose()

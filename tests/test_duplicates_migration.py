"""The blocking-key migration fills the keys of the members already registered.

Detection finds candidates only through the stored keys, so a register upgraded
from before them must get them for every member, or its old records would never
be compared again. Runs on SQLite and PostgreSQL, from an empty database.
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
from server.sync.duplicates.scoring import block_columns
from tests.conftest import make_app

BEFORE_KEYS = "0008"
PEOPLE = [("Nguyễn Văn Hùng", "male", "1985-03-04"), ("Nguyen Van  Hung", "male", "1985-04-03"),
          ("Lê Thị Mai", "female", "1972"), ("Đỗ Đức Dũng", "male", "1990-01-01")]


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
        for n, (name, sex, born) in enumerate(PEOPLE):
            households.append({"id": str(uuid.uuid4()), "number": str(n + 1), **place})
            members.append({"id": str(uuid.uuid4()), "household_id": households[-1]["id"],
                            "full_name": name, "name_key": name, "sex": sex,
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
        stored = {r.id: {"block_initials": r.block_initials, "block_pair": r.block_pair}
                  for r in db.session.execute(select(m.id, m.block_initials, m.block_pair))}
        assert stored == {r["id"]: block_columns(r["full_name"], r["sex"], r["birth_year"])
                          for r in members}
        result = detect(db.session, [], [h["id"] for h in households])
        assert result.open_members == {tuple(sorted((members[0]["id"], members[1]["id"])))}
        db.session.remove()
        db.engine.dispose()

"""The steady state: a register already on the server, then months of change slips.

Two paths to one register: bulk-loading a whole generated area (its people and every
event folded at once), or bulk-loading the register as it stood on the first day and
then ingesting what the collaborator recorded afterwards (people arriving, woman
records, events, distributions, A0 corrections), batch by batch. The register's
state must be the same (DESIGN §2); the corrections are the one thing the bulk
path does not apply, so they are checked on their own.
"""

from __future__ import annotations

import datetime as dt
import shutil

from sqlalchemy import func, select

from a0core.hlc import HybridClock
from server.extensions import db
from server.models.register import Distribution, Event, Household, Member
from server.models.sync import Conflict, SyncOp
from server.register.bulk import Writer, load_area
from server.synthetic import generate_area
from server.synthetic.operations import change_operations, register_at
from tests.conftest import make_app
from tests.support.sim import SimDevice

AREA, VILLAGE, START = "12619.01.1", "12619.01", "2024-10-01"
PERIOD = (dt.date(2024, 9, 1), dt.date(2025, 8, 31))
STATE = ("household_id", "sex", "birth_date", "residence_status", "marital_status",
         "current_method", "method_start", "living_children", "pregnant", "expected_date",
         "death_date", "moved_out_on", "mother_id", "deleted")


def _members() -> dict[str, tuple]:
    columns = [getattr(Member, name) for name in STATE]
    return {r[0]: tuple(r[1:]) for r in db.session.execute(select(Member.id, *columns))}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_bulk_load_then_changes_equals_the_whole_area_loaded(app, client, tmp_path,
                                                            sqlite_template) -> None:
    area = generate_area(7, AREA, VILLAGE, "Xã Diên Hà", 120, PERIOD)
    writer = Writer("loader", HybridClock().now())

    shutil.copy(sqlite_template, tmp_path / "whole.sqlite")
    whole = make_app(f"sqlite:///{tmp_path / 'whole.sqlite'}", tmp_path / "whole")
    with whole.app_context():
        load_area(db.session, area, "33", "12619", writer)
        db.session.commit()
        expected = _members()
        expected_counts = [_count(m) for m in (Household, Event, Distribution)]
        db.session.remove()

    load_area(db.session, register_at(area, START), "33", "12619", writer)
    db.session.commit()
    device = SimDevice(app, area=AREA)
    ops = list(change_operations(area, START, device.clock, device.id,
                                 (writer.hlc, writer.device)))
    corrections = [op for op in ops if op["type"] == "upsert" and "base" in op]
    assert len(ops) > 100 and corrections, "a period of changes, A0 corrections among them"
    assert [op["seq"] for op in ops] == list(range(1, len(ops) + 1))
    for start in range(0, len(ops), 60):
        body = device.send(client, device.seal(ops[start:start + 60]))
        assert {v["verdict"] for v in body["receipt"]["verdicts"]} == {"applied"}, body

    for op in corrections:  # the A0 corrections: the one thing the bulk load leaves alone
        fields = {name: value for name, value in op["fields"].items() if name in STATE}
        if fields:
            row = dict(zip(STATE, expected[op["id"]], strict=True))
            expected[op["id"]] = tuple({**row, **fields}.values())
    assert _members() == expected
    assert [_count(m) for m in (Household, Event, Distribution)] == expected_counts
    assert _count(Conflict) == 0
    assert db.session.scalar(select(func.count()).where(SyncOp.status != "applied")) == 0
    for op in corrections:  # the A0 record holds the corrected values
        data = db.session.get(Member, op["id"]).data
        assert {k: data.get(k) for k in op["fields"]} == op["fields"]

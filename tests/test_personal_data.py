"""One person's data under Law 91/2025/QH15 (issue 18, item 10): ``a0sync person
report`` shows everything held about them and who read it; ``a0sync person erase``
leaves nothing that names them, on the server and, once pulled, on the phone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from a0core.hlc import wall_ms
from a0core.sync_client import RetryPolicy
from clients.kivy_app.core.app import AppCore
from server.extensions import db
from server.models.register import Member
from server.security import audit
from server.security.enrolment import issue_code
from tests.conftest import TWO_LEVEL
from tests.support.routes import snapshot
from tests.support.units import add_areas, import_provinces
from tests.test_clock_recovery import NATION, PIN, transport

AREA = "12619.01.1"
MOTHER = {"full_name": "Phạm Thị Hằng", "relation": "head", "sex": "female",
          "birth_date": "1994-02-11", "ethnicity": "kinh", "marital_status": "married",
          "residence_status": "present", "bhyt_number": "GD4330123456789"}


def test_report_and_erasure_of_one_person(app, tmp_path: Path) -> None:
    tree = import_provinces(db.session, TWO_LEVEL, ["33"])
    add_areas(db.session, tree, [AREA, "12619.02.1"])
    code, _ = issue_code(db.session, area_code=AREA, collaborator_name="Lò Thị Mai",
                         created_by="cli", scope=NATION)
    db.session.commit()
    phone = AppCore(tmp_path / "phone", transport=transport(app.test_client()), kdf_n=2 ** 4,
                    retry=RetryPolicy(attempts=1), now_ms=wall_ms)
    phone.enrol("http://localhost", code, PIN, PIN)
    hid = phone.save_entity("household", {"number": "21", "address": "Xóm Bãi"}).id
    mother = phone.save_entity("member", MOTHER, context={"household_id": hid}).id
    day = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    birth = phone.record_fact("birth", {"event_date": day, "child_name": "Phạm Minh An",
                                        "sex": "male", "birth_order": 1,
                                        "place_of_birth": "hospital"},
                              {"household_id": hid, "member_id": mother})
    assert birth.ok, birth.errors
    handed = phone.record_fact("distribution", {"method": "pill", "quantity": 3,
                                                "distributed_on": day, "source": "free"},
                               {"household_id": hid, "member_id": mother})
    assert handed.ok, handed.errors
    assert phone.sync().error is None
    child = birth.op["fields"]["child_id"]
    # who read her: a page naming her, a commune export covering her, one elsewhere
    audit.record(db.session, "user:canboxa", "conflicts.view", target="/dashboard/conflicts",
                 commune_code="12619", row_count=1, details={"records": [mother]})
    audit.record(db.session, "user:huyen", "export.persons", commune_code="12619",
                 row_count=40)
    audit.record(db.session, "user:xakhac", "export.persons", commune_code="11953",
                 row_count=9)
    db.session.commit()

    runner = app.test_cli_runner()
    shown = runner.invoke(args=["person", "report", mother])
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert found["person"]["data"]["full_name"] == "Phạm Thị Hằng"
    assert found["household"]["number"] == "21"
    assert [e["form"] for e in found["events"]] == ["birth"]
    assert [d["method"] for d in found["distributions"]] == ["pill"]
    assert len(found["operations"]) == 3 and found["written_by"][0]["collaborator"] == \
        "Lò Thị Mai"
    assert [r["actor"] for r in found["read_by"]] == ["user:canboxa"]
    assert [r["actor"] for r in found["read_in_bulk_by"]] == ["user:huyen"]
    out = tmp_path / "report.json"
    assert runner.invoke(args=["person", "report", mother, "--out", str(out)]).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert runner.invoke(args=["person", "report", "no-such-id"]).exit_code == 2

    erased = runner.invoke(args=["person", "erase", mother, "--reason", "yêu cầu của bà Hằng",
                                 "--yes"])
    assert erased.exit_code == 0, erased.output
    for table, rows in snapshot():  # nothing on the server names her any more
        for trace in ("Phạm Thị Hằng", "GD4330123456789", "1994-02-11"):
            assert trace not in rows, (table, trace)
    tomb = db.session.get(Member, mother)
    assert tomb.deleted and tomb.data == {"household_id": hid, "erased": True}
    assert db.session.get(Member, child).full_name == "Phạm Minh An"  # the child's own record
    actions = [r["action"] for r in json.loads(runner.invoke(
        args=["person", "report", mother]).output)["read_by"]]
    assert "person.erase" in actions and "person.report" in actions

    assert phone.sync().error is None  # the phone pulls the tombstone and wipes its copy
    assert phone.register.get(mother).data == {} and phone.register.get(mother).deleted
    phone.lock()
    phone.unlock(PIN)
    local = json.dumps([phone.register.get(mother).data, phone.outbox_rows(),
                        list(phone.register.facts.values())], ensure_ascii=False)
    assert "Phạm Thị Hằng" not in local and "GD4330123456789" not in local

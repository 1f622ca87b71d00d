"""A device's missing sequence numbers (issue 18, item 8): every receipt, ``/devices/me``,
``a0sync devices list --json`` and the app say which operations never arrived; they
were visible only on the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

from a0core.envelope import sign_request
from a0core.hlc import wall_ms
from a0core.sync_client import RetryPolicy
from clients.kivy_app.core.app import AppCore
from server.extensions import db
from server.security.enrolment import issue_code
from tests.support.register import household, new_id
from tests.test_clock_recovery import NATION, PIN, transport

ME = "/api/v1/devices/me"


def me(client, device) -> dict:
    return client.get(ME, headers=sign_request("GET", ME, b"", device.keys,
                                               device_id=device.id)).get_json()


def test_receipts_status_and_cli_name_the_missing_ranges(app, client, device) -> None:
    hh = new_id()
    ops = [device.upsert("household", hh, household(device.area, str(n))) for n in range(1, 7)]
    carried = device.seal(ops[1:3])  # 2–3 go on a USB stick that has not arrived yet
    first = device.send(client, device.seal(ops[:1]))["receipt"]
    assert (first["highest_contiguous_seq"], first["missing"]) == (1, [])
    later = device.send(client, device.seal(ops[3:]))["receipt"]
    assert (later["highest_contiguous_seq"], later["missing"]) == (1, [[2, 3]])
    status = me(client, device)
    assert (status["highest_contiguous_seq"], status["missing"]) == (1, [[2, 3]])
    listed = app.test_cli_runner().invoke(args=["devices", "list", "--json"])
    row = next(r for r in json.loads(listed.output) if r["device_id"] == device.id)
    assert (row["highest_contiguous_seq"], row["missing"]) == (1, [[2, 3]])
    text = app.test_cli_runner().invoke(args=["devices", "list"]).output
    assert "2–3" in text

    closed = device.send(client, carried)["receipt"]
    assert (closed["highest_contiguous_seq"], closed["missing"]) == (6, [])
    assert me(client, device)["missing"] == []


def test_the_app_lists_what_never_arrived(sqlite_app, tmp_path: Path) -> None:
    from tests.conftest import TWO_LEVEL
    from tests.support.units import add_areas, import_provinces

    tree = import_provinces(db.session, TWO_LEVEL, ["33"])
    add_areas(db.session, tree, ["12619.01.1"])
    code, _ = issue_code(db.session, area_code="12619.01.1", collaborator_name="Lò Văn Sáng",
                         created_by="cli", scope=NATION)
    db.session.commit()
    core = AppCore(tmp_path / "phone", transport=transport(sqlite_app.test_client()),
                   kdf_n=2 ** 4, retry=RetryPolicy(attempts=1), now_ms=wall_ms)
    core.enrol("http://localhost", code, PIN, PIN)
    hid = core.save_entity("household", {"number": "3", "address": "Bản Mới"}).id
    core.save_entity("household", {"address": "Bản Mới 2"}, hid)
    exported = core.export_batch(tmp_path / "usb")  # 1–2, to carry to the commune
    core.save_entity("household", {"number": "4"}, hid)
    core.save_entity("household", {"address": "Bản Mới 3"}, hid)
    newer = sorted((row["op"] for row in core.outbox_rows() if row["seq"] > 2),
                   key=lambda op: op["seq"])
    core.take_receipt(core.client.send_batch(core.client.seal(newer).envelope))

    (gap,) = core.missing()
    file_batch = next(r["batch"] for r in core.outbox_rows() if r["seq"] == 1)
    assert (gap["first"], gap["last"], gap["batches"]) == (1, 2, [file_batch])
    assert "1–2" in gap["vi"] and "mang tệp" in gap["vi"] and "carry" in gap["en"]
    assert exported.name.endswith("0000001-0000002.a0b")
    report = core.sync()  # sent again over the network: nothing is missing any more
    assert report.error is None and core.missing() == []


def test_after_a_restore_phones_send_again_what_the_server_lost(sqlite_app,
                                                                tmp_path: Path) -> None:
    """The server is restored from last night's backup: a phone's later operations, which
    it had acknowledged, are sent again, and no later change escapes a pull cursor."""
    from server.backup import backup, restore
    from server.models.register import Household
    from tests.conftest import TWO_LEVEL
    from tests.support.units import add_areas, import_provinces

    tree = import_provinces(db.session, TWO_LEVEL, ["33"])
    add_areas(db.session, tree, ["12619.01.1"])
    cores = []
    for n in range(2):
        code, _ = issue_code(db.session, area_code="12619.01.1",
                             collaborator_name=f"Cộng tác viên {n}", created_by="cli",
                             scope=NATION)
        db.session.commit()
        core = AppCore(tmp_path / f"phone{n}", transport=transport(sqlite_app.test_client()),
                       kdf_n=2 ** 4, retry=RetryPolicy(attempts=1), now_ms=wall_ms)
        core.enrol("http://localhost", code, PIN, PIN)
        cores.append(core)
    first, other = cores
    hid = first.save_entity("household", {"number": "5", "address": "Xóm Cũ"}).id
    assert first.sync().error is None and other.sync().error is None
    nightly = tmp_path / "nightly.backup"
    backup(db.engine, nightly)
    first.save_entity("household", {"address": "Xóm Mới"}, hid)
    assert first.save_entity("household", {"number": "6"}, hid).ok
    assert first.sync().error is None and first.outbox_counts() == {"applied": 3}

    db.session.remove()
    restore(db.engine, nightly, replace=True)  # the server's disk died; last night's copy
    assert db.session.get(Household, hid).data["address"] == "Xóm Cũ"
    assert first.sync().error is None  # the phone sends 2–3 again
    db.session.expire_all()
    assert db.session.get(Household, hid).data["address"] == "Xóm Mới"
    assert db.session.get(Household, hid).number == "6"
    other.save_entity("household", {"address": "Xóm Mới, ngõ 2"}, hid)
    assert other.sync().error is None and first.sync().error is None
    assert first.register.get(hid).data["address"] == "Xóm Mới, ngõ 2"  # past its cursor

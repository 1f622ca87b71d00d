"""A record kept with something to check: the personal identification number against
the member's sex and year of birth (member form v2).

The verdict is ``applied`` (or ``conflict``) with the code ``record_warnings`` and one
warning per problem, in the receipt and, for an operation that waited, in the pull
page; the record is stored as sent. An invalid number is a refusal like any other
field error, and version 1 of the form is still accepted.
"""

from __future__ import annotations

from html import unescape

from sqlalchemy import select

from a0core.sync_client import verdict_warnings
from server.extensions import db
from server.models.register import Member
from server.models.sync import SyncOp
from tests.support.register import household, member, new_id
from tests.test_protocol_schemas import errors

# a man born in 1990, registered in Hà Nội; the woman below says otherwise
MAN_1990 = "001090012345"


def _receipt_verdict(device, client, seq: int) -> dict:
    body = device.send(client, device.seal())
    assert errors("receipt.v1", body) == []
    return next(v for v in body["receipt"]["verdicts"] if v["seq"] == seq)


def test_a_number_that_says_another_sex_and_year_is_kept_with_a_warning(app, client,
                                                                      device) -> None:
    h, m = new_id(), new_id()
    device.upsert("household", h, household(device.area))
    op = device.upsert("member", m, {**member(h, "Trần Thị Lan", "female", "1991-04-02"),
                                     "id_number": MAN_1990}, version=2)
    verdict = _receipt_verdict(device, client, op["seq"])
    assert verdict["verdict"] == "applied" and verdict["code"] == "record_warnings"
    assert verdict["message_vi"] == "Máy chủ giữ bản ghi, nhưng có 2 điều cần kiểm tra"
    warnings = verdict_warnings(verdict)
    assert [(w["code"], w["field"]) for w in warnings] == [
        ("personal_id_sex_mismatch", "id_number"), ("personal_id_year_mismatch", "id_number")]
    assert "1990" in warnings[1]["message_vi"] and "1991" in warnings[1]["message_vi"]
    assert all(MAN_1990 in w["message_en"] for w in warnings)
    row = db.session.get(Member, m)
    assert (row.id_number, row.data["id_number"], row.sex) == (MAN_1990, MAN_1990, "female")
    ledger = db.session.scalar(select(SyncOp).where(SyncOp.device_id == device.id,
                                                    SyncOp.seq == op["seq"]))
    assert (ledger.status, ledger.code) == ("applied", "record_warnings")


def test_an_edit_warns_only_about_what_it_wrote(app, client, device) -> None:
    h, m = new_id(), new_id()
    device.upsert("household", h, household(device.area))
    device.upsert("member", m, {**member(h, "Lê Văn Nam", "male", "1990-05-01"),
                                "id_number": MAN_1990}, version=2)
    first = _receipt_verdict(device, client, 2)
    assert first == {"seq": 2, "verdict": "applied"}  # number and record agree
    education = device.upsert("member", m, {"education": "primary"}, version=2)
    assert _receipt_verdict(device, client, education["seq"]) == {
        "seq": education["seq"], "verdict": "applied"}
    year = device.upsert("member", m, {"birth_date": "1989"}, version=2)
    verdict = _receipt_verdict(device, client, year["seq"])
    assert [w["code"] for w in verdict["warnings"]] == ["personal_id_year_mismatch"]
    assert db.session.get(Member, m).birth_date == "1989"


def test_a_waiting_edit_brings_its_warning_when_it_is_applied(app, client, device) -> None:
    h, m = new_id(), new_id()
    device.upsert("household", h, household(device.area))
    create = device.upsert("member", m, member(h, "Lê Văn Nam", "male", "1990-05-01"),
                           version=2)
    edit = device.upsert("member", m, {"id_number": "001190012345"}, version=2)  # a woman's
    creating, editing = list(device.outbox[:2]), [device.outbox[2]]
    body = device.send(client, device.seal(editing))  # the edit overtakes the record
    assert body["receipt"]["verdicts"][0]["verdict"] == "waiting"
    device.send(client, device.seal(creating))
    assert create["seq"] == 2
    device.pull(client)
    pulled = next(v for v in device.verdicts if v["seq"] == edit["seq"])
    assert errors("pull_page.v1", {"changes": [], "verdicts": [pulled], "cursor": 1,
                                   "more": False, "server_hlc": 1,
                                   "server_key": device.server_key.to_dict()}) == []
    assert pulled["verdict"] == "applied" and pulled["code"] == "record_warnings"
    assert [w["code"] for w in verdict_warnings(pulled)] == ["personal_id_sex_mismatch"]


def test_an_invalid_number_is_refused_and_version_1_still_accepted(app, client,
                                                                    device) -> None:
    h, m, old = new_id(), new_id(), new_id()
    device.upsert("household", h, household(device.area))
    bad = device.upsert("member", m, {**member(h, "Lò Thị Ửng"), "id_number": "003190012345"},
                        version=2)
    v1 = device.upsert("member", old, member(h, "Lò Văn Pọm", "male", "1966"))
    body = device.send(client, device.seal())
    verdicts = {v["seq"]: v for v in body["receipt"]["verdicts"]}
    refused = verdicts[bad["seq"]]
    assert refused["verdict"] == "rejected" and refused["code"] == "record_invalid"
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("personal_id_province", "id_number")]
    assert db.session.get(Member, m) is None
    assert verdicts[v1["seq"]] == {"seq": v1["seq"], "verdict": "applied"}


def test_commune_staff_see_the_warning_on_the_receipt(app) -> None:
    from tests.support.web import Browser, build_world

    world = build_world(app)
    device = world.devices["C"]
    h, m = new_id(), new_id()
    device.upsert("household", h, household(device.area, "90"))
    device.upsert("member", m, {**member(h, "Trần Thị Lan", "female", "1990-04-02"),
                                "id_number": MAN_1990}, version=2)
    body = device.send(app.test_client(), device.seal())
    browser = Browser(app)
    browser.login("canboxa")
    page = browser.get(f"/dashboard/batches/{body['receipt']['batch']}").get_data(as_text=True)
    assert "Máy chủ giữ bản ghi, nhưng có 1 điều cần kiểm tra" in page and "record_warnings" in page
    assert f"Số định danh {MAN_1990} là của một người nam, nhưng giới tính ghi là nữ." in page


def test_commune_staff_read_why_a_record_was_refused(app) -> None:
    """The receipt and the device page say what the field error was (its label and
    value), not only "record invalid" and its code."""
    from tests.support.web import Browser, build_world

    world = build_world(app)
    device = world.devices["C"]
    h, m = new_id(), new_id()
    device.upsert("household", h, household(device.area, "91"))
    device.upsert("member", m, {**member(h, "Trần Thị Hoa"), "ethnicity": "dan_toc_cu"})
    body = device.send(app.test_client(), device.seal())
    browser = Browser(app)
    browser.login("canboxa")
    why = '"dan_toc_cu" không có trong danh mục của "Dân tộc"'
    receipt = browser.get(f"/dashboard/batches/{body['receipt']['batch']}")
    assert why in unescape(receipt.get_data(as_text=True))
    page = unescape(browser.get(f"/dashboard/devices/{device.id}").get_data(as_text=True))
    assert "Bản ghi không hợp lệ (1 lỗi)" in page and why in page


def test_the_device_page_says_what_a_waiting_operation_waits_for(app) -> None:
    """Not ``waiting_on <id>``: the person or household by name when the server has been
    told it (a record on its way, waiting itself), else a plain sentence."""
    from tests.support.web import Browser, build_world

    world = build_world(app)
    device = world.devices["C"]
    h, m = new_id(), new_id()
    device.upsert("household", h, household(device.area, "77"))
    device.upsert("member", m, member(h, "Đinh Văn Tâm", "male", "1979-01-02"))
    device.upsert("member", m, {"education": "primary"}, version=2)
    held, sent = list(device.outbox[:1]), list(device.outbox[1:])
    device.send(app.test_client(), device.seal(sent))  # the household held back
    assert {op.waiting_on for op in db.session.scalars(select(SyncOp).where(
        SyncOp.device_id == device.id, SyncOp.status == "waiting"))} == {h, m}
    browser = Browser(app)
    browser.login("canboxa")
    page = unescape(browser.get(f"/dashboard/devices/{device.id}").get_data(as_text=True))
    assert "waiting_on" not in page and f">{h}<" not in page and f">{m}<" not in page
    assert "Chờ hồ sơ của Đinh Văn Tâm được gửi lên máy chủ" in page  # the edit
    assert "Chờ hộ hoặc người mà thao tác này cần được gửi lên máy chủ" in page  # the member
    browser.get("/lang/en")
    english = unescape(browser.get(f"/dashboard/devices/{device.id}").get_data(as_text=True))
    assert "Waiting for the record of Đinh Văn Tâm to reach the server" in english
    device.send(app.test_client(), device.seal(held))
    page = unescape(browser.get(f"/dashboard/devices/{device.id}").get_data(as_text=True))
    assert "Chờ hồ sơ" not in page


def test_what_an_operation_waits_for_names_nobody_of_another_commune(app) -> None:
    """A device may name any id it likes: a person of another commune, already in the
    register, is not named to this commune's staff (the plain sentence instead)."""
    from server.sync.describe import waits
    from tests.support.web import build_world

    world = build_world(app)
    other = db.session.get(Member, db.session.scalars(select(SyncOp.entity_id).where(
        SyncOp.device_id == world.devices["other province"].id,
        SyncOp.form == "member")).first())
    own = db.session.scalars(select(SyncOp).where(
        SyncOp.device_id == world.devices["C"].id)).first()
    assert other is not None and other.commune_code != own.commune_code
    mine = db.session.scalars(select(Member).where(
        Member.commune_code == own.commune_code)).first()
    ops = [SyncOp(seq=1, waiting_on=other.id, commune_code=own.commune_code),
           SyncOp(seq=2, waiting_on=mine.id, commune_code=own.commune_code)]
    said = waits(db.session, ops, "vi")
    assert other.full_name not in said[1] and said[1].startswith("Chờ hộ hoặc người")
    assert said[2] == f"Chờ hồ sơ của {mine.full_name} được gửi lên máy chủ"
    db.session.rollback()

"""The app's core without a screen or a server: encrypted store, forms from schemas/,
outbox, and the pull merge that never overwrites unsettled local edits."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from a0core.envelope import DeviceKeys, op_hash_valid
from a0core.errors import A0Error
from a0core.merge import merge_fields
from a0core.schemas import registry
from clients.kivy_app.core.app import AppCore
from clients.kivy_app.core.crypto import RecordCipher
from clients.kivy_app.core.formview import FormView, event_forms
from clients.kivy_app.core.outbox import (
    APPLIED,
    PENDING,
    REJECTED,
    UNSETTLED,
    counted,
    next_state,
)
from clients.kivy_app.core.register import Entity
from clients.kivy_app.core.store import Store
from server.security.keys import ServerKey

PIN = "482916"
AREA = {"code": "12619.01.1", "name": "Địa bàn 1"}
HEAD = {"full_name": "Nguyễn Thị Thuỷ", "relation": "head", "sex": "female",
        "birth_date": "1985", "ethnicity": "kinh", "marital_status": "married",
        "residence_status": "present"}


def device(folder: Path, pin: str = PIN) -> AppCore:
    """A provisioned device (as after enrolment) with real keys, no server."""
    core = AppCore(folder, kdf_n=2 ** 12)
    answer = {"device_id": str(uuid.uuid4()), "area": AREA,
              "collaborator": {"id": 1, "full_name": "Nguyễn Thị Test"},
              "server_key": ServerKey.generate().public().to_dict(), "server_hlc": 0}
    core.provision("http://127.0.0.1:9", answer, DeviceKeys.generate(), pin)
    return core


def add_household(core: AppCore, number: str = "7", address: str = "Xóm Trại Găng",
                  head: dict | None = None) -> str:
    h = core.save_entity("household", {"number": number, "address": address})
    assert h.ok, h.errors
    m = core.save_entity("member", head or HEAD, context={"household_id": h.id})
    assert m.ok, m.errors
    return h.id


# ------------------------------------------------------------------ the store


def test_wrong_pin_opens_nothing_and_the_file_holds_no_names(tmp_path: Path) -> None:
    core = device(tmp_path)
    # a whole date: a bare year ("1985") can be four digits of a stamp or an id by chance
    add_household(core, head={**HEAD, "birth_date": "1985-03-12"})
    core.lock()
    with pytest.raises(A0Error) as wrong:
        core.unlock("111111")
    assert wrong.value.code == "app_pin_wrong" and "PIN" in wrong.value.vi
    assert not core.unlocked
    core.unlock(PIN)
    assert [r.head for r in core.register.rows()] == ["Nguyễn Thị Thuỷ"]
    core.lock()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in ("Nguyễn Thị Thuỷ", "Nguyen", "Thuỷ", "Trại Găng", "Xóm", "1985-03-12",
                   "12/03/1985", "kinh", "female", "Nguyễn Thị Test", "12619.01.1"):
        for form in {secret.encode("utf-8"), secret.encode("utf-16-le")}:
            assert form not in raw, secret
    assert b"sign_private" not in raw and b"box_private" not in raw


def test_a_row_moved_elsewhere_does_not_open(tmp_path: Path) -> None:
    core = device(tmp_path)
    add_household(core, "1")
    add_household(core, "2")
    store = core.store
    (_, blob1), (id2, _) = store.conn.execute(
        "SELECT id, blob FROM entities WHERE kind='household'").fetchall()
    store.conn.execute("UPDATE entities SET blob=? WHERE id=?", (blob1, id2))
    core.lock()
    with pytest.raises(A0Error) as damaged:
        core.unlock(PIN)
    assert damaged.value.code == "app_store_damaged"
    # what to do, and what not to: uninstalling would lose what was never sent
    assert "Đừng gỡ ứng dụng" in damaged.value.vi and "trạm y tế xã" in damaged.value.vi


def test_records_opened_together_are_each_one_value_in_their_own_place() -> None:
    """Unlock opens the register as one JSON array: what it gives back is what opening
    each record alone gives, and a record that decrypts to anything but one JSON value
    (which would shift every record after it) is a damaged store."""
    cipher = RecordCipher(bytes(32))
    values = [{"n": i, "name": "Nguyễn Thị Thuỷ"} for i in range(5)] + [[1, 2], "x", None]
    sealed = [(f"entity:{i}", cipher.seal(f"entity:{i}", v)) for i, v in enumerate(values)]
    assert cipher.open_many(sealed) == [cipher.open(w, b) for w, b in sealed] == values
    assert cipher.open_many([]) == []
    nonce = bytes(12)
    two = nonce + AESGCM(bytes(32)).encrypt(nonce, b'{"n":1},{"n":2}', b"entity:9")
    cut = nonce + AESGCM(bytes(32)).encrypt(nonce, b'{"n":1}]', b"entity:8")
    for bad in (("entity:9", two), ("entity:8", cut)):
        with pytest.raises(A0Error) as damaged:
            cipher.open_many([*sealed, bad])
        assert damaged.value.code == "app_store_damaged"


@pytest.mark.parametrize("pin", ["12345", "abcdef", "１２３４５６", "1234567890123"])
def test_weak_pins_are_refused_before_anything_is_written(tmp_path: Path, pin: str) -> None:
    with pytest.raises(A0Error) as weak:
        Store.create(tmp_path / "s.sqlite", pin)
    assert weak.value.code == "app_pin_weak"
    assert not (tmp_path / "s.sqlite").exists()


# ---------------------------------------------------------- forms and outbox


def test_forms_come_from_schemas_and_report_the_servers_errors(tmp_path: Path) -> None:
    core = device(tmp_path)
    fv = FormView("member")
    sex = next(f for f in fv.inputs() if f.name == "sex")
    assert [c.code for c in sex.choices] == [c.code for c in registry().codelist("sex")
                                             .active_codes()]
    assert sex.label_vi == registry().form("member").field("sex").label["vi"]
    assert {f.id for f in event_forms()} >= {"birth", "death", "move_in", "move_out",
                                              "marriage", "divorce", "method_start"}
    hid = add_household(core)
    bad = core.save_entity("member", {**HEAD, "full_name": "", "birth_date": "2999"},
                           context={"household_id": hid})
    assert not bad.ok and set(bad.errors) == {"full_name", "birth_date"}
    assert any("Họ và tên" in vi or "họ" in vi.lower() for vi, _ in bad.errors["full_name"])
    assert core.outbox_counts() == {PENDING: 2}  # the refused save wrote nothing


def test_outbox_numbers_stamps_and_sends_only_what_changed(tmp_path: Path) -> None:
    core = device(tmp_path)
    hid = add_household(core)
    shown = dict(core.register.get(hid).clocks)
    edit = core.save_entity("household", {"address": "Xóm Mới"}, hid)
    assert edit.op["fields"] == {"address": "Xóm Mới"}
    assert edit.op["base"] == {"address": shown["address"]}
    assert core.save_entity("household", {"address": "Xóm Mới"}, hid).op is None  # no change
    core.lock()
    core.unlock(PIN)  # the counter and the clock survive a restart
    later = core.save_entity("household", {"address": "Xóm Cũ"}, hid)
    rows = sorted(core.outbox_rows(), key=lambda r: r["seq"])
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    hlcs = [r["op"]["hlc"] for r in rows]
    assert hlcs == sorted(hlcs) and len(set(hlcs)) == 4
    assert all(op_hash_valid(r["op"]) for r in rows)
    assert later.op["base"] == {"address": [edit.op["hlc"], core.device_id]}
    assert core.keep(hid) == {"area_code", "number", "address"}


def test_a_birth_shows_the_child_at_once(tmp_path: Path) -> None:
    core = device(tmp_path)
    hid = add_household(core)
    mother = core.register.members_of(hid)[0]
    birth = core.record_fact("birth", {"event_date": "2026-02-01", "sex": "female",
                                       "birth_order": 2, "place_of_birth": "health_station"},
                             context={"household_id": hid, "member_id": mother.id})
    assert birth.ok, birth.errors
    child = core.register.get(birth.op["fields"]["child_id"])
    assert child.data["relation"] == "child" and child.data["mother_id"] == mother.id
    assert len(core.register.members_of(hid)) == 2


def test_search_folds_diacritics_and_handles_many_households(tmp_path: Path) -> None:
    core = device(tmp_path)
    for n in range(1, 41):
        add_household(core, str(n), f"Xóm {n}")
    core.save_entity("member", {**HEAD, "full_name": "Đặng Văn Đức", "relation": "spouse",
                                "sex": "male"},
                     context={"household_id": core.register.rows()[4].id})
    assert [r.number for r in core.register.rows()[:3]] == ["1", "2", "3"]
    assert [r.number for r in core.register.search("dang duc")] == ["5"]
    assert [r.number for r in core.register.search("ĐỨC đặng")] == ["5"]
    assert len(core.register.search("thuy")) == 40


# ---------------------------------------------------- receipts and rejections


def test_a_rejected_operation_opens_its_record_with_the_reason(tmp_path: Path) -> None:
    core = device(tmp_path)
    hid = add_household(core)
    core.apply_verdicts([{"seq": 1, "verdict": "applied"},
                         {"seq": 2, "verdict": "rejected", "code": "record_invalid",
                          "message_vi": "Bản ghi không hợp lệ (1 lỗi)",
                          "message_en": "The record is invalid (1 errors)",
                          "errors": [{"field": "birth_date", "code": "date_future",
                                      "message_vi": "Ngày sinh ở tương lai",
                                      "message_en": "Birth date in the future"}]}])
    fix = core.fix_target(2)
    assert fix["form"] == "member" and fix["household_id"] == hid
    assert fix["errors"] == {"birth_date": [("Ngày sinh ở tương lai",
                                             "Birth date in the future")]}
    note = next(n for n in core.notices() if n["kind"] == "rejected")
    assert "Nguyễn Thị Thuỷ" in note["vi"] and "Ngày sinh ở tương lai" in note["vi"]
    assert core.outbox_counts() == {APPLIED: 1, REJECTED: 1}
    assert core.state_counts() == {APPLIED: 1, REJECTED: 1}
    # fixed from the refusal: no longer to fix, nor opened again (it would be saved twice)
    saved = core.save_entity("member", {"birth_date": "1985-03-12"}, fix["id"])
    assert saved.ok and saved.op["seq"] == 3
    core.mark_fixed(2)
    assert core.rejected() == [] and core.fix_target(2) is None
    assert core.state_counts() == {PENDING: 1, APPLIED: 1}
    assert core.outbox_counts() == {PENDING: 1, APPLIED: 1, REJECTED: 1}  # the answer stays
    note = next(n for n in core.notices() if n["kind"] == "rejected")
    assert note["fixed"] and "Chạm để mở" not in note["vi"]  # nothing left to tap for


def test_a_refusal_without_its_message_says_what_to_do_not_the_bare_code(
        tmp_path: Path) -> None:
    """A newer server's code with no words read «ops_quota_spent» alone: now a general
    sentence (check the record, ask the commune station), the code only as a note;
    the same for a whole request refused so."""
    from a0core.sync_client import RemoteError

    core = device(tmp_path)
    add_household(core)
    core.apply_verdicts([{"seq": 2, "verdict": "rejected", "code": "ops_quota_spent",
                          "errors": [{"field": "full_name", "code": "name_rule_new"}]}])
    note = next(n for n in core.notices() if n["kind"] == "rejected")
    assert "kiểm tra các thông tin đã ghi" in note["vi"] and "trạm y tế xã" in note["vi"]
    assert "(mã: ops_quota_spent)" in note["vi"] and "(code: name_rule_new)" in note["en"]
    assert ")): ops_quota_spent" not in note["vi"]  # as it read before
    fix = core.fix_target(2)
    assert all("trạm y tế xã" in vi for vi, _en in fix["errors"]["full_name"])
    row = next(r for r in core.outbox_rows() if r["seq"] == 2)
    assert row["verdict"]["message_vi"].startswith("Máy chủ không nhận thay đổi này")
    error = RemoteError("ops_quota_spent", None, None, status=400)
    assert error.vi.startswith("Máy chủ không nhận") and error.vi.endswith(
        "(mã: ops_quota_spent)")
    assert RemoteError("app_pin_wrong", None, "", status=400).en.startswith("Wrong PIN")


def test_refusals_name_whom_they_are_about_never_an_id(tmp_path: Path) -> None:
    """A hand-out with no recipient named goes by its household; a stock movement, about
    no one, by its form's title (it read «bản ghi 6985cdc9»)."""
    core = device(tmp_path)
    hid = add_household(core)
    handed = core.record_fact("distribution", {"method": "condom", "quantity": 10,
                                               "distributed_on": "2026-12-01",
                                               "source": "free"}, {"household_id": hid})
    received = core.record_fact("stock_receipt", {"method": "condom", "quantity": 10,
                                                  "supplier": "social_marketing",
                                                  "received_on": "2026-12-01"}, {})
    assert handed.ok and received.ok, (handed.errors, received.errors)
    refusal = {"verdict": "rejected", "code": "record_invalid",
               "message_vi": "Bản ghi không hợp lệ", "message_en": "Invalid"}
    core.apply_verdicts([{"seq": handed.op["seq"], **refusal},
                         {"seq": received.op["seq"], **refusal}])
    words = {n["seq"]: n["vi"] for n in core.notices() if n["kind"] == "rejected"}
    assert "(hộ số 7)" in words[handed.op["seq"]]
    assert "(Nhận phương tiện tránh thai)" in words[received.op["seq"]]
    assert not any(re.search(r"[0-9a-f]{8}", w) for w in words.values()), words


def test_a_kept_record_with_something_to_check_is_said_at_once_and_after_sync(
        tmp_path: Path) -> None:
    """Member form v2: an identification number that says another sex or year is saved,
    said at once, and the server's verdict (kept, with its warnings) becomes a notice
    that opens the record with the warnings beside the field."""
    core = device(tmp_path)
    hid = add_household(core)
    assert FormView("member").version == 2
    saved = core.save_entity("member", {**HEAD, "full_name": "Lò Văn Pọm", "relation": "spouse",
                                        "sex": "male", "birth_date": "1966",
                                        "id_number": "014 168 000123"},
                             context={"household_id": hid})
    assert saved.ok and saved.op["fields"]["id_number"] == "014168000123"
    assert saved.op["version"] == 2
    assert [vi for vi, _ in saved.warnings["id_number"]] == [
        "Số định danh 014168000123 là của một người nữ, nhưng giới tính ghi là nam. "
        "Hãy kiểm tra lại giới tính hoặc số định danh.",
        "Số định danh 014168000123 cho năm sinh 1968, nhưng năm sinh ghi là 1966. "
        "Hãy kiểm tra lại ngày sinh hoặc số định danh."]
    member = saved.id
    assert core.save_entity("member", {"education": "primary"}, member).warnings == {}
    # the server's verdict: kept, with the same two warnings (its words are shown)
    server_words = [{"code": "personal_id_sex_mismatch", "field": "id_number",
                     "message_vi": "Giới tính không khớp số định danh",
                     "message_en": "Sex does not match the number"},
                    {"code": "code_from_a_newer_server", "field": "id_number"},
                    {"code": "Not A Code"}, "not an object"]
    core.apply_verdicts([{"seq": 3, "verdict": "applied", "code": "record_warnings",
                          "message_vi": "Máy chủ giữ bản ghi, nhưng có 2 điều cần kiểm tra",
                          "message_en": "Kept, with 2 thing(s) to check",
                          "warnings": server_words}])
    assert core.outbox_counts()[APPLIED] == 1
    note = next(n for n in core.notices() if n["kind"] == "warning")
    assert note["seq"] == 3 and "Lò Văn Pọm" in note["vi"]
    assert "Giới tính không khớp số định danh" in note["vi"]
    assert "code_from_a_newer_server" in note["vi"]  # the code stands in for unknown words
    fix = core.fix_target(3)
    assert fix["id"] == member and set(fix["errors"]) == {"id_number"}
    assert fix["errors"]["id_number"][0] == ("Giới tính không khớp số định danh",
                                             "Sex does not match the number")
    assert core.fix_target(1) is None  # applied without warnings: nothing to fix


def test_counts_of_changes_read_the_vietnamese_way() -> None:
    """A year of a village's changes: 1.532, not 1532 (the top bar, the sync screen)."""
    assert counted(APPLIED, 1532) == "Được chấp nhận: 1.532"
    assert counted(APPLIED, 1532, "en") == "Accepted: 1,532"
    assert counted(PENDING, 7) == "Đã lưu trên máy: 7"


@given(st.lists(st.sampled_from(["applied", "duplicate", "conflict", "rejected", "waiting"]),
                min_size=1, max_size=6))
def test_verdicts_repeated_or_reordered_never_unsettle(verdicts: list[str]) -> None:
    state = PENDING
    for v in verdicts:
        state = next_state(state, {"verdict": v})
    settled = [v for v in verdicts if v != "waiting"]
    assert state == (settled[0] if settled else "waiting")
    assert next_state(state, {"verdict": "waiting"}) == state or state in UNSETTLED


def test_merges_and_conflicts_are_announced_in_plain_words(tmp_path: Path) -> None:
    core = device(tmp_path)
    a = add_household(core, "3")
    b = add_household(core, "4")
    stamp = [core.clock.now() + 10, "other-device"]
    page = {"server_hlc": 0, "verdicts": [], "cursor": 9, "more": False, "changes": [
        {"seq": 5, "kind": "alias", "id": b, "data": {"survivor_id": a, "entity": "household",
                                                      "active": True}},
        {"seq": 6, "kind": "conflict", "id": "17", "data": {
            "entity": "member", "entity_id": core.register.members_of(a)[0].id,
            "field": "sex", "status": "open", "resolved_value": None,
            "a": {"value": "female", "hlc": 1, "device": core.device_id},
            "b": {"value": "male", "hlc": stamp[0], "device": stamp[1]}}}]}
    with core.store.transaction():
        raised = core.apply_page(page)
        again = core.apply_page(page)  # a page pulled twice says nothing twice
    assert [n["kind"] for n in raised] == ["merge", "conflict"] and again == []
    assert "hộ số 4 nay là hộ số 3" in raised[0]["vi"]
    assert "máy này ghi «Nữ»" in raised[1]["vi"] and "máy kia ghi «Nam»" in raised[1]["vi"]
    assert [r.number for r in core.register.rows()] == ["3"]


# -------------------------------------------- the pull merge (property-based)

FIELDS = ["number", "address", "village_code"]
write = st.tuples(st.sampled_from(FIELDS), st.text("abc", min_size=1, max_size=2),
                  st.integers(1, 50), st.sampled_from(["dev-a", "dev-b", "server"]))


@given(local=st.lists(write, max_size=6), remote=st.lists(write, max_size=8),
       order=st.randoms(use_true_random=False), settle_at=st.integers(0, 8))
def test_pulls_never_overwrite_unsettled_edits_and_converge_once_settled(
        local, remote, order, settle_at) -> None:
    """Whatever order and duplication pull copies arrive in, a field with an unsettled
    local write keeps the local value; once the writes settle, the device holds exactly
    the last-writer-wins merge of every write (what the server holds)."""
    entity = Entity("household", "h")
    mine = {}
    for name, value, hlc, _ in local:
        entity.write({name: value}, (hlc, "me"))
        mine[name] = entity.data.get(name)
    keep = {name for name, *_ in local}
    # the server's copies as successive snapshots; pages may come twice and out of order
    server_data: dict = {}
    server_clocks: dict = {}
    snapshots = []
    for name, value, hlc, dev in remote:
        merge_fields(server_data, server_clocks, {name: value}, (hlc, dev))
        snapshots.append((dict(server_data), {k: list(v) for k, v in server_clocks.items()}))
    deliveries = snapshots + snapshots[: len(snapshots) // 2]
    order.shuffle(deliveries)
    for i, (data, clocks) in enumerate(deliveries):
        if i == settle_at:
            entity.settle(keep := set())
        entity.absorb_remote(data, clocks, keep)
        for name in keep:
            assert entity.data.get(name) == mine[name]
    entity.settle(set())
    # the server also applies the local writes; the device must end where the server is
    for name, value, hlc, _ in local:
        merge_fields(server_data, server_clocks, {name: value}, (hlc, "me"))
    expected_data, expected_clocks = dict(server_data), dict(server_clocks)
    entity.absorb_remote(expected_data, expected_clocks, set())
    assert entity.data == expected_data
    assert {k: tuple(v) for k, v in entity.clocks.items()} == \
        {k: tuple(v) for k, v in expected_clocks.items()}


def state(entity: Entity) -> tuple:
    return (entity.data, {k: tuple(v) for k, v in entity.clocks.items()},
            entity.remote["data"], {k: tuple(v) for k, v in entity.remote["clocks"].items()},
            entity.deleted, entity.merged_into, entity.local_only)


def stored(entity: Entity) -> Entity:
    """The entity as the store gives it back (through JSON, as sealed)."""
    return Entity.from_blob(entity.kind, entity.id, json.loads(json.dumps(entity.to_blob())))


@given(local=st.lists(write, max_size=5), remote=st.lists(write, max_size=5),
       later=st.lists(st.tuples(st.booleans(), write), max_size=6), keep=st.booleans(),
       deleted=st.booleans(), local_only=st.booleans())
def test_the_stored_form_gives_back_the_same_record_and_merges_the_same(
        local, remote, later, keep, deleted, local_only) -> None:
    """The packed form (clocks by stamp, the server's copy left out when it is what the
    record holds) gives back the record exactly, and the record given back merges every
    later write and pull as the original does: nothing in it is shared that a merge would
    change in both places."""
    entity = Entity("member", "m", deleted=deleted, local_only=local_only)
    for name, value, hlc, dev in remote:
        entity.absorb_remote({name: value}, {name: [hlc, dev]}, set())
    for name, value, hlc, _ in local:
        entity.write({name: value}, (hlc, "me"))
    copy = stored(entity)
    assert state(copy) == state(entity)
    kept = {name for name, *_ in local} if keep else set()
    for pulled, (name, value, hlc, dev) in later:
        for e in (entity, copy):
            if pulled:
                e.absorb_remote({name: value}, {name: [hlc, dev]}, kept)
            else:
                e.write({name: value}, (hlc, "me"))
        assert state(copy) == state(entity)
    for e in (entity, copy):
        e.settle(set())
    assert state(copy) == state(entity) == state(stored(copy))


def test_a_record_stored_in_the_plain_form_of_earlier_versions_still_reads() -> None:
    blob = {"data": {"number": "7"}, "clocks": {"number": [5, "server"]}, "deleted": False,
            "merged_into": None, "remote": {"data": {"number": "7"},
                                            "clocks": {"number": [5, "server"]}},
            "local_only": False}
    entity = Entity.from_blob("household", "h", blob)
    assert entity.to_blob() == {"v": 2, "data": {"number": "7"},
                                "clocks": [[5, "server", "number"]]}
    entity.absorb_remote({"number": "8"}, {"number": [6, "server"]}, set())
    assert entity.data == entity.remote["data"] == {"number": "8"}
    bare = Entity.from_blob("household", "h", {**blob, "remote": None, "local_only": True})
    assert bare.remote == {"data": {}, "clocks": {}} and bare.local_only


def test_a_pull_that_says_the_area_moved_updates_the_profile(tmp_path: Path) -> None:
    """After a reform migration the server's pull pages name the area's new commune and
    province (issue 13): the app keeps them, across a restart, and its area code stays."""
    core = device(tmp_path)
    place = {"area": AREA, "commune": {"code": "06001", "name": "Xã Đoàn Kết"},
             "province": {"code": "20", "name": "Tỉnh Lạng Sơn"}}
    page = {"server_hlc": 0, "verdicts": [], "cursor": 3, "more": False, "changes": [],
            "place": place}
    with core.store.transaction():
        core.apply_page(page)
        core.apply_page({**page, "place": {"commune": {"code": 6}}})  # malformed: ignored
    core.lock()
    core.unlock(PIN)
    enrolment = core.profile["enrolment"]
    assert (enrolment["commune"], enrolment["province"]) == (place["commune"], place["province"])
    assert core.area == AREA
    h = core.save_entity("household", {"number": "8"})
    assert h.ok and core.register.entities[h.id].data["area_code"] == AREA["code"]


def test_unlocking_and_the_household_list_import_no_sync_client_nor_form_checks(
        tmp_path: Path) -> None:
    """Cold start (docs/app.md): the core unlocks and lists households without the sync
    client, the envelope's keys or marshmallow, which wait until first used."""
    import subprocess
    import sys

    core = device(tmp_path)
    add_household(core)
    core.lock()
    script = (
        "import sys; from pathlib import Path\n"
        "from clients.kivy_app.core.app import AppCore\n"
        f"core = AppCore(Path({str(tmp_path)!r})); core.unlock({PIN!r})\n"
        "assert [r.head for r in core.register.rows()] == ['Nguyễn Thị Thuỷ']\n"
        "print(' '.join(sorted(sys.modules)))\n")
    loaded = set(subprocess.run([sys.executable, "-c", script], check=True, text=True,
                                capture_output=True, cwd=Path(__file__).parents[1]
                                ).stdout.split())
    assert "clients.kivy_app.core.register" in loaded
    assert not loaded & {"marshmallow", "a0core.forms", "a0core.sync_client",
                         "a0core.envelope", "urllib.request", "kivy"}
    assert core.client is None  # locked
    core.unlock(PIN)
    assert core.client is not None and core.client.device_id == core.device_id


def test_records_of_an_earlier_version_are_packed_once_and_read_the_same(
        tmp_path: Path) -> None:
    """A store written before the packed form opens as it is, and the first sync after the
    update rewrites its records packed (once): the register reads the same before and
    after."""
    core = device(tmp_path)
    hid = add_household(core)
    store = core.store
    for kind, id_, blob in list(store.entities()):  # as an earlier version stored them
        e = Entity.from_blob(kind, id_, blob)
        store.put_entity(kind, id_, e.household_id, {
            "data": e.data, "clocks": e.clocks, "deleted": e.deleted,
            "merged_into": e.merged_into, "remote": e.remote, "local_only": e.local_only})
    store.put_clear("packed", None)
    core.lock()
    core.unlock(PIN)
    before = {i: state(e) for i, e in core.register.entities.items()}
    assert core.register.rows()[0].id == hid and len(before) == 2
    assert not any(b.get("v") for _k, _i, b in core.store.entities())
    assert core.sync().error is not None  # no server here: it stops, and packs all the same
    assert all(b.get("v") == 2 for _k, _i, b in core.store.entities())
    assert core.repack() == 0
    core.lock()
    core.unlock(PIN)
    assert {i: state(e) for i, e in core.register.entities.items()} == before

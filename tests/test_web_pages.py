"""Commune staff pages on both databases: sync status with gaps, a device's batches,
resolving a conflict, enrolling a real device from a dashboard code, importing a
batch file, paging; and the Vietnamese/English interface."""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from markupsafe import escape
from sqlalchemy import func, select

from a0core.envelope import DeviceKeys
from a0core.errors import A0Error
from a0core.hlc import HybridClock
from a0core.op_states import state_word
from a0core.schemas import registry
from server.extensions import db
from server.models.people import AuditLog, Collaborator, Device
from server.models.register import Member
from server.models.sync import Conflict, SyncBatch, SyncOp
from tests.support.register import household, member, new_id
from tests.support.web import Browser, build_world

WEB = Path(__file__).resolve().parents[1] / "server" / "web"


def rows_of(html: str) -> list[str]:
    body = html.split('id="sync-status"')[1].split("</tbody>")[0]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]


def test_status_shows_gaps_and_drills_down_to_receipts(app: Flask) -> None:
    world = build_world(app)
    browser = Browser(app)
    browser.login("canboxa")
    html = browser.get("/dashboard/").get_data(as_text=True)
    rows = rows_of(html)
    assert len(rows) == 3  # the commune's three collaborators, nobody else's
    gap_row = next(r for r in rows if world.names["C2"] in r)
    assert "2–3" in gap_row and 'class="warn"' not in rows[0]
    assert "1 máy thiếu dữ liệu" in html
    only_gaps = rows_of(browser.get("/dashboard/?gaps=1").get_data(as_text=True))
    assert len(only_gaps) == 1 and world.names["C2"] in only_gaps[0]

    device = world.devices["C2"]
    page = browser.get(f"/dashboard/devices/{device.id}").get_data(as_text=True)
    assert "thao tác 2–3 chưa nhận được" in page
    # the label already says "Máy …" (as the demo's do): the heading says it once
    label = db.session.get(Device, device.id).label
    assert label.startswith("Máy ") and f"<h1>{label} " in page and "Máy Máy" not in page
    assert page.count("/dashboard/batches/") == 2  # both batches, newest first
    batch_id = world.batches["C2"]
    receipt = browser.get(f"/dashboard/batches/{batch_id}").get_data(as_text=True)
    stored = db.session.get(SyncBatch, batch_id)
    # the heading names the device and the time, the batch's id is small print to quote
    heading = receipt.split("<h1>")[1].split("</h1>")[0]
    assert label in heading and batch_id not in heading
    assert f'<small class="muted" id="batch-id">Mã gói: {batch_id}</small>' in receipt
    # the words of schemas/protocol/op_states.json, as the app says them
    assert f"{state_word('applied')}: {stored.counts['applied']}" in receipt
    assert receipt.count(f'<span class="tag applied">{state_word("applied")}</span>') \
        == stored.op_count


def _conflict_on_its_page(app: Flask):
    """The commune's conflict, and its section of the queue as the commune's staff see it."""
    world = build_world(app)
    browser = Browser(app)
    browser.login("canboxa")
    conflict = db.session.get(Conflict, world.conflicts["C"])
    section = _section(browser.get("/dashboard/conflicts").get_data(as_text=True), conflict.id)
    return world, browser, conflict, section


def _section(page: str, conflict_id: int) -> str:
    return page.split(f'id="conflict-{conflict_id}"')[1].split("</section>")[0]


def test_resolving_a_conflict_applies_the_choice_once(app: Flask) -> None:
    _, browser, conflict, section = _conflict_on_its_page(app)
    # both values side by side, with their labels from the code list in schemas/
    field = registry().form("member").field("marital_status")
    codes = registry().codelist(field.codelist)
    for value in ("divorced", "widowed"):  # in words: the stored code is not shown
        assert f'<span class="value">{codes.get(value).vi}</span>' in section, section
        assert f"({value})" not in section, section
    assert browser.post(f"/dashboard/conflicts/{conflict.id}/resolve",
                        {"choice": "x"}).status_code == 400
    chosen = conflict.a_value
    assert browser.post(f"/dashboard/conflicts/{conflict.id}/resolve",
                        {"choice": "a"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, conflict.entity_id).marital_status == chosen
    assert db.session.get(Conflict, conflict.id).status == "resolved"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "conflict.resolve")).one()
    assert audit.actor_id == "canboxa"
    again = browser.post(f"/dashboard/conflicts/{conflict.id}/resolve", {"choice": "b"})
    assert again.status_code == 409 and "conflict_closed" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Member, conflict.entity_id).marital_status == chosen
    assert f'id="conflict-{conflict.id}"' not in browser.get("/dashboard/conflicts").get_data(
        as_text=True)


def test_a_reviewer_may_type_a_value_neither_device_wrote(app: Flask) -> None:
    world, browser, conflict, section = _conflict_on_its_page(app)
    codes = registry().codelist(registry().form("member").field("marital_status").codelist)
    assert '<select name="other"' in section  # a code field offers its code list
    assert all(f'<option value="{c.code}">' in section for c in codes.codes if not c.retired)
    before = db.session.get(Member, conflict.entity_id).marital_status

    label = registry().form("member").field("marital_status").label["vi"]
    for refused, why in (({"choice": "other", "other": "  "}, A0Error("other_value_missing").vi),
                         ({"choice": "other", "other": "engaged"},  # which field, and why
                          A0Error("code_unknown", value="engaged", label_vi=label).vi)):
        answer = browser.post(f"/dashboard/conflicts/{conflict.id}/resolve", refused)
        assert answer.status_code == 400
        db.session.expire_all()
        assert db.session.get(Conflict, conflict.id).status == "open"
        assert db.session.get(Member, conflict.entity_id).marital_status == before
        # the queue again, the refusal in the conflict's own section, the choice as made
        again = _section(answer.get_data(as_text=True), conflict.id)
        assert 'role="alert"' in again and str(escape(why)) in again, again
        assert 'value="other" required checked' in again
        assert 'value="a" required checked' not in again

    assert browser.post(f"/dashboard/conflicts/{conflict.id}/resolve",
                        {"choice": "other", "other": "married"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Member, conflict.entity_id).marital_status == "married"
    resolved = db.session.get(Conflict, conflict.id)
    assert (resolved.status, resolved.resolved_value) == ("resolved", "married")
    device = world.devices["C"]  # the reviewer's value reaches the devices on their next pull
    device.pull(browser.client)
    assert device.replica.entities[conflict.entity_id]["data"]["marital_status"] == "married"


def test_a_dashboard_code_enrols_a_real_device_and_revocation_stops_it(app: Flask) -> None:
    build_world(app)
    browser = Browser(app)
    browser.login("canboxa")
    form = browser.get("/dashboard/devices/enrol").get_data(as_text=True)
    assert 'value="00001.01.1"' in form and 'value="00688.01.1"' not in form
    issued = browser.post("/dashboard/devices/enrol", {
        "commune": "00001", "area_code": "00001.02.1", "collaborator_name": "Đặng Thị Thu",
        "phone": "0912 345 678"})
    html = issued.get_data(as_text=True)
    code = re.search(r'id="enrol-code">([A-Z0-9-]+)<', html).group(1)
    assert "<svg" in html.split('id="enrol-qr"')[1][:200]
    keys = DeviceKeys.generate()
    enrolled = app.test_client().post("/api/v1/devices/enrol", json={
        "code": code, "sign_public_key": keys.sign_public_key,
        "box_public_key": keys.box_public_key, "label": "Máy chị Thu",
        "hlc": HybridClock().now()})
    assert enrolled.status_code == 200, enrolled.get_data(as_text=True)
    device_id = enrolled.get_json()["device_id"]
    assert "Đặng Thị Thu" in browser.get("/dashboard/").get_data(as_text=True)

    assert browser.post(f"/dashboard/devices/{device_id}/revoke",
                        {"confirm": "1"}).status_code == 302
    page = browser.get(f"/dashboard/devices/{device_id}").get_data(as_text=True)
    assert "đã thu hồi" in page and 'id="revoke"' not in page
    db.session.expire_all()
    assert db.session.get(Device, device_id).revoked
    bad = browser.post("/dashboard/devices/enrol", {"commune": "00001", "area_code": "00001.02.1",
                                                    "collaborator_name": ""})
    assert bad.status_code == 400 and "field_required" in bad.get_data(as_text=True)


def test_importing_a_batch_file_shows_its_receipt_once(app: Flask) -> None:
    world = build_world(app)
    device = world.devices["C"]
    hh = new_id()
    device.upsert("household", hh, household(device.area, "9"))
    device.upsert("member", new_id(), member(hh, name="Bùi Thị Nga"))
    envelope = device.seal()
    browser = Browser(app)
    browser.login("canboxa")
    ops_before = db.session.scalar(select(func.count()).select_from(SyncOp))

    def upload(data: bytes, name: str = "lan.a0b"):
        return browser.post("/dashboard/import", {"batch": (io.BytesIO(data), name)},
                            content_type="multipart/form-data")

    first = upload(envelope)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and 'id="receipt"' in html
    assert html.count(f'<span class="tag applied">{state_word("applied")}</span>') == 2
    assert db.session.scalar(select(func.count()).select_from(SyncOp)) == ops_before + 2
    again = upload(envelope)
    assert again.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(SyncOp)) == ops_before + 2
    batches = db.session.scalars(select(SyncBatch).where(SyncBatch.device_id == device.id,
                                                         SyncBatch.carrier == "file")).all()
    assert len(batches) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "batch.import_file")) == 2
    for data, code in ((b"not a batch", "batch_malformed"), (b"", "batch_file_missing")):
        refused = upload(data)
        assert refused.status_code == 400 and code in refused.get_data(as_text=True), code
    assert db.session.scalar(select(func.count()).select_from(SyncOp)) == ops_before + 2


def test_lists_are_paged(app: Flask) -> None:
    build_world(app)
    db.session.add_all([Collaborator(full_name=f"Cộng tác viên {n:03}", area_code="00001.02.1",
                                     commune_code="00001", province_code="01")
                        for n in range(60)])
    db.session.commit()
    browser = Browser(app)
    browser.login("canboxa")
    first = browser.get("/dashboard/").get_data(as_text=True)
    second = browser.get("/dashboard/?page=2").get_data(as_text=True)
    assert len(rows_of(first)) == 50 and len(rows_of(second)) == 13
    assert "Dòng 51–63 / 63" in second and 'rel="prev"' in second and 'rel="next"' not in second
    names = set(re.findall(r"Cộng tác viên \d{3}", first)) & set(
        re.findall(r"Cộng tác viên \d{3}", second))
    assert not names  # pages never overlap
    huge = browser.get("/dashboard/?per_page=100000&page=-4").get_data(as_text=True)
    assert len(rows_of(huge)) == 63


def test_commune_filters_take_a_code_past_the_list_limit(app: Flask, monkeypatch) -> None:
    """A national user's filters would list thousands of communes: past the limit they
    are a code box, and the typed code filters exactly as the list did."""
    from server.web.queries import sync_status

    world = build_world(app)
    browser = Browser(app)
    browser.login("quantri")
    pages = ("/dashboard/", "/dashboard/conflicts", "/dashboard/duplicates",
             "/dashboard/devices/enrol")
    for path in pages:
        html = browser.get(path).get_data(as_text=True)
        assert '<select name="commune">' in html and 'inputmode="numeric"' not in html, path
    monkeypatch.setattr(sync_status, "COMMUNE_CHOICES", 3)  # the world has four communes
    for path in pages:
        html = browser.get(path).get_data(as_text=True)
        assert '<select name="commune">' not in html and 'inputmode="numeric"' in html, path
    typed = browser.get("/dashboard/?commune=00688").get_data(as_text=True)
    rows = rows_of(typed)  # the commune's two collaborators, nobody else
    assert len(rows) == 2 and all("00688.01.1" in row for row in rows)
    assert any(world.names["other province"] in row for row in rows)
    assert 'name="commune" value="00688"' in typed
    enrol = browser.get("/dashboard/devices/enrol?commune=00688").get_data(as_text=True)
    assert '<option value="00688.01.1"' in enrol


def test_english_switch_and_vietnamese_default(sqlite_app: Flask) -> None:
    app = sqlite_app
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in login and 'lang="vi"' in login
    switched = client.get("/lang/en?next=/login")
    assert switched.headers["Location"] == "/login"
    english = client.get("/login").get_data(as_text=True)
    assert "Log in" in english and "Đăng nhập" not in english and 'lang="en"' in english
    client.get("/lang/xx?next=//evil.example")
    assert "Log in" in client.get("/login").get_data(as_text=True)  # unknown language ignored
    client.get("/lang/vi")
    assert "Đăng nhập" in client.get("/login").get_data(as_text=True)


def test_english_catalogue_translates_every_message() -> None:
    """Every string the dashboard shows has an English translation (and none is stale)."""
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
    used = {message for _f, _l, message, _c, _x in extract_from_dir(
        str(WEB), method_map, keywords=keywords) if isinstance(message, str)}
    with (WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = {m.id: m.string for m in read_po(handle) if m.id}
    assert len(used) > 50
    assert sorted(used - {k for k, v in catalogue.items() if v}) == []
    assert sorted(set(catalogue) - used) == []


def test_without_a_new_list_the_migration_page_says_who_imports_it(app: Flask) -> None:
    """A command only with words around it: who runs it, where; the command as code."""
    build_world(app)
    browser = Browser(app)
    browser.login("quantri")
    page = browser.get("/dashboard/migration").get_data(as_text=True)
    note = page.split('id="no-target">')[1].split("</p>")[0]
    assert "Quản trị viên máy chủ nhập chúng trên máy chủ" in note
    assert "<code>a0sync orgunits import</code>" in note

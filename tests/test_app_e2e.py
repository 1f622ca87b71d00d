"""Two app cores against the live server (a real process on localhost), on SQLite and
PostgreSQL: offline edits of one household, the conflict they make, the reviewer's
choice reaching both phones, and a hand-carried batch file overtaking the network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from a0core.sync_client import RetryPolicy, TransportError, urllib_transport
from clients.kivy_app.core.app import AppCore
from clients.kivy_app.core.outbox import APPLIED, CONFLICT, PENDING, QUEUED
from server.extensions import db
from server.models.register import Event, Household, Member
from server.models.sync import Conflict
from server.sync.review import resolve_conflict
from server.sync.runtime import ingest_context
from tests.conftest import make_app
from tests.support import live_server

AREA = "12619.01.1"
ROOT = Path(__file__).resolve().parents[1]
PIN_A, PIN_B = "246810", "135790"


class Line:
    """The phone's network: the real urllib transport, with a switch for no signal."""

    def __init__(self) -> None:
        self.up = True
        self.real = urllib_transport()

    def __call__(self, method, url, headers, body, timeout):
        if not self.up:
            raise TransportError("no signal")
        return self.real(method, url, headers, body, timeout)


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[tuple[Any, live_server.LiveServer]]:
    instance = tmp_path / "instance"
    app = make_app(db_url, instance)
    with app.app_context():
        live_server.seed_areas(app, [AREA])
        db.session.remove()
        server = live_server.start(db_url, instance, tmp_path / "server.log")
        try:
            yield app, server
        finally:
            server.stop()
            db.session.remove()
            db.engine.dispose()


def phone(tmp_path: Path, name: str) -> tuple[AppCore, Line]:
    line = Line()
    core = AppCore(tmp_path / name, transport=line, kdf_n=2 ** 12,
                   retry=RetryPolicy(attempts=2, base_delay=0.01, sleep=lambda s: None))
    return core, line


def states(core: AppCore) -> dict[int, str]:
    return {r["seq"]: r["state"] for r in core.outbox_rows()}


def test_two_phones_conflict_review_and_hand_carried_file(live, tmp_path: Path) -> None:
    app, server = live
    a, line_a = phone(tmp_path, "a")
    b, line_b = phone(tmp_path, "b")
    a.enrol(server.url, server.issue_code(AREA, "Nguyễn Thị Lan"), PIN_A, PIN_A)
    b.enrol(server.url, server.issue_code(AREA, "Trần Văn Bình"), PIN_B, PIN_B)
    assert a.area["code"] == b.area["code"] == AREA

    # A registers a household and its head; B gets them on its first download
    h = a.save_entity("household", {"number": "12", "address": "Xóm Đông"})
    assert h.ok, h.errors
    m = a.save_entity("member", {
        "full_name": "Lê Thị Hồng", "relation": "head", "sex": "female",
        "birth_date": "1990-04-02", "ethnicity": "kinh", "marital_status": "married",
        "residence_status": "present"}, context={"household_id": h.id})
    assert m.ok, m.errors
    report = a.sync()
    assert report.error is None and report.verdicts == {"applied": 2}
    assert set(states(a).values()) == {APPLIED}
    assert b.sync().error is None
    assert b.register.get(h.id).data["address"] == "Xóm Đông"
    assert [r.number for r in b.register.search("hong")] == ["12"]

    # both offline: each edits the same field; nothing leaves, nothing is lost
    line_a.up = line_b.up = False
    edit_a = a.save_entity("household", {"address": "Xóm Đông, ngõ 1"}, h.id).op
    edit_b = b.save_entity("household", {"address": "Xóm Đông, ngõ 2"}, h.id).op
    offline = a.sync()
    assert offline.offline and offline.error.code == "network_unavailable"
    assert states(a)[3] == QUEUED  # sealed under a batch id, re-sent under the same id
    assert b.sync().offline and states(b)[1] == QUEUED

    # signal back: A's edit lands first; B pulls before its own edit is settled,
    # and the pulled value does not overwrite B's unsettled edit
    line_a.up = line_b.up = True
    assert a.sync().error is None and states(a)[3] == APPLIED
    b.pull()
    assert b.register.get(h.id).data["address"] == "Xóm Đông, ngõ 2"
    report = b.sync()
    assert report.error is None and report.verdicts == {"conflict": 1}
    assert states(b)[1] == CONFLICT
    a.sync()
    # meanwhile the greater stamp (hlc, device) wins, the same on both phones
    winner = max((edit_a["hlc"], a.device_id, "Xóm Đông, ngõ 1"),
                 (edit_b["hlc"], b.device_id, "Xóm Đông, ngõ 2"))[2]
    assert a.register.get(h.id).data["address"] == b.register.get(h.id).data["address"] == winner
    for core in (a, b):
        said = [n for n in core.notices() if n["kind"] == "conflict"]
        assert len(said) == 1 and "Xóm Đông, ngõ 1" in said[0]["vi"] and winner in said[0]["vi"]
        assert "hộ số 12" in said[0]["vi"] and "Địa chỉ" in said[0]["vi"]
    mine = next(n for n in b.notices() if n["kind"] == "conflict")
    assert "máy này ghi «Xóm Đông, ngõ 2»" in mine["vi"]

    # the commune reviewer picks A's value; both phones pull the choice
    with app.app_context():
        conflict = db.session.scalars(select(Conflict)).one()
        resolve_conflict(db.session, ingest_context(app), conflict.id, "Xóm Đông, ngõ 1",
                         reviewer="user:reviewer")
        db.session.commit()
    for core in (a, b):
        assert core.sync().error is None
        assert core.register.get(h.id).data["address"] == "Xóm Đông, ngõ 1"
        resolved = [n for n in core.notices() if n["kind"] == "resolved"]
        assert len(resolved) == 1 and "Cán bộ xã đã chọn «Xóm Đông, ngõ 1»" in resolved[0]["vi"]

    # a hand-carried file overtakes the network: A registers a woman offline and
    # exports a file; later records her pregnancy; the file is imported first
    line_a.up = False
    w = a.save_entity("member", {
        "full_name": "Phạm Thị Mai", "relation": "child_in_law", "sex": "female",
        "birth_date": "1998", "ethnicity": "kinh", "marital_status": "married",
        "residence_status": "present"}, context={"household_id": h.id})
    assert w.ok, w.errors
    carried = a.export_batch(tmp_path / "usb")
    assert carried is not None and carried.suffix == ".a0b"
    birth = a.record_fact("birth", {"event_date": "2026-01-15", "sex": "male",
                                    "birth_order": 1, "place_of_birth": "hospital",
                                    "child_name": "Phạm Minh An"},
                          context={"household_id": h.id, "member_id": w.id})
    assert birth.ok, birth.errors
    seq_member, seq_birth = w.op["seq"], birth.op["seq"]
    assert states(a)[seq_member] == QUEUED and states(a)[seq_birth] == PENDING
    child_id = birth.op["fields"]["child_id"]
    assert a.register.get(child_id).data["full_name"] == "Phạm Minh An"

    done = server.cli("import-batch", str(carried))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.split(": ", 1)[1]) == {"applied": 1}
    line_a.up = True
    report = a.sync()
    assert report.error is None
    assert states(a)[seq_member] == APPLIED  # the kept receipt of the carried batch
    assert states(a)[seq_birth] == APPLIED   # not waiting: its mother arrived by hand first
    with app.app_context():
        assert db.session.get(Member, w.id) is not None
        assert db.session.get(Event, birth.id) is not None
        child = db.session.get(Member, child_id)
        assert child is not None and child.data["full_name"] == "Phạm Minh An"
        assert db.session.get(Household, h.id).data["address"] == "Xóm Đông, ngõ 1"
    b.sync()
    names = {m.data.get("full_name") for m in b.register.members_of(h.id)}
    assert names == {"Lê Thị Hồng", "Phạm Thị Mai", "Phạm Minh An"}
    # the birth counts for the mother on B too, by the shared fold
    assert b.register.state_of(b.register.get(w.id))["living_children"] == 1
    # both replicas agree field by field with each other
    for id_ in (h.id, m.id, w.id, child_id):
        assert a.register.get(id_).data == b.register.get(id_).data


# -- the real app's screens, the live server, the dashboard in a real browser ------------


def test_app_to_server_to_dashboard(sqlite_template: Path, tmp_path: Path) -> None:
    """A collaborator enrols the real app (under Xvfb), registers a household, hands out
    pills and records a birth from the household list, closes the last month's P0
    slip, syncs; commune staff then see, in Chromium, the device's operations in the
    words the app used, the area's slip on the sync-status page, and the month's
    report counting the birth and the pills."""
    import shutil
    import subprocess

    from a0core.forms import today_vn
    from a0core.op_states import state_word
    from tests.support.web import PASSWORD
    from tests.support.xvfb import Xvfb
    from tests.test_app_ui import drive
    from tests.test_web_e2e import ARGS, CHROMIUM, _need_chromium

    _need_chromium()
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (scripts/system-deps.sh installs it)")
    shutil.copy(sqlite_template, tmp_path / "server.sqlite")
    db_url = f"sqlite:///{tmp_path / 'server.sqlite'}"
    app = make_app(db_url, tmp_path / "instance")
    with app.app_context():
        live_server.seed_areas(app, [AREA])
        db.session.remove()
        db.engine.dispose()
    server = live_server.start(db_url, tmp_path / "instance", tmp_path / "server.log")
    try:
        made = subprocess.run(
            [live_server.A0SYNC, "users", "create", "can.bo.xa", "--role", "commune_staff",
             "--unit", "12619", "--password-stdin"], env=server.env, input=PASSWORD + "\n",
            capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        code = server.issue_code(AREA, "Hà Thị Thu")
        with Xvfb() as xvfb:
            seen = drive(xvfb, tmp_path, ROOT / "test-artifacts" / "app-e2e", "e2e",
                         "--server", server.url, "--code", code)
        # household, woman, pills, birth, and the last month's P0 slip (a nil report)
        assert seen["outbox"] == {"applied": 5}, seen
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS,
                                                 headless=True)
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.set_default_timeout(20_000)
            tab.goto(f"{server.url}/login")
            tab.fill("input[name=username]", "can.bo.xa")
            tab.fill("input[name=password]", PASSWORD)
            with tab.expect_navigation():
                tab.click("main button[type=submit]")
            tab.goto(f"{server.url}/dashboard/devices/{seen['device_id']}")
            counts = tab.inner_text("#op-counts")
            assert f"{state_word('applied')}: 5" in counts
            assert f"{state_word('rejected')}: 0" in counts
            with tab.expect_navigation():
                tab.click("#batches a")
            cells = tab.locator("#verdicts tbody tr td:nth-child(3)").all_inner_texts()
            assert cells == [state_word("applied")] * 5
            # each operation as what it was, in words (issue 16)
            what = tab.locator("#verdicts tbody tr td.what").all_inner_texts()
            assert what[0] == "Hộ gia đình: hộ số 1" and "Hà Thị Thu" in what[1], what
            assert any(w.startswith("Sinh: ") for w in what), what
            # the commune sees the area's slip of the month closed on the phone
            tab.goto(f"{server.url}/dashboard/")
            slip = tab.inner_text("#sync-status td.slip")
            assert slip.strip() in ("Đã nộp", "Nộp muộn"), slip
            month = today_vn().strftime("%Y-%m")
            tab.goto(f"{server.url}/dashboard/rollups/12619/report?month={month}")
            assert tab.locator("#r-births td.num").first.inner_text() == "1"
            assert tab.locator("#r-distributed-pill td.num").first.inner_text() == "2"
            tab.screenshot(path=str(ROOT / "test-artifacts" / "app-e2e" / "dashboard.png"),
                           full_page=True)
            browser.close()
    finally:
        server.stop()

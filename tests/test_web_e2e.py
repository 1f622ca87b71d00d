"""End to end in real headless Chromium (Debian's, driven by Playwright) against a real
server on a free localhost port: log in, find a collaborator with a sequence gap,
resolve a conflict, enrol a device with the real sync client from the dashboard's QR
code (read by the app's decoder from Chromium's picture of it) and revoke it, import
a batch file, switch to English. Screenshots of the main pages go to
``test-artifacts/screenshots`` (git-ignored).

One browser for the whole module; the server is werkzeug in a thread, on a SQLite
copy of the migrated template, holding a synthetic commune and SimDevice-made devices.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from a0core.envelope import DeviceKeys
from a0core.hlc import HybridClock
from a0core.op_states import state_word
from a0core.sync_client import SyncClient
from clients.kivy_app.core.qrscan import GREY, Frame, read_enrolment
from server.extensions import db
from server.models.people import Collaborator, Device
from server.models.register import Member
from server.models.sync import Conflict, SyncBatch
from tests.conftest import make_app
from tests.support.register import household, member, new_id
from tests.support.web import PASSWORD, build_world, load_synthetic_commune, served_in_thread

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():  # a missing real part fails; it never skips
        pytest.fail(f"{CHROMIUM} is missing: the end-to-end test needs a real Chromium "
                    "(scripts/system-deps.sh installs it)")


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("e2e")
    path = folder / "e2e.sqlite"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", folder / "instance")
    context = app.app_context()
    context.push()
    world = build_world(app)
    areas = load_synthetic_commune("00004", households=60)
    try:
        with served_in_thread(app) as url:
            yield {"app": app, "world": world, "areas": areas, "url": url, "folder": folder}
    finally:
        context.pop()


@pytest.fixture(scope="module")
def chromium(live: dict) -> Iterator:
    """One browser for the module; each test gets its own context (cookies)."""
    _need_chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium) -> Iterator:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    try:
        yield tab
    finally:
        context.close()


def go(tab, target) -> None:
    """Click a link or submit button and wait for the page it leads to (a slow, shared
    machine must not let an assertion read the previous page)."""
    with tab.expect_navigation():
        if isinstance(target, str):
            tab.click(target)
        else:
            target.click()


def shot(tab, name: str) -> None:
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_commune_officer_day_in_a_real_browser(live: dict, page) -> None:
    url, world = live["url"], live["world"]
    tab = page
    # log in (a wrong password first: refused with its code, then the right one)
    tab.goto(f"{url}/dashboard/")
    assert "/login" in tab.url
    shot(tab, "01-login")
    tab.fill("input[name=username]", "canboxa")
    tab.fill("input[name=password]", "sai mật khẩu rồi nhé")
    go(tab, "button[type=submit]")
    assert "login_failed" in tab.inner_text("main")
    tab.fill("input[name=password]", PASSWORD)
    go(tab, "main button[type=submit]")
    tab.wait_for_url(f"{url}/dashboard/")
    cookie = next(c for c in tab.context.cookies() if c["name"] == "a0sync_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert tab.locator("#sync-status tbody tr").count() == 3
    shot(tab, "02-sync-status")

    # find the collaborator with a gap and open the device
    go(tab, "text=máy thiếu dữ liệu")
    rows = tab.locator("#sync-status tbody tr")
    assert rows.count() == 1 and world.names["C2"] in rows.first.inner_text()
    go(tab, rows.first.locator("a").first)
    assert "thao tác 2–3 chưa nhận được" in tab.inner_text("#gaps")
    shot(tab, "03-device")
    go(tab, tab.locator("#batches a").first)
    assert state_word("applied") in tab.inner_text("#verdicts")
    shot(tab, "04-receipt")

    # resolve the conflict: keep the value that was overwritten (side a)
    go(tab, "nav >> text=Xung đột")
    conflict = db.session.get(Conflict, world.conflicts["C"])
    section = tab.locator(f"#conflict-{conflict.id}")
    # both values side by side, and a third choice for when both are wrong
    assert section.locator(".side").count() == 3
    assert section.locator(".side.other select[name=other]").count() == 1
    shot(tab, "05-conflicts")
    section.locator("input[value=a]").check()
    go(tab, section.locator("button[type=submit]"))
    assert "Đã lưu lựa chọn" in tab.inner_text("main")
    assert tab.locator(f"#conflict-{conflict.id}").count() == 0
    db.session.expire_all()
    assert db.session.get(Member, conflict.entity_id).marital_status == conflict.a_value

    # enrol a device: the real sync client uses the code shown, over real HTTP
    go(tab, "nav >> text=Đăng ký máy")
    tab.select_option("select[name=area_code]", "00001.02.1")
    tab.fill("input[name=collaborator_name]", "Hoàng Thị Yến")
    go(tab, "main form.stack button[type=submit]")
    code = tab.inner_text("#enrol-code").strip()
    shot(tab, "06-enrol-code")
    # the app's own decoder reads the QR code as Chromium draws it, and enrols with it
    drawn = Image.open(io.BytesIO(tab.locator("#enrol-qr svg").screenshot())).convert("L")
    scanned = read_enrolment(Frame(drawn.tobytes(), drawn.width, drawn.height, GREY))
    assert scanned is not None and (scanned.server, scanned.shown_code) == (url, code)
    keys = DeviceKeys.generate()
    answer = SyncClient.enrol(scanned.server, scanned.code, keys, "Máy chị Yến",
                              HybridClock().now(), allow_insecure=True)
    device_id = answer["device_id"]
    db.session.expire_all()
    assert db.session.get(Device, device_id).collaborator.full_name == "Hoàng Thị Yến"

    # …and revoke it from its page
    tab.goto(f"{url}/dashboard/?per_page=200")
    go(tab, "text=Máy chị Yến")
    go(tab, "#revoke")  # a confirmation step first, saying what revoking means
    assert "Thu hồi máy Máy chị Yến?" in tab.inner_text("main")
    go(tab, "#confirm-revoke")
    assert "Đã thu hồi máy" in tab.inner_text("main")
    db.session.expire_all()
    assert db.session.get(Device, device_id).revoked

    # import a batch file carried in by hand
    sim = world.devices["C"]
    hh = new_id()
    sim.upsert("household", hh, household(sim.area, "42"))
    sim.upsert("member", new_id(), member(hh, name="Đinh Thị Hằng"))
    batch_file = live["folder"] / "hang.a0b"
    batch_file.write_bytes(sim.seal())
    go(tab, "nav >> text=Nhập gói dữ liệu")
    tab.set_input_files("input[name=batch]", str(batch_file))
    go(tab, "main form button[type=submit]")
    assert tab.locator("#receipt").count() == 1, tab.inner_text("main")
    assert f"{state_word('applied')}: 2" in tab.inner_text("#counts")
    shot(tab, "07-import-receipt")
    db.session.expire_all()
    assert db.session.scalar(select(SyncBatch.carrier).where(
        SyncBatch.device_id == sim.id).order_by(SyncBatch.received_at.desc())) == "file"

    # English, then log out
    go(tab, "text=English")
    assert tab.inner_text("h1") == "Import a batch file carried by hand"
    tab.goto(f"{url}/dashboard/")
    shot(tab, "08-sync-status-en")
    go(tab, "text=Tiếng Việt")
    go(tab, "text=Đăng xuất")
    tab.wait_for_url(f"{url}/login")
    tab.goto(f"{url}/dashboard/")
    assert "/login" in tab.url


def test_district_officer_sees_the_district_read_only(live: dict, page) -> None:
    url = live["url"]
    tab = page
    tab.goto(f"{url}/login")
    tab.fill("input[name=username]", "huyen")
    tab.fill("input[name=password]", PASSWORD)
    go(tab, "main button[type=submit]")
    tab.wait_for_url(f"{url}/dashboard/")
    nav = tab.inner_text("nav")
    assert "Tình trạng đồng bộ" in nav and "Xung đột" not in nav and "Đăng ký máy" not in nav
    tab.select_option("select[name=commune]", "00004")
    go(tab, "form.filter button[type=submit]")
    synthetic = db.session.scalars(select(Collaborator.full_name).where(
        Collaborator.commune_code == "00004")).all()
    text = tab.inner_text("#sync-status")
    assert len(synthetic) == live["areas"] + 1
    assert all(name in text for name in synthetic)
    shot(tab, "09-district-status")
    go(tab, "text=Đăng xuất")


def test_merge_a_duplicate_and_undo_it(live: dict, page) -> None:
    from server.models.duplicates import DuplicateCandidate
    from tests.support.duplicates_web import register_twice

    url, app = live["url"], live["app"]
    from tests.support.sim import SimDevice

    device = SimDevice(app, area="00001.02.1", commune="00001", province="01")
    twice = register_twice(app, device, name="Trịnh Văn Khải",
                           plain="Trinh Van Khai", fellow="Mai Thị Lụa")
    tab = page
    tab.goto(f"{url}/login")
    tab.fill("input[name=username]", "canboxa")
    tab.fill("input[name=password]", PASSWORD)
    go(tab, "main button[type=submit]")
    tab.wait_for_url(f"{url}/dashboard/")
    go(tab, "nav >> text=Trùng lặp")
    assert tab.locator(f"#pair-{twice.member_pair}").count() == 1
    shot(tab, "10-duplicates")
    go(tab, tab.locator(f"#pair-{twice.member_pair} a").first)
    assert tab.locator("#compare tr.warn").count() >= 2  # name and birth date differ
    # why it was proposed, part by part: the name agrees, the date partly (day/month swap)
    assert "ngày và tháng đổi chỗ" in tab.inner_text("#why-birth")
    assert tab.locator("#why tr.agree").count() >= 3 and tab.locator("#why-given.agree").count()
    assert "Mai Thị Lụa" in tab.inner_text("#card-a") and "Mai Thị Lụa" in tab.inner_text(
        "#card-b")
    shot(tab, "11-duplicate-pair")
    survivor, loser = twice.members
    tab.check(f"#merge-form input[value='{survivor}']")
    go(tab, "#merge")
    assert "Đã gộp cặp" in tab.inner_text("main")
    kept = tab.locator("#survivor")  # named, its id only in the title
    assert kept.get_attribute("title") == survivor and "Trịnh Văn Khải" in kept.inner_text()
    db.session.expire_all()
    assert db.session.get(Member, loser).merged_into == survivor
    shot(tab, "12-duplicate-merged")
    go(tab, "#undo")
    assert "Đã hoàn tác" in tab.inner_text("#status")
    db.session.expire_all()
    assert db.session.get(Member, loser).merged_into is None
    assert db.session.get(DuplicateCandidate, twice.member_pair).status == "undone"
    go(tab, "nav >> text=API cho huyện")
    assert tab.locator("#openapi").get_attribute("href") == "/api/v1/openapi.json"
    shot(tab, "13-api-help")


def test_rollups_page_and_xlsx_export_in_a_real_browser(live: dict, page) -> None:
    """A district officer opens the roll-ups, drills down, downloads the XLSX of the
    shown unit and month: the workbook holds the stored roll-up value."""
    from openpyxl import load_workbook

    from server.models.rollups import RollupCell
    from server.rollups.jobs import full_recompute

    full_recompute(db.session, ["2025-05", "2025-06"])
    district = db.session.scalars(select(RollupCell.values).where(
        RollupCell.unit_code == "001", RollupCell.month == "2025-06")).one()
    url, tab = live["url"], page
    tab.goto(f"{url}/login")
    tab.fill("input[name=username]", "huyen")
    tab.fill("input[name=password]", PASSWORD)
    go(tab, "main button[type=submit]")
    tab.wait_for_url(f"{url}/dashboard/")
    go(tab, "nav >> text=Số liệu tổng hợp")
    assert tab.url.split("?")[0].endswith("/dashboard/rollups/001")
    tab.select_option("#month-form select[name=month]", "2025-06")
    go(tab, "#month-form button[type=submit]")
    assert tab.url.endswith("/dashboard/rollups/001?month=2025-06")
    assert tab.locator("#chart-births svg rect.bar").count() == 24  # 12 months × 2 sexes
    assert tab.locator("#ind-population td").last.inner_text() == str(district["population"])
    shot(tab, "14-rollups-district")
    with tab.expect_download() as info:
        tab.click("#export-xlsx")
    saved = live["folder"] / "rollups.xlsx"
    info.value.save_as(saved)
    sheet = load_workbook(saved, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[1])  # the codes, under the Vietnamese headings
    assert rows[0][header.index("indicator_name")] == "Chỉ tiêu"
    values = {r[header.index("indicator")]: r[header.index("value")] for r in rows[2:]}
    assert {r[header.index("unit_code")] for r in rows[2:]} == {"001"}
    assert values["population"] == district["population"]
    go(tab, "#unit-00004 a")
    assert tab.url.endswith("/dashboard/rollups/00004?month=2025-06")
    go(tab, "#report")
    assert tab.locator("#report-I").count() == 1  # the form's first section
    shot(tab, "15-monthly-report")

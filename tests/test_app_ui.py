"""The real app under Xvfb, driven like a collaborator's thumb against the live server.

Every screen and flow of the collaborator's app (issue 15): enrol, a household
with its village chosen by name, members (one born in a year known alone), dates
typed the wrong way and refused with the format expected, a date from the picker,
forms and choices that offer only what applies, a hand-out and a birth from the
household list within their tap budgets, offline sync that calls nothing sent,
then every screen again in English and with larger text; and enrolment by
scanning the dashboard's QR code. Screenshots go to the git-ignored
test-artifacts/app-ui/ and test-artifacts/app-scan/.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from a0core.enrol_uri import build_enrol_uri
from a0core.errors import catalogue
from a0core.op_states import op_states
from clients.kivy_app.core import dates
from clients.kivy_app.core.qrscan import SCAN_INTERVAL_S
from server.extensions import db
from server.logistics import station
from server.models.register import Distribution, Event, Household, Member
from server.models.reports import P0Report
from server.security.scope import COMMUNE, Scope
from server.security.totp import new_secret, provisioning_uri
from server.sync.runtime import ingest_context
from tests.conftest import make_app
from tests.support import live_server
from tests.support.qr_images import photo, qr_image
from tests.support.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "app-ui"
SCAN_ARTIFACTS = ROOT / "test-artifacts" / "app-scan"
P0_ARTIFACTS = ROOT / "test-artifacts" / "app-p0"
STOCK_ARTIFACTS = ROOT / "test-artifacts" / "app-stock"
AREA = "12619.01.1"
# the issue's budgets: a hand-out from the list, a birth (taps, typing aside)
MAX_TAPS = {"distribution": 5, "birth": 8}


def word(state: str, lang: str = "vi") -> str:
    return op_states()[state].word(lang)


@pytest.fixture
def xvfb():
    if shutil.which("Xvfb") is None:  # a missing real part fails; it never skips
        pytest.fail("Xvfb is not installed (scripts/system-deps.sh installs it)")
    with Xvfb() as display:
        yield display


@pytest.fixture
def server_app(sqlite_template, tmp_path):
    """The server's database, with the area the collaborator works in."""
    shutil.copy(sqlite_template, tmp_path / "server.sqlite")
    app = make_app(f"sqlite:///{tmp_path / 'server.sqlite'}", tmp_path / "instance")
    with app.app_context():
        live_server.seed_areas(app, [AREA])
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def server(server_app, tmp_path):
    """The real server over that database, in its own process."""
    running = live_server.start(server_app.config["SQLALCHEMY_DATABASE_URI"],
                                tmp_path / "instance", tmp_path / "server.log")
    yield running
    running.stop()


def drive(xvfb, tmp_path: Path, shots: Path, *args: str, data: Path | None = None) -> dict:
    """Run the real app under the driver; what it saw, as JSON."""
    shutil.rmtree(shots, ignore_errors=True)
    out = tmp_path / "result.json"
    env = {**xvfb.env, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.app_driver", *args, "--data",
         str(data or tmp_path / "phone"), "--shots", str(shots), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    (tmp_path / "driver.log").write_text(done.stderr)
    assert out.exists(), done.stderr[-3000:]
    result = json.loads(out.read_text("utf-8"))
    assert result.get("ok"), result.get("error") or done.stderr[-3000:]
    return result


def test_the_collaborators_day(server_app, server, xvfb, tmp_path) -> None:
    code = server.issue_code(AREA, "Hoàng Thị Yến")
    r = drive(xvfb, tmp_path, ARTIFACTS, "collaborator", "--server", server.url,
              "--code", code)
    assert r["steps"] == ["enrolled", "household added", "member added",
                          "elderly check recorded", "distribution recorded", "birth recorded",
                          "synced", "toured"]
    # nothing said on one screen is still there on the next
    assert r["sync_message_first"] == ""
    assert r["sync_message_before"] == "" and r["sync_message_again"] == ""
    assert r["snack_after_cancel"] == ""
    # a form is not dropped without asking, and the phone's back key goes back a screen
    assert r["discard_words"].startswith("Những thông tin vừa nhập trên phiếu này chưa được lưu")
    assert r["kept"] == ["form", "Phạm Thị Lành"] and r["kept_after_back_key"] == "form"
    assert r["list_state_offline"] == r["offline_state"]  # reached by the back key
    assert "Địa bàn" in r["enrolled_snack"]
    # before enrolling, and on the sync screen, what is collected and why (Law 91/2025)
    assert "Sổ A0" in r["privacy"] and "91/2025/QH15" in r["privacy"]
    assert r["sync_privacy"] == r["privacy"]
    assert {"Enrol this phone", "Server address", "Enrol"} <= set(r["enrol_english"])

    # a household: the next number, its village by name
    assert r["household_defaults"] == {"number": "1", "village": "12619.01"}
    assert r["villages"][0] == "Thôn 01"
    assert r["saved_snack"].startswith(word("pending"))

    # dates: refused with the format expected; the picker and today's date
    today = dates.show(dates.today())
    assert "ngày/tháng/năm" in r["bad_date"] and today in r["bad_date"]
    assert "1990" in r["bad_date"]  # a birth date may be a year alone
    assert "ngày/tháng/năm" in r["bad_event_date"] and "1990" not in r["bad_event_date"]
    assert r["form_message"].startswith("Vui lòng sửa")
    assert r["error_out_of_view"] and r["error_in_view"]  # brought into view to be fixed
    # a man's identification number on a woman's record: said when saved, then by the
    # server's verdict among the notices (issue 14's warnings)
    assert "001094012345 là của một người nam" in r["saved_warning"]
    assert len(r["warning_notices"]) == 1
    assert "001094012345 là của một người nam" in r["warning_notices"][0]
    assert r["event_date_default"] == today
    assert re.fullmatch(r"0[12]/\d\d/\d{4}", r["picked_date"])
    assert r["picked_date"][3:] == today[3:]
    assert "T2" in r["picker_words"] and "CN" in r["picker_words"]
    assert all(d["date"] == today for d in r["distribution_prefill"])

    # only what applies
    assert "elderly_check" not in r["events_woman"] and "birth" in r["events_woman"]
    assert "elderly_check" in r["events_elder"] and "birth" not in r["events_elder"]
    assert not {"birth", "pregnancy", "method_start"} & set(r["events_man"])
    # no marriage for the married couple; the widow may marry
    assert "marriage" not in r["events_woman"] + r["events_man"]
    assert "marriage" in r["events_elder"]
    assert r["recipients"] == ["Đỗ Thị Ngọc Ánh", "Phạm Thị Lành"]  # women; no man, no infant
    assert r["methods_for_elder"] == ["Bao cao su"]  # no pills at 76
    assert r["birth_prefill"]["mothers"] == ["Đỗ Thị Ngọc Ánh"]
    assert r["birth_prefill"]["mother"] is not None and r["birth_prefill"]["order"] == "2"
    # the second hand-out: the last recipient and method filled in
    second = r["distribution_prefill"][1]
    assert second["member"] is not None and second["method"] == "pill"

    # fewer taps
    assert max(r["taps"]["distribution"]) <= MAX_TAPS["distribution"], r["taps"]
    assert r["taps"]["distribution"][1] <= 3, r["taps"]
    assert r["taps"]["birth"] <= MAX_TAPS["birth"], r["taps"]

    # offline: nothing is called sent, and the phone says it is offline
    assert r["offline_message"].startswith("Không có mạng")
    assert r["offline_state"] == f"Không có mạng · {word('queued')}: 9"
    assert r["list_state_offline"] == r["offline_state"]
    assert set(r["offline_outbox"]) == {"queued"}
    assert r["offline_lines"] and all(line.endswith(word("queued"))
                                      for line in r["offline_lines"])
    assert not any(word("sent") in line or word("applied") in line
                   for line in r["offline_lines"])
    # online: every change confirmed, said in the shared words
    assert r["outbox"] == {"applied": 9}, r["outbox"]
    assert r["sync_summary"] == f"{word('applied')}: 9"
    assert "xác nhận 9 thay đổi" in r["message"]
    assert re.fullmatch(r"Đã đồng bộ lúc \d\d/\d\d/\d{4} \d\d:\d\d", r["synced_state"])
    # a clock behind: said on the top bar and, with what to do, on the sync screen
    assert r["clock_behind"]["state"] == "Sai giờ điện thoại" and r["clock_behind"]["shown"]
    assert r["clock_behind"]["words"].startswith("Ngày giờ trên điện thoại")
    assert "Ngày và giờ" in r["clock_behind"]["words"]
    assert "Sai giờ" not in r["clock_set"]["state"] and not r["clock_set"]["shown"]
    assert r["clock_right"].startswith("Đã đồng bộ lúc")
    assert r["nothing_new"] == "Đã đồng bộ xong: không có gì mới để gửi hay tải về"
    lines = {line.split(" · ", 1)[0]: line for line in r["synced_lines"]}
    assert all(line.endswith(word("applied")) for seq, line in lines.items() if seq != "#2")
    # the head's record: kept, with what to check said after the word
    assert f"{word('applied')} — " in lines["#2"] and "là của một người nam" in lines["#2"]
    assert r["members_shown"] == ["Lê Minh Anh", "Lê Minh Khang", "Lê Văn Hùng",
                                  "Phạm Thị Lành", "Đỗ Thị Ngọc Ánh"]
    assert r["search"] == ["Hộ số 1 · Đỗ Thị Ngọc Ánh"]
    # the row says the head, the address and the people, and (r["clipped"]) wraps them
    assert r["list_row"] == ["Hộ số 1 · Đỗ Thị Ngọc Ánh", "Xóm Giữa, thôn Đông Hồ · 5\u00a0người"]

    # every screen in English, and the larger text is larger
    english = r["tours"]["en-large"]["words"]
    assert "Household no. 1" in english["household"]
    assert "Hand out contraceptives" in english["household"]
    assert "Mo" in english["picker"] and "T2" not in english["picker"]
    assert "Split household" in english["split"] and "Monthly P0 change slip" in english["p0"]
    assert any(w.startswith("Entries recorded in ") for w in english["p0"])
    assert not re.search("[ăâđêôơưạảãáàèéệễộữỹĐ]", " ".join(english["p0"]))  # no word left
    vi_words = {"Lưu", "Huỷ", "Thành viên", "Đồng bộ ngay", "Ghi biến động"}
    assert not vi_words & {w for words in english.values() for w in words}
    # a wrong PIN says what to do if it is forgotten (the data opens only with it)
    assert r["wrong_pin"]["vi-larger"].startswith("Mã PIN không đúng.\nNếu quên mã PIN")
    assert "trạm y tế xã" in r["wrong_pin"]["vi-larger"]
    assert "đăng ký lại máy" in r["wrong_pin"]["vi-larger"]
    assert r["wrong_pin"]["en-large"].startswith("Wrong PIN.\nIf you have forgotten the PIN")
    assert r["tours"]["vi-larger"]["label_px"] > r["tours"]["en-large"]["label_px"]
    assert r["tours"]["vi-larger"]["title_px"] > r["tours"]["en-large"]["title_px"]

    # a person never sees a field's key, and every target takes a thumb
    assert r["raw_keys"] == []
    assert r["small_targets"] == [] and r["clipped"] == [] and r["low_contrast"] == []
    shots = [Path(p) for p in r["shots"]]
    assert len(shots) >= 30 and all(p.exists() and p.stat().st_size > 5000 for p in shots)

    with server_app.app_context():
        household = db.session.get(Household, r["household_ids"][0])
        assert household.data["address"] == "Xóm Giữa, thôn Đông Hồ"
        assert household.village_code == "12619.01"
        names = sorted(m.data["full_name"] for m in db.session.query(Member).filter_by(
            household_id=household.id))
        assert names == ["Lê Minh Anh", "Lê Minh Khang", "Lê Văn Hùng", "Phạm Thị Lành",
                         "Đỗ Thị Ngọc Ánh"]
        mother = db.session.query(Member).filter_by(full_name="Đỗ Thị Ngọc Ánh").one()
        assert (mother.id_number, mother.sex) == ("001094012345", "female")  # kept as sent
        elder = db.session.query(Member).filter_by(full_name="Phạm Thị Lành").one()
        assert elder.birth_date == "1950"
        assert sorted(e.form for e in db.session.query(Event)) == ["birth", "elderly_check"]
        handed = db.session.query(Distribution).all()
        assert sorted((d.method, d.quantity) for d in handed) == [("pill", 1), ("pill", 3)]
    # no camera on this machine (and no test frames): the scan button is not offered
    assert r["scan_offered"] is bool(list(Path("/dev").glob("video*")))


def test_split_a_household_then_close_the_month(server_app, server, xvfb, tmp_path) -> None:
    """Splitting a household records its day and the new household; the monthly close
    shows the last month's entries by section and sends its nil report, and after the
    next sync the phone says the server holds it (issue 12's core, this UI)."""
    code = server.issue_code(AREA, "Vi Thị Hoa")
    r = drive(xvfb, tmp_path, P0_ARTIFACTS, "p0", "--server", server.url, "--code", code)

    assert r["steps"] == ["enrolled", "household added", "split", "closed", "synced"]
    assert r["split_refusal"] == catalogue()["app_split_nobody"]["vi"]
    assert r["split_message_after_pick"] == ""  # answered, so no longer said
    # «Huỷ» asked before dropping the tick, and «Tiếp tục nhập» kept it
    assert r["split_discard_words"].startswith("Những thông tin vừa nhập")
    assert r["split_kept"] == ["split", True]
    assert r["split_date"] == dates.show(dates.today()) and r["split_number"] == "2"
    assert r["new_household"]["members"] == ["Vi Văn Tùng"]
    assert r["old_members"] == ["Vi Văn Thắng"]
    month = r["month"]
    shown = f"{month[5:]}/{month[:4]}"
    assert r["close_label"] == f"Nộp phiếu P0 tháng {shown} (không có thay đổi)"
    assert r["before_close"] == "Chưa nộp"
    assert "Sinh: 0" in " ".join(r["p0_sections"])  # the slip's sections, by their names
    assert r["after_close"] == "Đã nộp trên máy, chờ gửi lên máy chủ"
    assert r["close_snack"].startswith(f"Đã nộp phiếu P0 tháng {shown}")
    assert r["after_sync"].startswith("Máy chủ đã nhận, số liệu khớp")
    assert r["outbox"] == {"applied": 7}  # household, 2 people, the split (3), the slip
    assert r["small_targets"] == [] and r["raw_keys"] == [] and r["clipped"] == []
    with server_app.app_context():
        slip = db.session.scalars(select(P0Report)).one()
        assert (slip.area_code, slip.month) == (AREA, month)
        assert not any(slip.counts.values())  # a nil report
        change = db.session.scalars(select(Event)).one()
        assert change.form == "household_change"
        assert change.event_date == dates.today()
        moved = db.session.scalars(select(Member).where(Member.full_name == "Vi Văn Tùng")).one()
        assert moved.household_id == r["new_household"]["id"] != moved.data["household_id"]
        assert moved.data["relation"] == "head"


def test_a_hand_out_beyond_the_stock_on_hand_is_refused_offline(server_app, server, xvfb,
                                                                 tmp_path) -> None:
    """Issue 17: the station issued 20 pill cycles to the area; after enrolling, with
    no sync, the collaborator confirms them from the stock screen and records 10
    condoms received; the stock screen and the hand-out form show both on hand; 12
    condoms are refused beside the quantity with the balance, nothing is written; 10
    go through and leave none."""
    with server_app.app_context():
        commune = AREA.split(".")[0]
        staff = Scope("user:lan", COMMUNE, commune, person_level=True)
        station.record(db.session, ingest_context(server_app), staff, commune,
                       "stock_transfer", {"area_code": AREA, "method": "pill", "quantity": 20,
                                          "issued_on": dates.today(), "lot": "VT-0925",
                                          "expiry": "2028-05-31"})
        db.session.commit()
    code = server.issue_code(AREA, "Lường Thị Sen")
    r = drive(xvfb, tmp_path, STOCK_ARTIFACTS, "stock", "--server", server.url, "--code", code)

    assert r["steps"] == ["enrolled", "household added", "confirmed", "received",
                          "handed out"]
    # the station's issue, waiting; nothing on hand before it is confirmed
    assert "Máy chưa theo dõi phương tiện nào" in " ".join(r["stock_first"])
    today = dates.show(dates.today())
    assert r["issues"] == [f"Viên uống tránh thai: 20 vỉ (một chu kỳ)\n"
                           f"Trạm cấp ngày {today} · lô VT-0925 · hạn dùng 31/05/2028"]
    assert r["confirm_lead"] == r["issues"][0] and r["confirm_prefill"] == "20"
    # the stock screen shows what is on hand, by name and unit, and nothing left to confirm
    assert r["stock_held"] == {"pill": "Viên uống tránh thai: 20 vỉ (một chu kỳ)",
                               "condom": "Bao cao su: 10 chiếc"}
    assert r["issues_left"] == [] and r["receipt_snack"].startswith(word("pending"))
    assert r["book_balance"] == "20"  # a count starts from the balance on the books
    # the hand-out form says what the bag holds; 12 condoms are refused beside the quantity
    assert r["stock_line"] == ("Còn trong túi: Viên uống tránh thai 20 vỉ (một chu kỳ) · "
                               "Bao cao su 10 chiếc")
    assert r["refused_on"] == "form"
    assert r["refusal"] == catalogue()["stock_insufficient"]["vi"].format(
        method_vi="Bao cao su", on_hand=10, unit_vi="chiếc", quantity=12)
    assert r["refusal_message"].startswith("Vui lòng sửa")
    assert r["outbox_after_refusal"] == {"pending": 3}  # household, confirmation, receipt
    assert r["on_hand"] == {"pill": 20, "condom": 0}
    assert r["outbox"] == {"pending": 4}
    assert {"Contraceptive stock", "On hand", "Condom: 0 piece",
            "Contraceptives received"} <= set(r["stock_english"])
    # a refusal fixed from its notice is answered: the top bar and the notice say so
    assert r["refused_state"].startswith(f"{word('rejected')}: 1")
    assert r["fix_error"] == "Cần ghi địa chỉ"
    assert word("rejected") not in r["fixed_state"] and not r["fix_reopens"]
    assert r["fixed_notice"].startswith("Đã sửa: Máy chủ từ chối thay đổi số 1")
    assert "Chạm để mở" not in r["fixed_notice"]
    # stock movements, about no one, go by their form: never a piece of their id
    assert len(r["sync_lines"]) == 5 and not any(
        re.search(r"[0-9a-f]{8}", line) for line in r["sync_lines"]), r["sync_lines"]
    assert r["small_targets"] == [] and r["raw_keys"] == [] and r["clipped"] == []
    with server_app.app_context():  # nothing left the phone: it stayed offline
        assert db.session.scalar(select(func.count()).select_from(Household)) == 0


def test_scanning_the_dashboards_qr_fills_the_enrol_form(server, xvfb, tmp_path) -> None:
    """The scan screen gets real pictures through the camera's own frame path: the
    TOTP QR code of the dashboard is refused in Vietnamese, then a tilted, dim,
    grainy picture of the enrolment QR code fills server and code (the app was
    started with no server address), and the collaborator enrols with them."""
    code = server.issue_code(AREA, "Lò Thị Mai")
    foreign = photo(qr_image(provisioning_uri(new_secret(), "lan.tran")), angle=6, noise=10)
    foreign.paste(0, (0, 0, foreign.width, 24))  # a dark bezel at the top edge
    enrol = photo(qr_image(build_enrol_uri(server.url, code)), zoom=1.6, angle=-12, dark=60,
                  light=185, noise=20, blur=0.6)
    pictures = [tmp_path / "totp.png", tmp_path / "enrol.png"]
    foreign.save(pictures[0])
    enrol.save(pictures[1])
    result = drive(xvfb, tmp_path, SCAN_ARTIFACTS, "scan", "--server", "", "--pictures",
                   *map(str, pictures))

    assert result["steps"] == ["scanned", "enrolled"]
    assert result["server_before"] == ""
    assert result["refusal"] == catalogue()["enrol_qr_not_enrolment"]["vi"]
    assert result["still_scanning"]
    top, bottom = result["rows_mean"]  # a texture read back comes top row first
    assert top < 40 < 200 < bottom, result["rows_mean"]
    assert result["filled"] == {"server": server.url, "code": code}
    assert "Đã đọc mã QR" in result["message"]
    assert result["area"]["code"] == AREA
    # frames are decoded now and then, not every frame the screen draws
    frames, seconds = result["frames_while_scanning"], result["scan_s"]
    assert 1 <= frames <= seconds / SCAN_INTERVAL_S + 2, (frames, seconds)
    assert result["small_targets"] == []
    shots = [Path(p) for p in result["shots"]]
    assert len(shots) == 4 and all(p.exists() and p.stat().st_size > 5000 for p in shots)


def test_every_character_the_app_may_show_has_a_glyph(xvfb, tmp_path) -> None:
    """Vietnamese and every symbol the app, the forms, the code lists, the messages and
    the official unit names use, drawn by each font of the theme (issue 15: "⚠" was
    an empty box). The probes show the check finds a missing glyph."""
    out = tmp_path / "glyphs.json"
    env = {**xvfb.env, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
    done = subprocess.run([sys.executable, "-m", "tests.support.glyphs", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(out.read_text("utf-8"))
    assert found["chars"] > 150 and all(c in found["sample"] for c in "ăâđêôơưạảãáàệễộữỹĐ«»·–…")
    assert found["missing"] == {"Roboto": [], "Roboto-bold": [], "RobotoMedium": []}
    assert all(p == ["⚠", "✓", "→"] for p in found["probes"].values())

"""The real app under Xvfb, driven like a collaborator's thumb: enrol → add a household
→ add its head → record a birth → sync with the live server; and enrol by scanning
the dashboard's QR code. Screenshots go to the git-ignored test-artifacts/app-ui/
and test-artifacts/app-scan/."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from a0core.enrol_uri import build_enrol_uri
from a0core.errors import catalogue
from clients.kivy_app.ui.scan import SCAN_INTERVAL_S
from server.extensions import db
from server.models.register import Event, Household, Member
from server.security.totp import new_secret, provisioning_uri
from tests.conftest import make_app
from tests.support import live_server
from tests.support.qr_images import photo, qr_image
from tests.support.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "app-ui"
SCAN_ARTIFACTS = ROOT / "test-artifacts" / "app-scan"
AREA = "12619.01.1"


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


def drive(xvfb, tmp_path: Path, shots: Path, *args: str) -> dict:
    """Run the real app under the driver; what it saw, as JSON."""
    shutil.rmtree(shots, ignore_errors=True)
    out = tmp_path / "result.json"
    env = {**xvfb.env, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.app_driver", *args, "--data",
         str(tmp_path / "phone"), "--shots", str(shots), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    (tmp_path / "driver.log").write_text(done.stderr)
    assert out.exists(), done.stderr[-3000:]
    result = json.loads(out.read_text("utf-8"))
    assert result.get("ok"), result.get("error") or done.stderr[-3000:]
    return result


def test_enrol_add_household_record_birth_and_sync(server_app, server, xvfb, tmp_path) -> None:
    code = server.issue_code(AREA, "Hoàng Thị Yến")
    result = drive(xvfb, tmp_path, ARTIFACTS, "--server", server.url, "--code", code)

    assert result["steps"] == ["enrolled", "household added", "member added", "birth recorded",
                               "synced"]
    assert all(result["diacritics"].values()), result["diacritics"]
    assert "Ngày" in result["empty_birth_errors"]  # the catalogue's Vietnamese message
    assert result["members_shown"] == ["Đỗ Minh Khôi", "Đỗ Thị Ngọc Ánh"]
    assert result["outbox"] == {"applied": 3}
    assert "Đã gửi 3 thay đổi" in result["message"]
    assert result["search"] == ["Hộ số 15 · Đỗ Thị Ngọc Ánh"]
    shots = [Path(p) for p in result["shots"]]
    assert len(shots) >= 10 and all(p.exists() and p.stat().st_size > 5000 for p in shots)

    with server_app.app_context():
        household = db.session.get(Household, result["household_ids"][0])
        assert household.data["address"] == "Xóm Giữa, thôn Đông Hồ"
        names = sorted(m.data["full_name"] for m in db.session.query(Member).filter_by(
            household_id=household.id))
        assert names == ["Đỗ Minh Khôi", "Đỗ Thị Ngọc Ánh"]
        assert [e.form for e in db.session.query(Event)] == ["birth"]
    # no camera on this machine (and no test frames): the scan button is not offered
    assert result["scan_offered"] is bool(list(Path("/dev").glob("video*")))


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
    result = drive(xvfb, tmp_path, SCAN_ARTIFACTS, "--server", "", "--pictures",
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
    shots = [Path(p) for p in result["shots"]]
    assert len(shots) == 4 and all(p.exists() and p.stat().st_size > 5000 for p in shots)

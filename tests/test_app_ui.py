"""The real app under Xvfb, driven like a collaborator's thumb: enrol → add a household
→ add its head → record a birth → sync with the live server. Screenshots go to the
git-ignored test-artifacts/app-ui/."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.extensions import db
from server.models.register import Event, Household, Member
from tests.conftest import make_app
from tests.support import live_server
from tests.support.xvfb import Xvfb

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "app-ui"
AREA = "12619.01.1"


@pytest.fixture
def xvfb():
    if shutil.which("Xvfb") is None:  # a missing real part fails; it never skips
        pytest.fail("Xvfb is not installed (scripts/system-deps.sh installs it)")
    with Xvfb() as display:
        yield display


def test_enrol_add_household_record_birth_and_sync(sqlite_template, xvfb, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'server.sqlite'}"
    shutil.copy(sqlite_template, tmp_path / "server.sqlite")
    instance = tmp_path / "instance"
    app = make_app(url, instance)
    with app.app_context():
        live_server.seed_areas(app, [AREA])
        db.session.remove()
    server = live_server.start(url, instance, tmp_path / "server.log")
    try:
        code = server.issue_code(AREA, "Hoàng Thị Yến")
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        out = tmp_path / "result.json"
        env = {**xvfb.env, "KIVY_HOME": str(tmp_path / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.app_driver", "--server", server.url,
             "--code", code, "--data", str(tmp_path / "phone"), "--shots", str(ARTIFACTS),
             "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
        (tmp_path / 'driver.log').write_text(done.stderr)
        assert out.exists(), done.stderr[-3000:]
        result = json.loads(out.read_text("utf-8"))
        assert result.get("ok"), result.get("error") or done.stderr[-3000:]
    finally:
        server.stop()

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

    with app.app_context():
        household = db.session.get(Household, result["household_ids"][0])
        assert household.data["address"] == "Xóm Giữa, thôn Đông Hồ"
        names = sorted(m.data["full_name"] for m in db.session.query(Member).filter_by(
            household_id=household.id))
        assert names == ["Đỗ Minh Khôi", "Đỗ Thị Ngọc Ánh"]
        assert [e.form for e in db.session.query(Event)] == ["birth"]
        db.session.remove()
        db.engine.dispose()

"""The product's first command works, and the migrations match the models."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.extensions import db
from server.models import Base
from tests.support.live_server import free_port


def test_migrations_create_exactly_the_models(app) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def _log_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    """A browser-like opener logged in through the login form (with its CSRF token)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(f"{base}/login", timeout=10) as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrf_token": token}).encode()
    with opener.open(f"{base}/login", data=form, timeout=30) as resp:
        assert resp.url.endswith("/dashboard/"), resp.url
    return opener


def test_demo_serves_the_demo_commune_on_localhost(tmp_path: Path) -> None:
    port = free_port()
    # urllib, unlike browsers, keeps secure cookies from http://127.0.0.1 to itself
    env = {**os.environ, "A0SYNC_INSTANCE": str(tmp_path / "instance"),
           "A0SYNC_SECURE_COOKIES": "0"}
    env.pop("DATABASE_URL", None)
    cli = Path(sys.executable).with_name("a0sync")
    proc = subprocess.Popen([str(cli), "demo", "--households", "300", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        output = []
        while not output or not output[-1].startswith("Mở / open"):
            line = proc.stdout.readline()
            assert line, "".join(output)
            output.append(line)
        account = next(line for line in output if line.startswith("Tài khoản mẫu"))
        username, password = account.split(": ", 1)[1].strip().split(" / ")
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/", timeout=5) as resp:
                    landing, landed = resp.read().decode(), resp.url
                break
            except OSError:
                assert proc.poll() is None, "".join(output)
                assert time.monotonic() < deadline, "demo server did not answer"
                time.sleep(0.5)
        # without a session the landing page is the login form and nothing else
        assert landed.endswith("/login") and 'name="password"' in landing
        assert "Diên Hà" not in landing and "nhân khẩu" not in landing
        database = tmp_path / "instance" / "a0sync.sqlite"
        with sqlite3.connect(database) as conn:  # what the roll-ups counted, and the register
            households, persons = conn.execute(
                "SELECT json_extract(\"values\", '$.households'), "
                "json_extract(\"values\", '$.population') FROM rollup_cell "
                "WHERE level = 'commune' AND unit_code = '12619' ORDER BY month DESC").fetchone()
            registered = conn.execute("SELECT count(*) FROM household").fetchone()[0]
            # the season's phones add households through the sync path (newcomers
            # registered again: the duplicates waiting for review)
            synced = conn.execute(
                "SELECT count(*) FROM household WHERE id IN (SELECT entity_id FROM sync_op "
                "WHERE form = 'household' AND status = 'applied')").fetchone()[0]
        assert synced >= 1 and registered - synced == 300, (registered, synced)
        assert 250 <= households <= registered and persons > 2 * households
        with _log_in(base, username, password).open(f"{base}/dashboard/rollups/12619",
                                                    timeout=30) as resp:
            assert resp.status == 200 and "Xã Diên Hà" in resp.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_database_stamped_before_the_renumbering_gets_the_lean_ledger(tmp_path: Path) -> None:
    """Until 2026-12-01 revision 0008 was the roll-up index by household (now 0012). A
    database upgraded then is stamped 0008 without the lean ledger indexes; upgrading
    it to the head must leave it exactly as the models say."""
    from flask_migrate import stamp, upgrade
    from sqlalchemy import inspect

    from server import MIGRATIONS_DIR
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'old.sqlite'}", tmp_path / "instance")
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="0007")
        stamp(directory=MIGRATIONS_DIR, revision="0008")  # what the old 0008 left, in name
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        with db.engine.connect() as conn:
            indexes = {i["name"] for i in inspect(conn).get_indexes("sync_op")}
            assert "ix_sync_op_batch" not in indexes
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        db.engine.dispose()

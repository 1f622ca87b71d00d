"""The product's first command works, and the migrations match the models."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
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


def test_demo_serves_the_demo_commune_on_localhost(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "A0SYNC_INSTANCE": str(tmp_path / "instance")}
    env.pop("DATABASE_URL", None)
    cli = Path(sys.executable).with_name("a0sync")
    proc = subprocess.Popen([str(cli), "demo", "--households", "300", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    page = resp.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "demo server did not answer"
                time.sleep(0.5)
        database = tmp_path / "instance" / "a0sync.sqlite"
        with sqlite3.connect(database) as conn:  # what the roll-ups counted, and the register
            month, households, persons = conn.execute(
                "SELECT month, json_extract(\"values\", '$.households'), "
                "json_extract(\"values\", '$.population') FROM rollup_cell "
                "WHERE level = 'commune' AND unit_code = '12619' ORDER BY month DESC").fetchone()
            registered = conn.execute("SELECT count(*) FROM household").fetchone()[0]
        assert "Xã Diên Hà" in page
        assert registered == 300 and 250 <= households <= 300 and persons > 2 * households
        assert f"{households} hộ" in page and f"{persons} nhân khẩu" in page and month in page
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

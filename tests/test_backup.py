"""A production server backed up while devices sync, then restored elsewhere (issue 18,
item 9), on SQLite (online backup API) and PostgreSQL (pg_dump/pg_restore).

The live server is ``a0sync serve`` (gunicorn). Every batch acknowledged before the
backup began is in the restored database, whole; every stored receipt still
verifies with the server's keys; no device saw an error while the backup ran."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, select

from a0core.envelope import verify_receipt
from server import MIGRATIONS_DIR
from server.backup import COUNTER_JUMP
from server.extensions import db
from server.models.register import ChangeCounter
from server.models.sync import SyncBatch, SyncOp
from server.security.keys import keystore_for
from tests.conftest import make_app
from tests.support import live_server
from tests.support.register import household, new_id
from tests.support.sim import SimDevice

AREA = "12619.01.1"


def post(url: str, envelope: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/api/v1/sync/batches", data=envelope,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {"error": error.read().decode(errors="replace")[:300]}


class Traffic(threading.Thread):
    """One phone sending a household a batch, as fast as the server answers."""

    def __init__(self, url: str, device: SimDevice) -> None:
        super().__init__(daemon=True)
        self.url, self.device = url, device
        self.acked: list[tuple[float, dict]] = []  # (when acknowledged, receipt)
        self.errors: list[tuple[int, dict]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        device = self.device
        while not self.stop.is_set():
            hh = new_id()
            ops = [device.upsert("household", hh, household(AREA, str(n))) for n in (1, 2)]
            status, body = post(self.url, device.seal(ops))
            if status == 200:
                self.acked.append((time.monotonic(), body))
                device.acknowledge(body["receipt"])
            else:
                self.errors.append((status, body))


def test_backup_of_a_live_server_under_sync_traffic_restores_elsewhere(
        db_url: str, tmp_path: Path, request) -> None:
    instance = tmp_path / "instance"
    app = make_app(db_url, instance)
    with app.app_context():
        live_server.seed_areas(app, [AREA])
        devices = [SimDevice(app, area=AREA) for _ in range(3)]
        db.session.remove()
        server = live_server.start(db_url, instance, tmp_path / "server.log", gunicorn=True)
        traffic = [Traffic(server.url, device) for device in devices]
        try:
            for phone in traffic:
                phone.start()
            while sum(len(p.acked) for p in traffic) < 15:
                time.sleep(0.05)
            began = time.monotonic()
            backup = tmp_path / "copies" / "a0sync.backup"
            done = server.cli("backup", str(backup))
            assert done.returncode == 0, done.stderr
            time.sleep(0.3)  # and the phones go on
        finally:
            for phone in traffic:
                phone.stop.set()
            for phone in traffic:
                phone.join(60)
            server.stop()
            db.engine.dispose()
    assert backup.stat().st_mode & 0o777 == 0o600
    assert [e for p in traffic for e in p.errors] == []
    before = {receipt["receipt"]["batch"] for p in traffic for at, receipt in p.acked
              if at < began}
    assert len(before) >= 15

    # elsewhere: an empty database, the instance's keys carried over (docs/deploy.md)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    shutil.copytree(instance / "keys", elsewhere / "keys")
    if db_url.startswith("sqlite"):
        new_url = f"sqlite:///{elsewhere / 'a0sync.sqlite'}"
    else:
        pg = request.getfixturevalue("pg_server")
        new_url = pg.create_database(f"a0_restored_{uuid.uuid4().hex[:12]}")
    env = {**server.env, "DATABASE_URL": new_url, "A0SYNC_INSTANCE": str(elsewhere)}
    restored = subprocess.run([live_server.A0SYNC, "restore", str(backup)], env=env,
                              capture_output=True, text=True, timeout=300)
    assert restored.returncode == 0, restored.stderr
    again = subprocess.run([live_server.A0SYNC, "restore", str(backup)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "restore_target_not_empty" in again.stderr

    copy = make_app(new_url, elsewhere)
    with copy.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")  # a no-op: it is current
        stored = {b.id: b for b in db.session.scalars(select(SyncBatch))}
        assert before <= set(stored)
        ops = dict(db.session.execute(select(SyncOp.batch_id, func.count())
                                      .group_by(SyncOp.batch_id)).all())
        counters = db.session.scalars(select(ChangeCounter.value)).all()
        assert counters and min(counters) > COUNTER_JUMP  # cursors past the backup skip nothing
        keys = keystore_for(copy)
        for batch in stored.values():
            assert ops.get(batch.id) == batch.op_count  # whole batches only
            kid = batch.receipt["receipt"]["kid"]  # raises unless it verifies:
            verify_receipt(batch.receipt, {kid: keys.public(kid)})
        db.session.remove()
        db.engine.dispose()

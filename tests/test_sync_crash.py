"""A server killed with SIGKILL mid-ingestion loses no acknowledged batch and leaves
no batch half-written (DESIGN §3.5: one transaction per batch).

Devices upload large batches from several threads to a real server process; the
process is killed at a random moment, restarted, killed again. After each kill the
database is read directly: every batch is either wholly present (its ledger rows,
its receipt row and its register rows) or wholly absent, and every batch whose
receipt reached a device is present. Finally every device re-sends everything, as
the app does for batches without a receipt, and each operation is stored once.
"""

from __future__ import annotations

import datetime as dt
import http.client
import random
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from sqlalchemy import func, select

from server.extensions import db
from server.models.register import Household, Member
from server.models.sync import SyncBatch, SyncOp
from server.synthetic import generate_area
from server.synthetic.operations import area_operations
from tests.support import live_server
from tests.support.register import new_id
from tests.support.sim import SimDevice

OPS_PER_BATCH = 160
HOUSEHOLDS_PER_AREA = 300  # a realistic area's register and its events: ~1,500 operations


PERIOD = (dt.date(2025, 1, 1), dt.date(2025, 6, 30))


@dataclass
class Sent:
    device: SimDevice
    batch_id: str
    seqs: range
    households: list[str]
    members: list[str]
    envelope: bytes
    acknowledged: bool = False


@dataclass
class Uploads:
    batches: list[Sent] = field(default_factory=list)

    def prepare(self, device: SimDevice, seed: int) -> None:
        """The device's whole area (synthetic register and events) in batches."""
        area = generate_area(seed, device.area, device.area.rsplit(".", 1)[0], "Xã Diên Hà",
                             HOUSEHOLDS_PER_AREA, PERIOD)
        ops = list(area_operations(area, device.clock, first_seq=device.seq + 1))
        device.seq += len(ops)
        for start in range(0, len(ops), OPS_PER_BATCH):
            batch = ops[start:start + OPS_PER_BATCH]
            batch_id = new_id()
            self.batches.append(Sent(
                device, batch_id, range(batch[0]["seq"], batch[-1]["seq"] + 1),
                [o["id"] for o in batch if o["form"] == "household"],
                [o["id"] for o in batch if o["form"] == "member"],
                device.seal(batch, batch_id=batch_id)))


def _post(url: str, envelope: bytes) -> bool:
    request = urllib.request.Request(f"{url}/api/v1/sync/batches", data=envelope,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status == 200 and b'"receipt"' in resp.read()
    except (OSError, http.client.HTTPException):  # HTTPError is an OSError
        return False  # cut by the kill, before or during the answer: no receipt kept


IN_FLIGHT: set[str] = set()  # batches sent whose answer has not come back


def _upload_until_killed(url: str, batches: list[Sent]) -> None:
    for sent in batches:
        if sent.acknowledged:
            continue
        IN_FLIGHT.add(sent.batch_id)
        ok = _post(url, sent.envelope)
        IN_FLIGHT.discard(sent.batch_id)
        if not ok:
            return
        sent.acknowledged = True


def _wait_until_in_flight(timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not IN_FLIGHT and time.monotonic() < end:
        time.sleep(0.002)


def _check_all_or_nothing(uploads: Uploads) -> int:
    """Return how many batches are present; fail on any partial one."""
    db.session.expire_all()
    present = 0
    for sent in uploads.batches:
        ops = db.session.scalar(select(func.count()).select_from(SyncOp).where(
            SyncOp.device_id == sent.device.id, SyncOp.seq.between(sent.seqs[0], sent.seqs[-1])))
        receipt = db.session.get(SyncBatch, sent.batch_id) is not None
        households = db.session.scalar(select(func.count()).select_from(Household).where(
            Household.id.in_(sent.households)))
        members = db.session.scalar(select(func.count()).select_from(Member).where(
            Member.id.in_(sent.members)))
        whole = (ops, receipt, households, members) == (len(sent.seqs), True,
                                                        len(sent.households), len(sent.members))
        absent = (ops, receipt, households, members) == (0, False, 0, 0)
        assert whole or absent, f"batch {sent.batch_id} partly present: {ops, receipt}"
        assert whole or not sent.acknowledged, f"acknowledged batch {sent.batch_id} lost"
        present += whole
    return present


def test_sigkill_during_ingestion_loses_nothing_acknowledged(app, db_url, tmp_path) -> None:
    devices = [SimDevice(app, area=f"12619.01.{n}") for n in (1, 2, 3)]
    uploads = Uploads()
    for device in devices:
        uploads.prepare(device, seed=len(uploads.batches) + 1)
    instance, log = tmp_path / "instance", tmp_path / "server.log"
    server = None
    rng = random.Random(20261123)
    killed_mid_batch = 0
    try:
        for _ in range(3):
            server = live_server.start(db_url, instance, log)
            threads = [threading.Thread(target=_upload_until_killed, args=(
                server.url, [s for s in uploads.batches if s.device is device]))
                for device in devices]
            for thread in threads:
                thread.start()
            _wait_until_in_flight()  # the server starts at its own pace; ingestion is fast
            time.sleep(rng.uniform(0.0, 0.3))
            killed_mid_batch += bool(IN_FLIGHT)
            server.kill()
            for thread in threads:
                thread.join(timeout=120)
            present = _check_all_or_nothing(uploads)
            assert present >= sum(s.acknowledged for s in uploads.batches)
        assert killed_mid_batch, "the server was never killed while a batch was in flight"

        # every device re-sends what it has no receipt for; then all is there, once
        server = live_server.start(db_url, instance, log)
        for sent in uploads.batches:
            _upload_until_killed(server.url, [sent])
            assert sent.acknowledged
    finally:
        if server is not None:
            server.stop()
    assert _check_all_or_nothing(uploads) == len(uploads.batches)
    total = db.session.scalar(select(func.count()).select_from(SyncOp))
    assert total == sum(d.seq for d in devices)

"""Cold start of the collaborator's app: process start to the household list shown.

Prepares a device whose encrypted local store holds at least ``--households``
(default 520) households of a realistic synthetic area (with their members, as
after a first download), starts Xvfb, then starts the real app ``--runs`` times
(``python -m clients.kivy_app``, the PIN given on stdin so that unlocking — scrypt
and decrypting every record — is part of the time) and measures until the app
prints that the household list is on screen. Reports the median.

    .venv/bin/python bench/app.py --json
    {"cold_start_s": 1.23, "households": 520, ...}     (last line)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a0core.envelope import DeviceKeys  # noqa: E402
from clients.kivy_app.core.app import AppCore  # noqa: E402
from server.security.keys import ServerKey  # noqa: E402
from server.synthetic import generate_persons  # noqa: E402
from tests.support.xvfb import Xvfb  # noqa: E402

PIN = "493817"


def prepare(folder: Path, households: int) -> int:
    """A provisioned device with a synthetic area's register in its encrypted store."""
    core = AppCore(folder)
    answer = {"device_id": str(uuid.uuid4()),
              "area": {"code": "12619.01.1", "name": "Địa bàn 1 – Thôn 1"},
              "collaborator": {"id": 1, "full_name": "Nguyễn Thị Lan"},
              "server_key": ServerKey.generate().public().to_dict(), "server_hlc": 0}
    core.provision("http://127.0.0.1:5000", answer, DeviceKeys.generate(), PIN)
    period = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    changes = []
    seq = 0
    hlc = core.clock.now()
    found = 0
    for area in generate_persons(7, [("12619", "Xã Diên Hà")], households * 5, period):
        for kind, rows in (("household", area.households), ("member", area.members)):
            for row in rows:
                seq += 1
                data = {k: v for k, v in row.items() if k != "id" and v is not None}
                changes.append({"seq": seq, "kind": kind, "id": row["id"], "data": data,
                                "clocks": {k: [hlc, "server"] for k in data},
                                "deleted": False, "merged_into": None})
        found += len(area.households)
        if found >= households:
            break
    with core.store.transaction():
        core.apply_page({"changes": changes, "verdicts": [], "cursor": seq, "more": False,
                         "server_hlc": hlc})
    count = len(core.register.rows())
    core.lock()
    return count


def cold_start(folder: Path, env: dict[str, str], timeout: float = 60.0) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clients.kivy_app", "--data", str(folder), "--pin-stdin",
         "--report-ready"], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write(PIN + "\n")
        proc.stdin.flush()
        deadline = started + timeout
        while time.perf_counter() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"app exited with {proc.wait()}")
            if line.startswith("A0APP-READY"):
                return time.perf_counter() - started
        raise RuntimeError("app did not show the household list")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=520)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="a0-bench-app-"))
    try:
        households = prepare(work / "device", args.households)
        with Xvfb() as xvfb:
            env = {**os.environ, "DISPLAY": xvfb.display, "KIVY_HOME": str(work / "kivy"),
                   "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_ARGS": "1"}
            cold_start(work / "device", env)  # warm the OS file cache once, as a phone would be
            runs = [cold_start(work / "device", env) for _ in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"cold_start_s": round(statistics.median(runs), 3), "households": households,
              "runs_s": [round(r, 3) for r in runs], "target_s": 2.0}
    if not args.json:
        print(f"cold start to the household list ({households} households): "
              f"median {result['cold_start_s']} s over {len(runs)} runs")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

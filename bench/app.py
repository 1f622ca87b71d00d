"""Cold start of the collaborator's app, and the taps its two commonest tasks take.

Prepares a device whose encrypted local store holds at least ``--households``
(default 520) households of a realistic synthetic area (with their members, as
after a first download), starts Xvfb, then starts the real app ``--runs`` times
(``python -m clients.kivy_app``, the PIN given on stdin so that unlocking — scrypt
and decrypting every record — is part of the time) and measures until the app
prints that the household list is on screen. Reports the median, and beside it a floor
measured in the same run (an empty KivyMD window of the same size, started before each
run of the app) and the median of what the app took over it: on a busy shared machine
the floor shows how much of the time is the machine's.

Python's bytecode is cached (in the run's own folder, ``PYTHONPYCACHEPREFIX``, even
where ``PYTHONDONTWRITEBYTECODE`` is set) and one start of each goes before the runs,
as on a phone, whose package ships its modules compiled: otherwise every run would
compile the app's sources again, a fifth of a second that no phone spends.

Then it drives the real UI (``tests/support/app_driver.py``, scenario ``taps``)
on that device: from the household list (the household brought into view by its
number, as a search or a scroll would), a hand-out of pills to the one woman of a
household who can give birth, and then her baby's birth, counting every tap
(typing aside). The issue's budgets: 5 and 8.

    .venv/bin/python bench/app.py --json
    {"cold_start_s": 1.23, "households": 520, ..., "floor_s": 0.9, "over_floor_s": 0.3,
     ..., "taps": {"distribution": 5, "birth": 6}}
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
from clients.kivy_app.core import dates, suggest  # noqa: E402
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


def household_for_taps(folder: Path) -> tuple[str, str]:
    """A household (its number) with exactly one woman who may give birth and get pills,
    and her name: the case the tap budgets are about."""
    core = AppCore(folder)
    core.unlock(PIN)
    reg, today = core.register, dates.today()
    try:
        for row in reg.rows():
            mothers = suggest.eligible(reg, row.id, "birth", today)
            pills = {m.id for m in suggest.eligible(reg, row.id, "distribution", today)
                     if "pill" in (suggest.allowed_codes(reg, "distribution", "method", m.id,
                                                         today) or [])}
            if len(mothers) == 1 and mothers[0].id in pills:
                return row.number, mothers[0].data["full_name"]
    finally:
        core.lock()
    raise RuntimeError("no household fits")


def taps(folder: Path, env: dict[str, str], work: Path) -> dict[str, int]:
    """Drive the real UI through a hand-out and a birth; the taps each took."""
    number, woman = household_for_taps(folder)
    out = work / "taps.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.app_driver", "taps", "--pin", PIN,
         "--household", number, "--recipient", woman, "--data", str(folder),
         "--shots", str(work / "shots"), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if not out.exists():
        raise RuntimeError(done.stderr[-2000:])
    result = json.loads(out.read_text("utf-8"))
    if not result.get("ok"):
        raise RuntimeError(result.get("error"))
    return {"distribution": result["taps"]["distribution"][0], "birth": result["taps"]["birth"]}


# The floor: an empty KivyMD window of the same size, ready at its first frame. Measured
# beside each run of the app, so that what the app itself costs shows on a busy machine.
FLOOR = """
from kivy.config import Config
Config.set("graphics", "width", "400")
Config.set("graphics", "height", "760")
from kivy.clock import Clock
from kivymd.app import MDApp
from kivymd.uix.label import MDLabel
class Floor(MDApp):
    def build(self):
        Clock.schedule_once(lambda *_: print("A0APP-READY", flush=True), 0)
        return MDLabel(text="Sổ A0")
Floor().run()
"""


def cold_start(folder: Path, env: dict[str, str], timeout: float = 60.0) -> float:
    """Seconds from starting the app (the PIN on stdin) to its household list on screen;
    for the floor (a file, not a folder), to its first frame."""
    command = [str(folder)] if folder.is_file() else [
        "-m", "clients.kivy_app", "--data", str(folder), "--pin-stdin", "--report-ready"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *command], cwd=ROOT, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
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
                   "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_ARGS": "1",
                   "PYTHONPYCACHEPREFIX": str(work / "pycache")}
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            floor = work / "floor.py"  # a file: KivyMD looks for its app's source
            floor.write_text(FLOOR, "utf-8")
            # once each before the runs: the OS file cache warm and the bytecode compiled,
            # as on a phone
            cold_start(floor, env)
            cold_start(work / "device", env)
            runs, floors = [], []
            for _ in range(args.runs):
                floors.append(cold_start(floor, env))
                runs.append(cold_start(work / "device", env))
            counted = taps(work / "device", env, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"cold_start_s": round(statistics.median(runs), 3), "households": households,
              "runs_s": [round(r, 3) for r in runs],
              "floor_s": round(statistics.median(floors), 3),
              "over_floor_s": round(statistics.median(
                  [r - f for r, f in zip(runs, floors, strict=True)]), 3),
              "target_s": 2.0, "taps": counted,
              "taps_target": {"distribution": 5, "birth": 8}}
    if not args.json:
        print(f"cold start to the household list ({households} households): "
              f"median {result['cold_start_s']} s over {len(runs)} runs; taps {counted}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/load.py still runs end to end and counts right (its figures are measured by
hand, not here): a few devices after a warm-up, with the worker kill and the database
restart, every operation of the warm-up and of the month start stored once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_month_start_benchmark_runs_and_counts_every_operation_once() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--devices", "4",
         "--warm-devices", "2", "--warm-months", "2", "--phone-processes", "2", "--json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["warmup_batches"] == 4
    assert (result["errors"], result["lost"], result["duplicated"]) == (0, 0, 0)
    assert len(result["failures"]) == min(5, result["errors"] + result["outage_errors"])
    assert result["ops"] > 0 and result["send_p99_s"] > 0 and result["download_p99_s"] > 0
    assert result["outage_batches"] == 4

"""bench/pull.py still runs end to end (its figures are measured by hand, not here)."""

from __future__ import annotations

import gc
import json

from bench import pull


def test_the_pull_benchmark_runs_and_reports_its_keys(capsys) -> None:
    try:
        assert pull.main(["--households", "12", "--limit", "40", "--repeat", "1",
                          "--settle", "--json"]) == 0
    finally:
        gc.unfreeze()
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"download_ms", "page_ms", "before_page_ms", "after_page_ms", "after_vs_before",
            "cpu_after_vs_before", "floor_read_ms", "device_read_after_ms", "gc_ms",
            "settled"} <= set(result)
    assert result["pages"] >= 2 and result["changes"] > 40 and result["settled"]
    assert min(result["download_ms"], result["after_page_ms"], result["floor_read_ms"]) > 0

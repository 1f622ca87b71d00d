"""bench/ingest.py still runs end to end (its figures are measured by hand, not here)."""

from __future__ import annotations

import json

import pytest

from bench import ingest


@pytest.mark.parametrize("mix", ["first", "monthly"])
def test_the_ingest_benchmark_runs_and_reports_its_keys(mix, capsys) -> None:
    assert ingest.main(["--ops", "300", "--repeat", "1", "--mix", mix, "--json",
                        "--core-too"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"db", "mix", "ops", "batches", "hooks", "ops_per_s", "floor_ops_per_s", "ratio",
            "raw_floor_ops_per_s", "pull_village_ms", "core_ops_per_s",
            "hooks_share"} <= set(result)
    assert (result["mix"], result["ops"], result["hooks"]) == (mix, 300, "all")
    assert result["batches"] >= (2 if mix == "monthly" else 1)
    assert min(result["ops_per_s"], result["floor_ops_per_s"], result["raw_floor_ops_per_s"],
               result["pull_village_ms"]) > 0

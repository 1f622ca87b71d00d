"""Throughput of the synthetic register generator.

Generates ``--persons`` registered members (default 200,000) over real communes of
different regions, area by area as the loaders consume them, and reports persons
per second of wall time. With ``--json`` the last line is
``{"persons": N, "seconds": s, "persons_per_s": r, ...}`` for scripts to read.

    .venv/bin/python bench/synthetic.py --persons 1000000 --json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.synthetic import generate_persons

# a delta commune, a city ward, northern mountains, highlands, Mekong delta
COMMUNES = [("12619", "Xã Diên Hà"), ("00004", "Phường Ba Đình"), ("01267", "Xã Hòa An"),
            ("24118", "Xã Ea Kao"), ("31498", "Xã An Lạc Thôn")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=int, default=1, help="length of the period")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)

    end = dt.date(2024, 12, 31)
    period = (dt.date(end.year - args.years + 1, 1, 1), end)
    counts = {"persons": 0, "households": 0, "events": 0, "distributions": 0, "areas": 0}
    started = time.perf_counter()
    cpu = time.process_time()
    for area in generate_persons(args.seed, COMMUNES, args.persons, period):
        counts["persons"] += len(area.members)
        counts["households"] += len(area.households)
        counts["events"] += len(area.events)
        counts["distributions"] += len(area.distributions)
        counts["areas"] += 1
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"persons": counts["persons"], "seconds": round(seconds, 3),
              "persons_per_s": round(counts["persons"] / seconds),
              "cpu_seconds": round(cpu, 3), "peak_rss_mb": round(peak_mb, 1),
              **{k: v for k, v in counts.items() if k != "persons"}}
    if not args.json:
        for key, value in result.items():
            print(f"{key:>15}: {value}")
    else:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

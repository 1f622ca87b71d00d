"""Profile the ingestion path of ``bench/ingest.py`` (one run, fresh database).

    .venv/bin/python bench/profile_ingest.py [--db postgresql] [--ops 10000] [--mix monthly]

``--mix monthly`` profiles the steady state (village-sized batches on a bulk-loaded
register), where the fixed cost of a batch shows; the after-batch hooks are off
unless ``--hooks`` says otherwise.

Prints the process CPU time (less sensitive than wall time to a busy machine) and
a cProfile listing of the ingestion alone, by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.ingest as bench


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--mix", choices=["first", "monthly"], default="first")
    parser.add_argument("--hooks", choices=["all", "none", *bench.HOOKS], default="none")
    parser.add_argument("--statements", action="store_true",
                        help="count the statements sent per batch instead of profiling")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="a0-profile-ingest-"))
    dbs = bench.Databases(args.db, folder)
    try:
        with dbs.fresh() as app:
            if args.mix == "first":
                sent = bench.first_uploads(app, args.ops, args.batch, 1)
            else:
                loader = bench.Writer("bench-loader", bench.HybridClock().now())
                sent = bench.monthly_changes(app, args.ops, 1, loader)
        if sent.preload:
            dbs.preload(lambda: bench.steady_state(sent.preload, loader))
        with dbs.fresh() as app:
            bench.keep_hooks(app, args.hooks)
            if args.statements:
                seconds = count_statements(app, sent)
                return 0
            profile = cProfile.Profile()
            cpu = time.process_time()
            profile.enable()
            seconds, _ = bench.ingest_run(app, sent.devices, sent.envelopes)
            profile.disable()
            cpu = time.process_time() - cpu
    finally:
        dbs.close()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"ingest wall {seconds:.3f} s (profiled), process cpu {cpu:.3f} s, "
          f"{len(sent.envelopes)} batches, {cpu / len(sent.envelopes) * 1000:.2f} ms cpu each")
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


def count_statements(app: object, sent: bench.Traffic) -> float:
    """Ingest with a listener counting what reaches the database's cursor (an
    ``executemany`` counts once); print statements per batch, most frequent first."""
    from collections import Counter

    from sqlalchemy import event

    from server.models.base import db
    from server.models.pipeline import STATS

    seen: Counter[str] = Counter()
    waited: Counter[str] = Counter()  # seconds from sending to the answer, by statement
    counting = [False]
    started: list[float] = [0.0]

    def key(statement: str, executemany: bool) -> str:
        return ("many " if executemany else "") + " ".join(statement.split())[:90]

    def count(_conn: object, _cursor: object, statement: str, _params: object,
              _context: object, executemany: bool) -> None:
        if counting[0]:
            seen[key(statement, executemany)] += 1
            started[0] = time.perf_counter()

    def answered(_conn: object, _cursor: object, statement: str, _params: object,
                 _context: object, executemany: bool) -> None:
        if counting[0]:
            waited[key(statement, executemany)] += time.perf_counter() - started[0]

    event.listen(db.engine, "before_cursor_execute", count)
    before = dict(STATS)
    event.listen(db.engine, "after_cursor_execute", answered)
    counting[0] = True  # the devices' enrolment and the final read-back count too: a few
    seconds, _ = bench.ingest_run(app, sent.devices, sent.envelopes)
    counting[0] = False
    batches = len(sent.envelopes)
    deferred, alone = STATS["deferred"] - before["deferred"], 0
    print(f"{(sum(seen.values()) + deferred) / batches:.2f} statements per batch "
          f"({deferred / batches:.2f} of them sent along with a look-up), "
          f"{(sum(seen.values()) + alone) / batches:.2f} round trips per batch (and each "
          f"transaction's BEGIN, COMMIT, pool ping), {batches} batches, {seconds:.3f} s, "
          f"{sum(waited.values()) / batches * 1000:.2f} ms per batch waiting for the "
          "database")
    print("  per batch   ms/batch  statement")
    for text, n in seen.most_common():
        print(f"{n / batches:7.2f}  {waited[text] / batches * 1000:9.3f}  {text}")
    return seconds


if __name__ == "__main__":
    sys.exit(main())

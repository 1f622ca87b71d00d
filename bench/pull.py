"""Server time of a device's first download of its area, per page, against a read floor.

One database (``--db``), one generated area of ``--households`` households (default
150: about 830 changes, one page; ``bench/load.py``'s areas hold about 1,100), one
enrolled device. Each of
``--repeat`` runs downloads the area from cursor 0 in pages of ``--limit`` changes
(2000, as the app asks: ``a0core.sync_client.PULL_PAGE``) and times, per page:

* ``request``: the whole HTTP request in process (Flask test client: signature
  check, :func:`server.sync.pull.pull_page`, commit, sealing), as a worker serves it;
* ``pull_page``: the page's statements and rows alone (rolled back);
* ``encode``: the canonical bytes of the page's body; ``seal``: deflate, encrypt, sign;
* ``before`` / ``after``: the page read, encoded and sealed as the handler does, as it
  was before issue 19's prepared pull (``tests/support/pull_reference.py`` and the
  walk of :func:`canonical`) and as it is, one after the other on the same data.

The floor, measured in the same run, is what the database costs: the same rows
(every column the page reads, of every source) fetched through the DBAPI cursor in
one statement per table, no Python objects made. Figures are medians over the
runs; ``cpu`` is the process CPU time of the requests (less sensitive than wall
time to a busy machine); ``gc_ms`` the garbage collector's pauses during the
downloads (server and device in one process), the mean per download (a full
collection is rare and long: ``gc_max_ms``). ``--settle`` first puts the start-up
objects out of the collector's reach, as a gunicorn worker does
(:func:`server.serving.settle_heap`). ``--profile FILE`` writes a cProfile of the
requests.

    .venv/bin/python bench/pull.py --json
    .venv/bin/python bench/pull.py --db postgresql --json

With ``--json`` the last line is ``{"db", "households", "changes", "pages", "limit",
"download_ms", "download_cpu_ms", "page_ms", "pull_page_ms", "encode_ms", "seal_ms",
"floor_read_ms", "body_bytes", "before_page_ms", "after_page_ms", "before_download_ms",
"after_download_ms", "after_vs_before", "before_cpu_ms", "after_cpu_ms",
"cpu_after_vs_before", "device_open_ms", "device_read_before_ms", "device_read_after_ms",
"gc_ms", "gc_max_ms", "settled", "load"}``.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from a0core.envelope import (
    _canonical_doc,
    _decoded_canonical_doc,
    canonical,
    canonical_decoded,
    open_from_server,
    seal_to_device,
    sign_request,
)
from a0core.hlc import HybridClock
from a0core.sync_client import PULL_PAGE, _unpack_clocks
from bench.ingest import COMMUNE, COMMUNE_NAME, PERIOD, PROVINCE, BenchDevice, Databases
from server.extensions import db
from server.models.people import Device
from server.register.bulk import Writer, load_area, refresh_statistics
from server.security.keys import keystore_for
from server.serving import settle_heap
from server.sync.pull import PACKED, pull_page
from server.synthetic import generate_area
from tests.support import pull_reference

TABLES = ("household", "member", "event", "distribution", "stock_movement", "alias",
          "conflict")


def setup(app: Any, households: int, seed: int) -> BenchDevice:
    area_code = f"{COMMUNE}.99.1"
    area = generate_area(seed, area_code, f"{COMMUNE}.99", COMMUNE_NAME, households, PERIOD)
    load_area(db.session, area, PROVINCE, COMMUNE, Writer("bench-loader", HybridClock().now()))
    device = BenchDevice(area_code)
    device.register()
    refresh_statistics(db.session)
    db.session.commit()
    return device


def download(app: Any, device: BenchDevice, limit: int, profile: cProfile.Profile | None,
             opened: dict[str, list[float]] | None = None) -> tuple[list[float], float, int,
                                                                     int]:
    """Every page's request milliseconds, the CPU ms of all, changes and body bytes.
    ``opened``: also time the device's opening of each page, whole, and its reading of
    the decrypted body the former way and the present one (``read_before/after``)."""
    server_key = keystore_for(app).public()
    client = app.test_client()
    cursor, more, times, changes, size, cpu = 0, True, [], 0, 0, 0.0
    while more:
        path = f"/api/v1/sync/pull?cursor={cursor}&limit={limit}&kid={server_key.kid}&clocks=packed"
        headers = sign_request("GET", path, b"", device.keys, device_id=device.id)
        start, start_cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        resp = client.get(path, headers=headers)
        if profile is not None:
            profile.disable()
        times.append((time.perf_counter() - start) * 1000)
        cpu += time.process_time() - start_cpu
        start = time.perf_counter()
        page = open_from_server(resp.get_data(), device.keys, server_key, device_id=device.id)
        body = canonical(page)  # the decrypted body, byte for byte
        _unpack_clocks(page["changes"])  # as the app reads them
        if opened is not None:
            opened["open"].append((time.perf_counter() - start) * 1000)
            for name, read in (("read_before", _canonical_doc),
                               ("read_after", _decoded_canonical_doc)):
                start = time.perf_counter()
                read(body)
                opened[name].append((time.perf_counter() - start) * 1000)
        cursor, more = page["cursor"], page["more"]
        changes += len(page["changes"])
        size += len(body)
    return times, cpu * 1000, changes, size


def served(app: Any, device_id: str, limit: int, before: bool) -> tuple[list[float], float]:
    """Every page's server milliseconds, in process: the page read, encoded and sealed
    as the handler does (then rolled back). ``before``: as it was before issue 19's
    prepared pull (``tests/support/pull_reference.py``, and :func:`canonical`'s walk).
    Also the process CPU milliseconds of the whole download."""
    signer = keystore_for(app).current()
    build = pull_reference.pull_page if before else functools.partial(pull_page, clocks=PACKED)
    out, cursor, more, cpu = [], 0, True, time.process_time()
    while more:
        start = time.perf_counter()
        device = db.session.get(Device, device_id)
        body = build(db.session, device, cursor, limit)
        body.update(server_hlc=1, server_key=signer.public().to_dict(), schemas={"hash": "x"})
        seal_to_device(body, device.box_public_key, signer.sign_private, signer.kid,
                       device_id=device_id, hlc=1, decoded=not before)
        db.session.rollback()
        out.append((time.perf_counter() - start) * 1000)
        cursor, more = body["cursor"], body["more"]
    return out, (time.process_time() - cpu) * 1000


def stages(app: Any, device_id: str, limit: int) -> dict[str, list[float]]:
    """The page's parts one by one, for every page of the download (rolled back)."""
    signer = keystore_for(app).current()
    out: dict[str, list[float]] = {"pull_page": [], "encode": [], "seal": []}
    cursor, more = 0, True
    while more:
        device = db.session.get(Device, device_id)
        start = time.perf_counter()
        body = pull_page(db.session, device, cursor, limit, clocks=PACKED)
        out["pull_page"].append((time.perf_counter() - start) * 1000)
        body.update(server_hlc=1, server_key=signer.public().to_dict(), schemas={"hash": "x"})
        start = time.perf_counter()
        canonical_decoded(body)
        out["encode"].append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        seal_to_device(body, device.box_public_key, signer.sign_private, signer.kid,
                       device_id=device_id, hlc=1, decoded=True)
        out["seal"].append((time.perf_counter() - start) * 1000)
        db.session.rollback()
        cursor, more = body["cursor"], body["more"]
    return out


def floor_read(area: str) -> float:
    """Milliseconds to fetch every row of the area through the DBAPI cursor alone."""
    connection = db.engine.raw_connection()
    try:
        start = time.perf_counter()
        cur = connection.cursor()
        for table in TABLES:
            param = "%s" if db.engine.dialect.name == "postgresql" else "?"
            cur.execute(f"SELECT * FROM {table} WHERE area_code = {param} ORDER BY seq",
                        (area,))
            cur.fetchall()
        elapsed = (time.perf_counter() - start) * 1000
        connection.rollback()
        return elapsed
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--households", type=int, default=150)
    parser.add_argument("--limit", type=int, default=PULL_PAGE)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the requests to this file")
    parser.add_argument("--settle", action="store_true",
                        help="settle the heap after start-up, as a gunicorn worker does")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="a0-bench-pull-"))
    dbs = Databases(args.db, folder)
    profile = cProfile.Profile() if args.profile else None
    runs: dict[str, list[float]] = {k: [] for k in (
        "download", "cpu", "page", "pull_page", "encode", "seal", "floor", "before",
        "after", "before_download", "after_download", "before_cpu", "after_cpu", "gc",
        "open", "read_before", "read_after")}
    pauses: list[float] = []

    def clock(phase: str, info: dict[str, Any]) -> None:
        pauses.append(time.perf_counter() if phase == "start" else
                      time.perf_counter() - pauses.pop())

    try:
        with dbs.fresh() as app:
            device = setup(app, args.households, args.seed)
            download(app, device, args.limit, None)  # warm: statements, caches
            if args.settle:
                settle_heap()
            gc.callbacks.append(clock)
            for n in range(args.repeat):
                runs["floor"].append(floor_read(device.area))
                pauses.clear()
                times, cpu, changes, size = download(app, device, args.limit, profile, runs)
                runs["gc"].append(sum(pauses) * 1000)
                runs["download"].append(sum(times))
                runs["cpu"].append(cpu)
                runs["page"].extend(times)
                for name, values in stages(app, device.id, args.limit).items():
                    runs[name].extend(values)
                # the same pages, one after the other, which first alternating
                for name in ("before", "after")[::1 if n % 2 else -1]:
                    pages, cpu = served(app, device.id, args.limit, name == "before")
                    runs[name].extend(pages)
                    runs[f"{name}_download"].append(sum(pages))
                    runs[f"{name}_cpu"].append(cpu)
    finally:
        if clock in gc.callbacks:
            gc.callbacks.remove(clock)
        dbs.close()
        shutil.rmtree(folder, ignore_errors=True)
    if profile is not None:
        profile.dump_stats(args.profile)

    def median(name: str) -> float:
        return round(statistics.median(runs[name]), 2)

    result = {"db": args.db, "households": args.households, "changes": changes,
              "pages": len(times), "limit": args.limit, "download_ms": median("download"),
              "download_cpu_ms": median("cpu"), "page_ms": median("page"),
              "pull_page_ms": median("pull_page"), "encode_ms": median("encode"),
              "seal_ms": median("seal"), "floor_read_ms": median("floor"),
              "body_bytes": size,
              "before_page_ms": median("before"), "after_page_ms": median("after"),
              "before_download_ms": median("before_download"),
              "after_download_ms": median("after_download"),
              "after_vs_before": round(median("after_download") / median("before_download"), 3),
              "before_cpu_ms": median("before_cpu"), "after_cpu_ms": median("after_cpu"),
              "cpu_after_vs_before": round(median("after_cpu") / median("before_cpu"), 3),
              "device_open_ms": median("open"), "device_read_before_ms": median("read_before"),
              "device_read_after_ms": median("read_after"),
              "gc_ms": round(statistics.mean(runs["gc"]), 2),
              "gc_max_ms": round(max(runs["gc"]), 1),
              "settled": args.settle, "load": os.getloadavg()[0]}
    if not args.json:
        for name, values in runs.items():
            print(f"{name} ms:", [round(v, 1) for v in values])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

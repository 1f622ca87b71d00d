"""Month start: a province's devices on gunicorn and PostgreSQL (issue 19).

``--devices`` collaborators (default 200), one area each, registers bulk-loaded
beforehand (about 150 households an area). The server has been serving before the
month starts, as a real one has for days: ``--warm-devices`` collaborators of other
areas (default 25) download their areas and send ``--warm-months`` months each
(default 8, one batch a month, 200 batches), and the work after their batches is
let finish (``--warm-devices 0``: a server started just now; each new database
connection's first batches cost about a fifth more, docs/protocol.md, "Month
start"). Then, against ``a0sync serve`` (``--workers`` processes, ``--threads``
each), all devices at once, as on the 1st of the month:

1. **first downloads**: every device pulls its whole area from cursor 0;
2. **month-start sends**: every device sends its month's batch (about 26
   operations, the P0 change slip of its last month);
3. **outage**: every device sends the next batch while one worker is killed and
   PostgreSQL is restarted; devices retry as the app does (backoff with jitter,
   ``Retry-After``).

The phones are threads of ``--phone-processes`` processes (default 8) on the same
machine, as phones do not share one interpreter lock, forked from a bench whose own
heap is frozen first (a phone has none of it); during the downloads they still take
about three quarters of the server's processor time (docs/protocol.md, "Month
start").

The floor, measured in the same run at the same concurrency: ``/healthz`` (HTTP,
gunicorn, one query). Every operation is then counted in the ledger: none lost,
none twice. Sealing and key work is done before the clock starts.

    .venv/bin/python bench/load.py --json
    .venv/bin/python bench/load.py --devices 100 --json

With ``--json`` the last line is ``{"devices", "workers", "threads", "ops",
"send_batches_per_s", "send_ops_per_s", "send_p50_s", "send_p99_s",
"download_p50_s", "download_p99_s", "download_wall_s", "floor_requests_per_s",
"ratio", "errors", "warmup_batches", "outage_batches", "outage_retries", "outage_errors",
"failures", "lost", "duplicated", "download_cpu_s", "send_cpu_s", "download_machine_ms",
"send_machine_ms"}``
(ratio: sends per second ÷ floor requests per second; ``failures``: why devices
failed, the first five, in any phase). ``*_cpu_s``: the processor
seconds (user and system) the phase took of the server (gunicorn and its workers), of
PostgreSQL (every process of it) and of the phones; ``*_machine_ms``: all three, per
download or per batch. All 200 come at once, and on 2 cores they take at least 100 ×
that many milliseconds: about what the last of them waits, whatever the order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import itertools
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import COMMUNE, PROVINCE, TODAY, YEAR, BenchDevice, Databases
from sqlalchemy import func, select

from a0core.hlc import HybridClock
from a0core.sync_client import (
    HttpResponse,
    RetryPolicy,
    SyncClient,
    seal,
    urllib_transport,
)
from server import create_app
from server.extensions import db
from server.models.sync import SyncOp
from server.register.bulk import Writer, load_area, refresh_statistics
from server.rollups.jobs import full_recompute
from server.security.keys import keystore_for
from server.sync.followups import backlog
from server.synthetic import generate_commune
from server.synthetic.operations import change_operations, record_day, register_at

A0SYNC = str(Path(sys.executable).with_name("a0sync"))
COMMUNE_HOUSEHOLDS = 8000  # about 50 areas of 150 households


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Counting:
    """A transport that counts the answers that made the device wait (5xx, 429, cuts)."""

    def __init__(self) -> None:
        self.inner = urllib_transport()
        self.waits = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any) -> HttpResponse:
        try:
            answer = self.inner(*args)
        except Exception:
            with self.lock:
                self.waits += 1
            raise
        if answer.status >= 500 or answer.status == 429:
            with self.lock:
                self.waits += 1
        return answer


def communes(seed: int) -> Iterator[tuple[str, Any]]:
    """Areas of the province's communes, one large commune of the 2025 list after
    another (duplicate detection and its lock are per commune)."""
    for k in itertools.count():
        commune = str(int(COMMUNE) + k)
        for area in generate_commune(seed + k, commune, f"Xã {k + 1}", COMMUNE_HOUSEHOLDS,
                                     YEAR):
            yield commune, area


@dataclass
class Prepared:
    """The bench's database, its devices and their sealed batches."""

    url: str
    devices: list[BenchDevice]
    batches: list[list[bytes]]  # per device: month start, outage
    ops: int
    warm_devices: list[BenchDevice]
    warm_batches: list[list[bytes]]  # per device: its earlier months, one batch each
    warm_ops: int


def _months(area: Any, start: str, device: BenchDevice, loader: Writer, limit: int,
            server_key: Any) -> tuple[list[bytes], int]:
    """The area's changes from ``start``, one sealed batch a month, the first ``limit``
    months: (batches, operations)."""
    clock = HybridClock()
    months: dict[str, list[dict[str, Any]]] = {}
    month = ""
    for op in change_operations(area, start, clock, device.id, (loader.hlc, loader.device)):
        month = (record_day(op["form"], op["fields"]) or "")[:7] or month
        months.setdefault(month, []).append(op)
    ordered = [months[m] for m in sorted(months)][:limit]
    return ([seal(ops, device_id=device.id, keys=device.keys, server_key=server_key,
                  hlc=clock.now()).envelope for ops in ordered],
            sum(len(ops) for ops in ordered))


def prepare(dbs: Databases, n: int, seed: int, warm: int, warm_months: int) -> Prepared:
    """Registers as they stood two months ago, devices, and two sealed batches per
    device: the changes of the month before last (sent at month start) and of last
    month (sent during the outage). And ``warm`` more areas of the province, whose
    devices have synced every month for ``warm_months`` months: the server's traffic
    before the month starts (their registers as they stood then)."""
    start = (TODAY.replace(day=1) - dt.timedelta(days=32)).replace(day=1).isoformat()
    warm_start = (TODAY.replace(day=1) - dt.timedelta(days=31 * (warm_months + 2))
                  ).replace(day=1).isoformat()
    loader = Writer("bench-loader", HybridClock().now())
    devices: list[BenchDevice] = []
    batches: list[list[bytes]] = []
    warm_devices: list[BenchDevice] = []
    warm_batches: list[list[bytes]] = []
    preload, ops, warm_ops = [], 0, 0
    with dbs.fresh() as app:
        url = str(db.engine.url.render_as_string(hide_password=False))
        server_key = keystore_for(app).public()
        for commune, area in communes(seed):
            if len(devices) == n and len(warm_devices) == warm:
                break
            device = BenchDevice(area.area_code, commune)
            if len(devices) < n:
                sealed, count = _months(area, start, device, loader, 2, server_key)
                if len(sealed) < 2:
                    continue
                devices.append(device)
                batches.append(sealed)
                ops += count
                preload.append((register_at(area, start), device))
            else:
                sealed, count = _months(area, warm_start, device, loader, warm_months,
                                        server_key)
                warm_devices.append(device)
                warm_batches.append(sealed)
                warm_ops += count
                preload.append((register_at(area, warm_start), device))
        for area, device in preload:
            load_area(db.session, area, PROVINCE, device.commune, loader)
            device.register()
        db.session.commit()
        full_recompute(db.session)  # the nightly job's window, as at any month start
        refresh_statistics(db.session)  # as autovacuum would have long since
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return Prepared(url, devices, batches, ops, warm_devices, warm_batches, warm_ops)


def serve(url: str, instance: Path, port: int, workers: int, threads: int,
          log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "A0SYNC_INSTANCE": str(instance),
           "FLASK_DEBUG": "0"}
    with log.open("ab") as out:
        proc = subprocess.Popen([A0SYNC, "serve", "--bind", f"127.0.0.1:{port}", "--workers",
                                 str(workers), "--threads", str(threads)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the server did not start: see {log}") from None
            time.sleep(0.5)


def clients(base: str, devices: list[BenchDevice], server_key: Any,
            transport: Counting) -> list[SyncClient]:
    retry = RetryPolicy(attempts=10, base_delay=0.5, max_delay=20.0)
    return [SyncClient(base, d.id, d.keys, server_key, 30.0, transport=transport, retry=retry,
                       allow_insecure=True) for d in devices]


def download(client: SyncClient) -> float:
    started, cursor = time.perf_counter(), 0
    while True:
        page = client.pull(cursor)
        cursor = page["cursor"]
        if not page["more"]:
            return time.perf_counter() - started


def send(client: SyncClient, envelope: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    receipt = client.send_batch(envelope)
    return (time.perf_counter() - started,
            sum(1 for v in receipt["verdicts"] if v["verdict"] == "rejected"))


class Phones:
    """The devices, spread over ``processes`` processes of threads: 200 phones are 200
    machines, not 200 threads taking turns at one interpreter lock."""

    def __init__(self, syncs: list[SyncClient], transport: Counting, processes: int) -> None:
        self.syncs, self.transport = syncs, transport
        n = max(1, min(processes, len(syncs)))
        self.slices = [list(range(k, len(syncs), n)) for k in range(n)]
        self.waits = 0  # answers that made a device wait, in every process
        self.failures: list[str] = []  # why devices failed, in every phase

    def at_once(self, fn: Any, *columns: list[Any]) -> tuple[list[Any], int, float]:
        """Run ``fn(device, *column values)`` for every device at once, each process its
        slice of the devices: (results in device order, errors, wall seconds)."""
        context = multiprocessing.get_context("fork")  # the children inherit the devices
        # ... and the bench's own heap (the app, what prepared the registers), which no
        # phone has: out of their collectors' reach, or each child walks and copies all of
        # it (half the phones' processor time before)
        gc.collect()
        gc.freeze()
        go = context.Event()
        pipes, children = [], []
        for part in self.slices:
            mine, theirs = context.Pipe(duplex=False)
            rows = [[column[i] for column in columns] for i in part]
            child = context.Process(target=self._run, args=(fn, part, rows, go, theirs))
            child.start()
            pipes.append(mine)
            children.append(child)
        started = time.perf_counter()
        go.set()
        outcomes: dict[int, tuple[bool, Any]] = {}
        for mine, part in zip(pipes, self.slices, strict=True):
            found, waits = mine.recv()
            outcomes.update(zip(part, found, strict=True))
            self.waits += waits
        wall = time.perf_counter() - started
        for child in children:
            child.join()
        results, errors = [], 0
        for i in range(len(self.syncs)):
            ok, value = outcomes[i]
            if ok:
                results.append(value)
            else:  # counted; the bench goes on
                errors += 1
                self.failures.append(value)
                print(f"error: {value}", file=sys.stderr)
        return results, errors, wall

    def _run(self, fn: Any, part: list[int], rows: list[list[Any]], go: Any, out: Any) -> None:
        go.wait()
        before = self.transport.waits
        with ThreadPoolExecutor(len(part)) as pool:
            futures = [pool.submit(fn, self.syncs[i], *row) for i, row in zip(part, rows,
                                                                              strict=True)]
            found = []
            for future in futures:
                try:
                    found.append((True, future.result()))
                except Exception as error:
                    found.append((False, f"{type(error).__name__}: {str(error)[:200]}"))
        out.send((found, self.transport.waits - before))
        out.close()


def _tree_cpu(root: int) -> float:
    """Processor seconds of process ``root`` and its children (from ``/proc``)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(entry) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Processors:
    """Processor seconds of the server, PostgreSQL and the phones (the bench's children,
    counted as they end), read before and after a phase."""

    def __init__(self, server_pid: int, pg_data: Path) -> None:
        self.server_pid, self.pg_data = server_pid, pg_data

    def now(self) -> dict[str, float]:
        postmaster = int((self.pg_data / "postmaster.pid").read_text().split()[0])
        phones = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"server": _tree_cpu(self.server_pid), "postgres": _tree_cpu(postmaster),
                "phones": phones.ru_utime + phones.ru_stime}

    def since(self, before: dict[str, float]) -> dict[str, float]:
        return {kind: round(value - before[kind], 2) for kind, value in self.now().items()}


def floor(phones: Phones, base: str) -> float:
    """``/healthz`` from every device at once: requests a second."""
    def one(_: SyncClient) -> None:
        with urllib.request.urlopen(f"{base}/healthz", timeout=30) as resp:
            resp.read()

    _, errors, wall = phones.at_once(one)
    if errors:
        raise SystemExit("the floor's requests failed")
    return len(phones.syncs) / wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--phone-processes", type=int, default=8,
                        help="processes the simulated phones are spread over")
    parser.add_argument("--warm-devices", type=int, default=25,
                        help="devices of other areas that sync before the month starts "
                             "(0: a server started just now)")
    parser.add_argument("--warm-months", type=int, default=8,
                        help="months each of them sends, one batch a month")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="a0-bench-load-"))
    dbs = Databases("postgresql", folder)
    proc = None
    try:
        prep = prepare(dbs, args.devices, args.seed, args.warm_devices, args.warm_months)
        url, devices, batches, ops = prep.url, prep.devices, prep.batches, prep.ops
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder)})
        with app.app_context():
            server_key = keystore_for(app).public()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = serve(url, folder, port, args.workers, args.threads, folder / "server.log")
        transport = Counting()
        phones = Phones(clients(base, devices, server_key, transport), transport,
                        args.phone_processes)
        floor_rps = statistics.median(floor(phones, base) for _ in range(3))
        warm_errors, failures = warm_up(base, prep, server_key, transport,
                                        args.phone_processes, app)
        cpu = Processors(proc.pid, dbs.pg.proc_dir / "data")
        before = cpu.now()
        downloads, download_errors, download_wall = phones.at_once(download)
        download_cpu, before = cpu.since(before), cpu.now()
        sends, send_errors, send_wall = phones.at_once(send, [b[0] for b in batches])
        send_cpu = cpu.since(before)
        rejected = sum(r for _, r in sends)
        waits_before = phones.waits

        def outage() -> None:
            time.sleep(0.3)
            workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)],
                                     capture_output=True, text=True).stdout.split()
            if workers:
                os.kill(int(random.choice(workers)), signal.SIGKILL)
            time.sleep(0.3)
            pg = dbs.pg
            pg._run([str(pg.bin_dir / "pg_ctl"), "-D", str(pg.proc_dir / "data"),
                     "-m", "fast", "-w", "restart"])

        trouble = threading.Thread(target=outage)
        trouble.start()
        _, outage_errors, _ = phones.at_once(send, [b[1] for b in batches])
        trouble.join()
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder)})
        with app.app_context():
            stored = db.session.scalar(select(func.count()).select_from(SyncOp))
            distinct = db.session.scalar(select(func.count()).select_from(
                select(SyncOp.device_id, SyncOp.seq).distinct().subquery()))
            db.session.remove()
            db.engine.dispose()
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        dbs.close()
        shutil.rmtree(folder, ignore_errors=True)
    send_times = [t for t, _ in sends]
    result = {
        "devices": len(devices), "workers": args.workers, "threads": args.threads, "ops": ops,
        "send_batches_per_s": round(len(sends) / send_wall, 1),
        "send_ops_per_s": round(ops / 2 / send_wall),  # about half the operations
        "send_p50_s": round(statistics.median(send_times), 3),
        "send_p99_s": round(pct(send_times, 0.99), 3),
        "download_p50_s": round(statistics.median(downloads), 3),
        "download_p99_s": round(pct(downloads, 0.99), 3),
        "download_wall_s": round(download_wall, 2),
        "floor_requests_per_s": round(floor_rps, 1),
        "ratio": round(len(sends) / send_wall / floor_rps, 3),
        "errors": download_errors + send_errors + rejected + warm_errors,
        "warmup_batches": sum(len(b) for b in prep.warm_batches),
        "outage_batches": len(batches), "outage_retries": phones.waits - waits_before,
        "outage_errors": outage_errors,
        "failures": (failures + phones.failures)[:5],
        "lost": max(0, ops + prep.warm_ops - stored), "duplicated": stored - distinct,
        "download_cpu_s": download_cpu, "send_cpu_s": send_cpu,
        "download_machine_ms": round(sum(download_cpu.values()) / len(devices) * 1000, 1),
        "send_machine_ms": round(sum(send_cpu.values()) / len(devices) * 1000, 1),
    }
    print(json.dumps(result))
    return 0


def warm_up(base: str, prep: Prepared, server_key: Any, transport: Counting,
            processes: int, app: Any) -> tuple[int, list[str]]:
    """The months before: the warm-up devices download their areas, then send their
    months one after another, all at once; then the server's work after those batches
    is let finish, as it has before a month starts. A month start finds a server that
    has been serving for days (gunicorn restarts a worker only after about 2,000
    requests): its connections' statements prepared, PostgreSQL's caches filled. Its
    errors, and follow-up work that failed, count as errors: (errors, why devices
    failed)."""
    if not prep.warm_devices:
        return 0, []

    def months(client: SyncClient, envelopes: list[bytes]) -> int:
        download(client)
        return sum(send(client, envelope)[1] for envelope in envelopes)

    phones = Phones(clients(base, prep.warm_devices, server_key, transport), transport,
                    processes)
    rejected, errors, _ = phones.at_once(months, prep.warm_batches)
    with app.app_context():
        deadline = time.monotonic() + 120
        while any(k["queued"] for k in backlog(db.session).values()) \
                and time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.5)
        failed = sum(k["failed"] for k in backlog(db.session).values())
        db.session.remove()
    return errors + sum(rejected) + failed, phones.failures


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())

"""A real, throw-away PostgreSQL server for the test session.

``A0SYNC_TEST_PG_URL`` points the tests at an existing server. Otherwise the set-up
runs Debian's PostgreSQL binaries (installed by ``scripts/system-deps.sh``) on a
private data directory, a free port and a socket in a temporary folder, and stops
it at the end. Missing binaries are a failure, never a skip: the suite promises
that everything was tested on PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    admin_url: str  # psycopg URL to the maintenance database
    proc_dir: Path | None = None
    bin_dir: Path | None = None
    run_as: str | None = None

    def url(self, dbname: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{dbname}"

    def sqlalchemy_url(self, dbname: str) -> str:
        return self.url(dbname).replace("postgresql://", "postgresql+psycopg://", 1)

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str, template: str | None = None) -> str:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        extra = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{extra}')
        return self.sqlalchemy_url(name)

    def stop(self) -> None:
        if self.proc_dir and self.bin_dir:
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.proc_dir / "data"),
                       "-m", "immediate", "stop"], check=False)
            shutil.rmtree(self.proc_dir, ignore_errors=True)

    def _run(self, cmd: list[str], check: bool = True) -> None:
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start(durable: bool = False) -> PostgresServer:
    """A PostgreSQL server of its own in a temporary folder (or ``A0SYNC_TEST_PG_URL``'s).
    Tests run it without flushing to disk; ``durable`` (the benchmarks) keeps
    PostgreSQL's defaults, every commit flushed, as a real server runs it."""
    url = os.environ.get("A0SYNC_TEST_PG_URL")
    if url:
        return PostgresServer(admin_url=url)
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL is not installed: run scripts/system-deps.sh (make test does) "
            "or set A0SYNC_TEST_PG_URL")
    run_as = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
    proc_dir = Path(tempfile.mkdtemp(prefix="a0sync-pg-"))
    proc_dir.chmod(0o755)
    data, sock = proc_dir / "data", proc_dir / "sock"
    sock.mkdir()
    if run_as:
        shutil.chown(proc_dir, run_as)
        shutil.chown(sock, run_as)
    port = _free_port()
    server = PostgresServer(admin_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
                            proc_dir=proc_dir, bin_dir=bin_dir, run_as=run_as)
    server._run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--locale=C.UTF-8"])
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    server._run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-t", "60",
                 "-l", str(proc_dir / "log"), "start"])
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(server.admin_url).close()
            return server
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

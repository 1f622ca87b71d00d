"""The real a0sync server as a separate process on localhost, for the app's tests.

``a0sync run`` (werkzeug) on a free port, over a database the test prepared
(migrated, with org units and areas); the ``a0sync`` CLI against the same
database issues enrolment codes and imports hand-carried batch files.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from tests.conftest import TWO_LEVEL
from tests.support.units import add_areas, import_provinces

A0SYNC = str(Path(sys.executable).with_name("a0sync"))
CODE_RE = re.compile(r"\b([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2})\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_areas(app: Flask, areas: list[str], provinces: tuple[str, ...] = ("33",)) -> None:
    """Real org units of the 2025 list for ``provinces``, plus the areas (in app context)."""
    from server.extensions import db

    tree = import_provinces(db.session, TWO_LEVEL, provinces)
    add_areas(db.session, tree, areas)
    db.session.commit()


@dataclass
class LiveServer:
    url: str
    db_url: str
    instance: Path
    proc: subprocess.Popen
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": self.db_url, "A0SYNC_INSTANCE": str(self.instance),
                "FLASK_DEBUG": "0"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([A0SYNC, *args], env=self.env, capture_output=True, text=True,
                              timeout=120)

    def issue_code(self, area: str, collaborator: str) -> str:
        done = self.cli("enroll", "--area", area, "--collaborator-name", collaborator)
        assert done.returncode == 0, done.stderr
        found = CODE_RE.search(done.stdout)
        assert found, done.stdout
        return found.group(1)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no chance to finish a transaction (the crash test)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start(db_url: str, instance: Path, log: Path, timeout: float = 60.0,
          gunicorn: bool = False) -> LiveServer:
    """Start ``a0sync run`` (or the production ``a0sync serve``, gunicorn with two
    workers) and wait until /healthz answers."""
    port = free_port()
    instance.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    server = LiveServer(f"http://127.0.0.1:{port}", db_url, instance, None, log)  # type: ignore[arg-type]
    command = (["serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"] if gunicorn else
               ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload",
                "--no-debugger"])
    server.proc = subprocess.Popen([A0SYNC, *command], env=server.env, stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")

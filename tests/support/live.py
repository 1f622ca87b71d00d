"""A real a0sync server process on a free localhost port, for tests that cross a network."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``a0sync run`` on ``database_url`` with the keys of ``instance``; restartable."""

    def __init__(self, database_url: str, instance: Path, log: Path) -> None:
        self.database_url, self.instance, self.log = database_url, instance, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> LiveServer:
        env = {**os.environ, "DATABASE_URL": self.database_url,
               "A0SYNC_INSTANCE": str(self.instance)}
        cli = Path(sys.executable).with_name("a0sync")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(cli), "run", "--port", str(self.port), "--no-reload", "--with-threads"],
                env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {self.log.read_text()}") from None
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no chance to finish a transaction."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

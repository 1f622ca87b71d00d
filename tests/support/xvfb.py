"""A private X server (Xvfb) for the app's UI tests and benchmark.

Started by the test set-up on a free display number; under ``CI=true`` a missing
Xvfb fails the run (house rule: a missing real part never skips).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path


class Xvfb:
    def __init__(self, size: str = "480x854x24") -> None:
        self.size = size
        self.proc: subprocess.Popen | None = None
        self.display = ""

    def __enter__(self) -> Xvfb:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise RuntimeError("Xvfb is not installed (scripts/system-deps.sh installs it)")
        for n in range(120, 220):
            if Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
                continue
            proc = subprocess.Popen([exe, f":{n}", "-screen", "0", self.size, "-nolisten", "tcp",
                                     "-noreset"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if Path(f"/tmp/.X11-unix/X{n}").exists():
                    self.proc, self.display = proc, f":{n}"
                    return self
                time.sleep(0.05)
            if proc.poll() is None:
                proc.terminate()
        raise RuntimeError("could not start Xvfb on any display")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

"""Where the server's own log lines go."""

from __future__ import annotations

import logging
import sys


class CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged, not to the stream
    of the moment it was configured. A command run in-process (click's test runner,
    the demo) swaps and closes its stream; Alembic's logging, configured by the first
    ``db upgrade``, would otherwise write a later one into a closed file."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def error_line(error: BaseException) -> str:
    """The first line of what the driver said (no traceback): for a log line per incident."""
    orig = getattr(error, "orig", None) or error
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]

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

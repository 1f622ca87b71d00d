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


class _PipelineTeardown(logging.Filter):
    """psycopg's warning for a pipeline ended by the error that ended its connection (one
    a request during a database restart): the incident is logged once already
    (:mod:`server.web.outage`), not once per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg == "error ignored terminating %r: %s" and args
                    and type(args[0]).__name__ == "Pipeline")


_TEARDOWN = _PipelineTeardown()


def quiet_pipeline_teardown() -> None:
    """Drop psycopg's per-request warnings of a lost pipeline (see :class:`_PipelineTeardown`)."""
    psycopg_log = logging.getLogger("psycopg")
    if _TEARDOWN not in psycopg_log.filters:
        psycopg_log.addFilter(_TEARDOWN)

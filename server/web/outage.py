"""A database that cannot be reached, or is too busy: a coded 503 with ``Retry-After``,
and one log line per incident (issue 19).

Without this, every request during a PostgreSQL restart became the framework's HTML
500 page and a traceback in the log: devices could not tell an outage from a bug
(and did not wait before trying again), and the log took thousands of lines in
seconds. Now:

* an unreachable database (connection refused or lost) answers 503
  ``database_unavailable``; a busy one (the pool exhausted, a serialization failure,
  SQLite's write lock timing out) 503 ``server_busy``. Both carry ``Retry-After``; the
  app waits at least that long, with jitter (``a0core.sync_client.RetryPolicy``);
* the log says when an incident starts (one line, no traceback), every
  :data:`QUIET_S` seconds while it lasts, and when the database answers again, with
  how many requests were refused.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from flask import Flask, Response, jsonify, make_response, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from a0core.errors import A0Error
from server.extensions import db
from server.logs import error_line, quiet_pipeline_teardown

log = logging.getLogger("a0sync.database")
RETRY_AFTER_S = {"database_unavailable": 15, "server_busy": 3}
QUIET_S = 60.0
_BUSY_STATES = {"40001", "40P01", "55P03", "57014", "53300"}  # serialization, deadlock,
# lock timeout, statement timeout, too many connections


def classify(error: BaseException) -> str:
    """``server_busy`` or ``database_unavailable``."""
    if isinstance(error, PoolTimeout):
        return "server_busy"
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) in _BUSY_STATES or "database is locked" in str(orig):
        return "server_busy"
    return "database_unavailable"


class Incident:
    """The current outage, shared by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.refused = 0
        self._logged_at = 0.0

    def refused_one(self, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self.refused += 1
            if self.since is None:
                self.since, self._logged_at = now, now
                log.error("database unreachable (%s): answering 503 until it is back",
                          error_line(error))
            elif now - self._logged_at >= QUIET_S:
                self._logged_at = now
                log.error("database still unreachable after %.0f s (%d requests answered 503)",
                          now - self.since, self.refused)

    def check_back(self) -> None:
        """A request succeeded during an incident: close it if the database answers."""
        if self.since is None:
            return
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError:
            return
        with self._lock:
            if self.since is not None:
                log.warning("database back after %.0f s (%d requests answered 503)",
                            time.monotonic() - self.since, self.refused)
                self.since, self.refused = None, 0


def unavailable_response(code: str) -> Response:
    """The 503 for ``code``: JSON under ``/api/`` and for /healthz, a page elsewhere."""
    error = A0Error(code, retry_after=RETRY_AFTER_S[code])
    if request.path.startswith("/api/") or request.path == "/healthz":
        response = make_response(jsonify({"error": error.to_dict()}), 503)
    else:
        try:
            from server.web.dashboard.shell import error_page

            response = make_response(error_page(error, 503))
        except Exception:  # the page itself needs the database: plain words, both languages
            response = make_response(f"<!doctype html><p>{error.vi}</p><p>{error.en}</p>", 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S[code])
    return response


def register(app: Flask) -> None:
    quiet_pipeline_teardown()
    incident = Incident()
    app.extensions["a0sync.outage"] = incident

    def handle(error: Exception):
        code = classify(error)
        with contextlib.suppress(Exception):
            db.session.rollback()
        if code == "database_unavailable":
            incident.refused_one(error)
        return unavailable_response(code)

    for kind in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(kind, handle)

    @app.after_request
    def _back(response: Response) -> Response:
        if incident.since is not None and response.status_code < 500:
            incident.check_back()
        return response

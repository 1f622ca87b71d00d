"""What every HTTP answer shares, whichever blueprint made it (or none: a 404).

* Security headers on every response: no scripts, no framing, no sniffing, and
  ``Cache-Control: no-store`` on everything but static files, so person-level data
  (pages, exports, API answers, even error pages) never sits in a shared cache.
  ``Strict-Transport-Security`` when ``A0SYNC_HSTS=1`` (behind TLS; docs/deploy.md).
  Every API answer, refusals included, carries the server's wall clock
  (``X-A0-Server-Time``): how a device whose clock ran ahead knows it is sane again.
* :func:`commit_read`: a read that writes its audit row commits it before the data
  leaves; a HEAD request gets the same headers but no body, reads nothing and so
  commits nothing.
* Bounds: an ``<int:…>`` in a route matches only 0 … 2^31 − 1, what an ``INTEGER``
  key holds on both databases (anything else is a 404, never an overflow; a route
  over a ``BIGINT`` key says ``<int(max=…):…>``), :func:`int_arg` reads a number
  from the query string or refuses it with a code, and a NUL character anywhere in
  the path, query or form (PostgreSQL cannot store one) is refused as
  ``request_malformed`` before any view runs.
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter, ValidationError

from a0core.envelope import HEADER_SERVER_TIME
from a0core.errors import A0Error
from a0core.hlc import wall_ms

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
       "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
HSTS = "max-age=31536000; includeSubDomains"
MAX_INT = 2**63 - 1
MAX_KEY = 2**31 - 1
_DIGITS = re.compile(r"^[0-9]{1,19}$")  # ASCII digits only ("²".isdigit() is true)


class BoundedInt(IntegerConverter):
    """``<int:…>`` as an ``INTEGER`` primary key holds it: 0 … 2^31 − 1."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_KEY)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        if len(value) > 19:  # before int(): Python refuses very long digit strings
            raise ValidationError()
        return super().to_python(value)


def int_arg(name: str, default: int, *, low: int = 0, high: int = MAX_INT,
            code: str = "request_malformed") -> int:
    """The query argument ``name`` as a whole number in ``low … high``; refused with
    ``code`` (naming the argument) when it is anything else, never read as a default."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        raise A0Error(code, field=name)
    return int(raw)


def form_id(name: str, code: str) -> int | None:
    """The form field ``name`` as a row id (``None`` when empty); anything that is not a
    key an ``INTEGER`` column can hold is refused with ``code``."""
    raw = request.form.get(name)
    if not raw:
        return None
    if not _DIGITS.match(raw) or len(raw) > 10 or int(raw) > MAX_KEY:
        raise A0Error(code, record=raw[:20])
    return int(raw)


def _has_nul(values: Any) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values.items(multi=True))


def refuse_nul() -> None:
    if "\x00" in request.path or _has_nul(request.args) or (
            request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
            and _has_nul(request.form)):
        raise A0Error("request_malformed")


def security_headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not (request.endpoint or "").endswith("static"):
        headers["Cache-Control"] = "no-store"
    if current_app.config.get("A0SYNC_HSTS"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith("/api/"):  # a device learns the time from every answer
        headers[HEADER_SERVER_TIME] = str(wall_ms())
    return response


def commit_read(session: Session) -> None:
    """Commit what a read wrote (its audit row), unless it is a HEAD request."""
    if request.method == "HEAD":
        session.rollback()
    else:
        session.commit()


def init_app(app: Flask) -> None:
    """Call first in the app factory: the converter must exist before any route."""
    app.url_map.converters["int"] = BoundedInt
    app.config.setdefault("A0SYNC_HSTS", os.environ.get("A0SYNC_HSTS", "0") == "1")
    app.before_request(refuse_nul)
    app.after_request(security_headers)

"""The web dashboard: accounts, commune staff pages, and the shell later pages plug into.

:func:`init_app` is the one call in ``create_app``. It sets:

* session cookies: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` unless
  ``A0SYNC_SECURE_COOKIES`` is ``0`` (config key or environment; on by default, so
  production behind HTTPS needs nothing), 8-hour sessions;
* CSRF protection (Flask-WTF ``CSRFProtect``) on every form of every blueprint,
  except the device APIs ``/api/v1/sync`` (sealed, signed batches) and
  ``/api/v1`` device/enrolment endpoints (signed requests, or JSON-only bodies a
  cross-site form cannot send);
* Flask-Babel (Vietnamese by default, see :mod:`server.web.dashboard.i18n`);
* HTML error pages for refusals on dashboard pages, security headers.
"""

from __future__ import annotations

import os

from flask import Flask, g, request
from flask_babel import refresh
from flask_wtf.csrf import CSRFError, CSRFProtect

from a0core.errors import A0Error
from server.security.web_sessions import DEFAULT_LIFETIME

csrf = CSRFProtect()


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def init_app(app: Flask) -> None:
    from server import formats
    from server.rollups.indicators import DERIVED
    from server.web.dashboard import (  # noqa: F401  (routes)
        api_pages,
        auth,
        duplicate_pages,
        i18n,
        migration_pages,
        rollup_pages,
        shell,
        stock_pages,
        sync_pages,
        unit_pages,
    )

    secure = app.config.get("A0SYNC_SECURE_COOKIES")
    if secure is None:
        secure = _env_flag("A0SYNC_SECURE_COOKIES", True)
    app.config.update(
        SESSION_COOKIE_NAME="a0sync_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure),
        PERMANENT_SESSION_LIFETIME=DEFAULT_LIFETIME,
    )
    # a token lives as long as the session: a form left open over lunch still posts
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh")
    i18n.init_app(app)
    # how numbers, dates and times read: server/formats.py, in the page's language
    app.jinja_env.filters.update(
        num=formats.num, vnnum=formats.num, rate=formats.rate, score=formats.fixed,
        day=formats.day, birth=formats.day, month=formats.month, when=formats.when)
    app.jinja_env.globals["zone_note"] = formats.zone_note
    # roll-up values that are ratios (written with their decimal; "x" when there was
    # nothing to divide by, NOT_COMPUTABLE_NOTE says so): every other value is a count,
    # 0 when the cell does not hold it
    app.jinja_env.globals["RATIOS"] = frozenset(DERIVED)
    app.jinja_env.globals["NOT_COMPUTABLE_NOTE"] = rollup_pages.NOT_COMPUTABLE_NOTE
    csrf.init_app(app)
    for name in ("api_sync", "api_devices"):
        blueprint = app.blueprints.get(name)
        if blueprint is not None:
            csrf.exempt(blueprint)

    @app.before_request
    def _fresh_request_caches() -> None:
        # Flask-WTF and Flask-Babel cache the token and the locale on the app
        # context; when one is already pushed (tests, the CLI) a request must not
        # see the token or language of an earlier request.
        g.pop(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
        refresh()

    app.register_blueprint(auth.bp)
    app.register_blueprint(shell.bp)
    app.context_processor(shell.template_context)

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError):
        error = A0Error("csrf_invalid")
        if request.path.startswith("/api/"):
            from server.web.errors import error_response

            return error_response(error, 400)
        return shell.error_page(error, 400)

"""a0sync server: Flask app factory.

Blueprints and CLI commands are registered here; the domain lives in the
sub-packages (forms, orgunits, register, sync, security) and does not import Flask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from server import config as config_module
from server.extensions import db, migrate
from server.security.at_rest import protect_sqlite
from server.web import http

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = config_module.load(overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=True)
    app.config.update(settings)

    protect_sqlite(app.config["SQLALCHEMY_DATABASE_URI"])  # owner-only before SQLite opens it
    http.init_app(app)  # before any route: bounded <int:…>
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)

    # imported here: the packages import models, which need the app's db set up first
    from server import exports, housekeeping, logistics, rollups, scheduler
    from server.cli import register_commands
    from server.forms import init_app as init_forms
    from server.sync import duplicates
    from server.web import api_district, dashboard, errors, outage
    from server.web.api_devices import bp as api_devices_bp
    from server.web.api_sync import bp as api_sync_bp
    from server.web.health import bp as health_bp

    init_forms(app)
    errors.register(app)
    outage.register(app)
    for blueprint in (health_bp, api_devices_bp, api_sync_bp):
        app.register_blueprint(blueprint)
    duplicates.init_app(app)
    dashboard.init_app(app)
    api_district.init_app(app)
    register_commands(app)
    logistics.init_app(app)
    rollups.init_app(app)
    exports.init_app(app)
    housekeeping.init_app(app)
    scheduler.init_app(app)  # last: its jobs read the others' configuration
    _behind_proxies(app)
    return app


def _behind_proxies(app: Flask) -> None:
    """``A0SYNC_PROXIES=N``: N reverse proxies (TLS) stand in front, and their
    ``X-Forwarded-For``/``-Proto``/``-Host`` are believed, so throttling and the audit
    log see the client's address and cookies know the request came over HTTPS.
    Without it these headers are ignored (anyone could send them)."""
    proxies = int(app.config.get("A0SYNC_PROXIES", os.environ.get("A0SYNC_PROXIES", 0)))
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies)  # type: ignore[method-assign]

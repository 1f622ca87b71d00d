"""a0sync server: Flask app factory.

Blueprints and CLI commands are registered here; the domain lives in the
sub-packages (forms, orgunits, register, sync, security) and does not import Flask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from server import config as config_module
from server.extensions import db, migrate

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = config_module.load(overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=True)
    app.config.update(settings)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)

    from server.forms import init_app as init_forms
    from server.web.health import bp as health_bp

    init_forms(app)
    app.register_blueprint(health_bp)

    from server.web.api_devices import bp as api_devices_bp

    app.register_blueprint(api_devices_bp)

    from server.web import errors
    from server.web.api_sync import bp as api_sync_bp

    errors.register(app)
    app.register_blueprint(api_sync_bp)

    from server.sync.duplicates import init_app as init_duplicates

    init_duplicates(app)

    from server.web.dashboard import init_app as init_dashboard

    init_dashboard(app)

    from server.web.api_district import init_app as init_district_api

    init_district_api(app)

    from server.cli import register_commands

    register_commands(app)

    from server.rollups import init_app as init_rollups

    init_rollups(app)

    from server.exports import init_app as init_exports

    init_exports(app)
    return app

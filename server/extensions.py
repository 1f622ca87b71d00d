"""Flask extensions, created unbound and attached in the app factory."""

from flask_migrate import Migrate

from server.models.base import db

migrate = Migrate()

__all__ = ["db", "migrate"]

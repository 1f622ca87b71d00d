"""Generate an Alembic migration from the models: scripts/new-migration.py REV "message".

Runs against a scratch SQLite database upgraded to head, so autogenerate sees only
what the models changed.
"""

import sys
import tempfile
from pathlib import Path

import flask_migrate

from server import MIGRATIONS_DIR, create_app

rev, message = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'scratch.sqlite'}",
                      "INSTANCE_PATH": tmp})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR, revision="heads")
        flask_migrate.migrate(directory=MIGRATIONS_DIR, message=message, rev_id=rev)

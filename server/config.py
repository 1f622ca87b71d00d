"""Configuration from the environment, with an embedded default that needs nothing.

``DATABASE_URL`` selects the database; without it the server uses a SQLite file in
the git-ignored instance folder (``A0SYNC_INSTANCE``, default ``./instance``), where
run-time secrets such as server keys also live.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import orjson

from server.models.base import json_dumps


def instance_path() -> Path:
    return Path(os.environ.get("A0SYNC_INSTANCE", Path.cwd() / "instance")).resolve()


def database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style postgres:// and plain postgresql:// both go through psycopg 3
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
    return f"sqlite:///{instance / 'a0sync.sqlite'}"


def _secret_key(instance: Path) -> str:
    """A per-installation secret, generated once and kept in the instance folder."""
    env = os.environ.get("A0SYNC_SECRET_KEY")
    if env:
        return env
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    overrides = overrides or {}
    instance = Path(overrides.get("INSTANCE_PATH") or instance_path())
    instance.mkdir(parents=True, exist_ok=True)
    url = overrides.get("SQLALCHEMY_DATABASE_URI") or database_url(instance)
    config: dict[str, Any] = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "json_serializer": json_dumps,
                                      "json_deserializer": orjson.loads},
        # Sync limits (DESIGN §3); every one can be set through the environment.
        "A0SYNC_MAX_BATCH_BYTES": int(os.environ.get("A0SYNC_MAX_BATCH_BYTES", 8 * 1024 * 1024)),
        "A0SYNC_MAX_CLOCK_AHEAD_S": int(os.environ.get("A0SYNC_MAX_CLOCK_AHEAD_S", 24 * 3600)),
        "A0SYNC_ENROL_CODE_TTL_S": int(os.environ.get("A0SYNC_ENROL_CODE_TTL_S", 24 * 3600)),
    }
    config.update(overrides)
    return config

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
from server.security.at_rest import read_or_create, secure_folder, totp_key


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
    """A per-installation secret, generated once and kept in the instance folder (every
    process starting at once reads the same one: :func:`read_or_create`)."""
    env = os.environ.get("A0SYNC_SECRET_KEY")
    if env:
        return env
    return read_or_create(instance / "secret_key",
                          lambda: secrets.token_hex(32).encode()).decode().strip()


def pool_options(url: str) -> dict[str, Any]:
    """The connection pool of one server process (docs/deploy.md, "Connections").

    A process needs a connection per request thread (gunicorn's ``--threads``, passed
    on as ``A0SYNC_THREADS``) and one for the work after batches; a few more absorb a
    peak. A request that finds none free waits ``A0SYNC_DB_POOL_TIMEOUT`` seconds,
    then gets a 503 ``server_busy`` with ``Retry-After`` (server.web.outage), not a
    hung phone. Sizes: ``A0SYNC_DB_POOL_SIZE`` (default threads + 1),
    ``A0SYNC_DB_MAX_OVERFLOW`` (2). SQLite keeps SQLAlchemy's own pool."""
    if not url.startswith("postgresql"):
        return {}
    env = os.environ
    threads = int(env.get("A0SYNC_THREADS", 4))
    return {"pool_size": int(env.get("A0SYNC_DB_POOL_SIZE", threads + 1)),
            "max_overflow": int(env.get("A0SYNC_DB_MAX_OVERFLOW", 2)),
            "pool_timeout": float(env.get("A0SYNC_DB_POOL_TIMEOUT", 10))}


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    overrides = overrides or {}
    instance = secure_folder(Path(overrides.get("INSTANCE_PATH") or instance_path()))
    url = overrides.get("SQLALCHEMY_DATABASE_URI") or database_url(instance)
    config: dict[str, Any] = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(instance),
        # seals TOTP secrets; kept apart from the database (server/security/at_rest.py)
        "A0SYNC_TOTP_KEY": totp_key(instance, os.environ.get("A0SYNC_TOTP_KEY")),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "json_serializer": json_dumps,
                                      "json_deserializer": orjson.loads, **pool_options(url)},
        # Sync limits (DESIGN §3); every one can be set through the environment.
        "A0SYNC_MAX_BATCH_BYTES": int(os.environ.get("A0SYNC_MAX_BATCH_BYTES", 8 * 1024 * 1024)),
        "A0SYNC_MAX_CLOCK_AHEAD_S": int(os.environ.get("A0SYNC_MAX_CLOCK_AHEAD_S", 24 * 3600)),
        "A0SYNC_ENROL_CODE_TTL_S": int(os.environ.get("A0SYNC_ENROL_CODE_TTL_S", 24 * 3600)),
    }
    config.update(overrides)
    return config

"""Declarative base, the shared ``db`` object, and database-specific tuning."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import registry as orm_registry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    registry = orm_registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={dict[str, Any]: JSON, dt.datetime: DateTime(timezone=True)},
    )


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on; WAL so the dashboard reads while a batch commits.

    ``synchronous=FULL``: a receipt tells the device it may drop its outbox, so a
    committed batch must survive a power cut too, not only a process crash.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def insert_rows(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows with one Core ``executemany`` per key set.

    Faster than the ORM's bulk insert (no per-row unit-of-work bookkeeping); rows
    with different keys go in separate groups so column defaults still apply.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        session.execute(model.__table__.insert(), group)


def json_dumps(value: Any) -> str:
    """The engine's JSON encoder: orjson, several times faster than ``json``."""
    return orjson.dumps(value).decode()

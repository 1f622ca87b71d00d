"""A connection keeps the statements psycopg prepared on it through the server's
read-only work (issue 19): a rollback makes psycopg forget them all, and the batches
that get the connection next parse and plan every statement again."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from server.models.base import db
from server.sync.runtime import followups_for

pytestmark = pytest.mark.postgres

PROBE = "SELECT count(*) FROM device WHERE id = :id"


def _one_connection_with_a_prepared_statement() -> Any:
    """The pool's only connection, on which psycopg has prepared :data:`PROBE`."""
    db.session.remove()
    db.engine.dispose()
    for _ in range(6):  # psycopg prepares a statement at its fifth run
        db.session.execute(text(PROBE), {"id": "none"})
    raw = db.session.connection().connection.driver_connection
    assert _prepared(raw)
    db.session.commit()  # the connection goes back to the pool
    return raw


def _prepared(raw: Any) -> bool:
    return any(b"device" in key[0] for key in raw._prepared._names)


def test_healthz_leaves_prepared_statements_in_place(postgresql_app: Flask) -> None:
    raw = _one_connection_with_a_prepared_statement()
    assert postgresql_app.test_client().get("/healthz").status_code == 200
    db.session.remove()  # as at the end of a request served on its own (the test's
    # app context is shared with its requests)
    assert db.session.connection().connection.driver_connection is raw  # the same one
    assert _prepared(raw)


def test_an_empty_drain_leaves_prepared_statements_in_place(postgresql_app: Flask) -> None:
    raw = _one_connection_with_a_prepared_statement()
    assert followups_for(postgresql_app).drain(db.engine) == {
        kind: 0 for kind in followups_for(postgresql_app).handlers}
    assert db.session.connection().connection.driver_connection is raw
    assert _prepared(raw)

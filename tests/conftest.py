"""Shared fixtures: the app on a fresh SQLite or PostgreSQL database.

Tests that take ``app`` (or ``db_url``) run twice, once per database. Each test
gets its own database cloned from a template that went through the real Alembic
migrations, so the migrations are tested on every run.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings

from server import MIGRATIONS_DIR, create_app
from server.extensions import db
from tests.support import postgres

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TWO_LEVEL = SHARED_DATA / "admin_units" / "vn_units_2025_two_level.json"
THREE_LEVEL = SHARED_DATA / "admin_units" / "dvhcvn_2025-03-01_three_level.json"

_counter = itertools.count()

# The machine is shared and noisy: property tests judge results, never speed.
settings.register_profile("default", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")


def make_app(url: str, instance: Path, **extra: object) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance),
                       "TESTING": True, **extra})


def _migrate(url: str, instance: Path) -> None:
    app = make_app(url, instance)
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        db.engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    try:
        server = postgres.start()
    except Exception as exc:  # a missing real part fails the run; it never skips
        pytest.fail(f"no PostgreSQL for the tests: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: postgres.PostgresServer,
                tmp_path_factory: pytest.TempPathFactory) -> str:
    name = f"a0_template_{os.getpid()}"
    url = pg_server.create_database(name)
    _migrate(url, tmp_path_factory.mktemp("pg-template"))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite"
    _migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server: postgres.PostgresServer = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    return server.create_database(f"a0_test_{os.getpid()}_{next(_counter)}", template)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from _app_on(db_url, tmp_path)


def _app_on(url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(url, tmp_path / "instance")
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sqlite_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    """The app on SQLite only: for tests that run one database at a time (property tests)."""
    path = tmp_path / "test.sqlite"
    shutil.copy(sqlite_template, path)
    yield from _app_on(f"sqlite:///{path}", tmp_path)


@pytest.fixture
def postgresql_app(pg_server: postgres.PostgresServer, pg_template: str,
                   tmp_path: Path) -> Iterator[Flask]:
    url = pg_server.create_database(f"a0_test_{os.getpid()}_{next(_counter)}", pg_template)
    yield from _app_on(url, tmp_path)


@pytest.fixture
def session(app: Flask):
    return db.session


@pytest.fixture
def client(app: Flask):
    """The app's test client (HTTP without a server)."""
    return app.test_client()


@pytest.fixture
def device(app: Flask):
    """One simulated collaborator device, enrolled for area 12619.01.1."""
    from tests.support.sim import SimDevice

    return SimDevice(app)


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """``a0sync demo --no-serve`` run once, as a user would, on an empty instance folder:
    its database file and the accounts it printed (tests take copies of the file)."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "A0SYNC_INSTANCE": str(folder / "instance")}
    env.pop("DATABASE_URL", None)
    done = subprocess.run([str(Path(sys.executable).with_name("a0sync")), "demo", "--no-serve",
                           "--households", "400"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    accounts = {}
    for line in done.stdout.splitlines():
        if line.startswith("Tài khoản mẫu"):
            username, password = line.split("): ", 1)[1].strip().split(" / ")
            accounts[username] = password
    return {"database": folder / "instance" / "a0sync.sqlite", "accounts": accounts,
            "output": done.stdout}


@pytest.fixture
def demo_app(demo_built: dict[str, object], tmp_path: Path) -> Iterator[Flask]:
    """The app on a copy of the demo's database."""
    path = tmp_path / "demo.sqlite"
    shutil.copy(demo_built["database"], path)  # type: ignore[arg-type]
    yield from _app_on(f"sqlite:///{path}", tmp_path)

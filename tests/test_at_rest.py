"""Data at rest (issue 18, item 2; issue 19's start-up race): the instance folder and the
SQLite files are owner-only from creation, secrets are written whole and agreed on by
processes starting together, TOTP secrets are sealed under a key outside the database."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import stat
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from server import MIGRATIONS_DIR
from server.extensions import db
from server.security import login as login_flow
from server.security.keys import keystore_for
from server.security.totp import box_for
from server.security.users import create_user
from tests.conftest import make_app
from tests.support.web import PASSWORD


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """What a careless service manager leaves: files readable by every local user."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_fresh_instance_is_private_from_creation(tmp_path: Path, open_umask) -> None:
    instance = tmp_path / "instance"
    database = instance / "a0sync.sqlite"
    app = make_app(f"sqlite:///{database}", instance)
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        keystore_for(app).current()
        with db.engine.connect() as conn:  # the WAL and its index exist while connected
            conn.execute(text("CREATE TABLE probe (x)"))
            conn.commit()
            side = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm")]
            assert all(p.exists() for p in side)
            assert {p.name: mode(p) for p in side} == {p.name: 0o600 for p in side}
        db.engine.dispose()
    assert mode(instance) == 0o700
    assert mode(database) == 0o600
    for name in ("secret_key", "totp_key"):
        assert mode(instance / name) == 0o600, name
    assert mode(instance / "keys") == 0o700


def _read_secret(instance: str, barrier, out) -> None:
    from server.config import load

    barrier.wait()
    out.put(load({"INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": "sqlite://"})[
        "SECRET_KEY"])


def test_five_processes_starting_at_once_agree_on_one_secret_key(tmp_path: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.delenv("A0SYNC_SECRET_KEY", raising=False)
    context = multiprocessing.get_context("fork")
    for attempt in range(40):  # the old code lost about one round in six
        instance = tmp_path / f"instance-{attempt}"
        barrier, out = context.Barrier(5), context.Queue()
        workers = [context.Process(target=_read_secret, args=(str(instance), barrier, out))
                   for _ in range(5)]
        for worker in workers:
            worker.start()
        keys = [out.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(60)
        on_disk = (instance / "secret_key").read_text().strip()
        assert len(on_disk) == 64 and keys == [on_disk] * 5, (attempt, keys)


def test_totp_secrets_are_sealed_apart_from_the_database(app: Flask) -> None:
    session = db.session
    lan = create_user(session, "lan.tran", "Trần Thị Lan", PASSWORD, "admin", None)
    hoa = create_user(session, "hoa.le", "Lê Thị Hoa", PASSWORD, "admin", None)
    session.commit()
    secret, box = pyotp.random_base32(), box_for(app.config)
    now = dt.datetime.now(dt.UTC)
    login_flow.enable_totp(session, lan, secret, pyotp.TOTP(secret).at(now), box)
    session.commit()
    stored = session.execute(text("SELECT totp_secret FROM user_account WHERE id = :id"),
                             {"id": lan.id}).scalar_one()
    assert stored.startswith("v1.") and secret not in stored
    started = now - dt.timedelta(seconds=5)
    user = login_flow.check_totp(session, lan.id, pyotp.TOTP(secret).at(now), "10.0.0.1",
                                 started, box, now=now)
    assert user.id == lan.id
    session.commit()
    # copied to another account, or opened under another installation's key: no code works
    hoa.totp_secret = stored
    session.commit()
    later = now + dt.timedelta(minutes=1)
    with pytest.raises(login_flow.A0Error, match="totp_invalid"):
        login_flow.check_totp(session, hoa.id, pyotp.TOTP(secret).at(later), "10.0.0.1",
                              later, box, now=later)
    session.rollback()
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], Path(app.instance_path) / "other")
    with pytest.raises(ValueError):
        box_for(other.config).open(stored, lan.id)


def test_the_migration_seals_clear_secrets(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'old.sqlite'}", tmp_path / "instance")
    secret = pyotp.random_base32()
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="0013")
        db.session.execute(text(
            "INSERT INTO user_account (username, full_name, password_hash, role, totp_secret, "
            "person_access, active, failed_logins, created_at) VALUES ('lan', 'Lan', 'x', "
            "'admin', :secret, 0, 1, 0, '2026-01-01')"), {"secret": secret})
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR, revision="heads")
        user_id, stored = db.session.execute(text(
            "SELECT id, totp_secret FROM user_account")).one()
        assert stored.startswith("v1.") and box_for(app.config).open(stored, user_id) == secret
        db.session.remove()
        db.engine.dispose()

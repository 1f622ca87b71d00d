"""The database going away: coded 503s with Retry-After, one log line, and a device
that backs off and gets its batch in once the database is back (issue 19).

The app talks to PostgreSQL through a TCP relay the test can cut (every
connection dropped, new ones refused) and restore: what a PostgreSQL restart or a
network cut looks like from the server.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from a0core.sync_client import HttpResponse, RetryPolicy, SyncClient
from server.extensions import db
from server.models.sync import SyncOp
from tests.conftest import make_app
from tests.support.register import household, new_id
from tests.support.sim import SimDevice


class Relay:
    """Forwards a local port to PostgreSQL until cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()  # refused, as by a server that is down
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            for s in self.open:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.open.clear()

    def restore(self) -> None:
        self.up.set()


@contextmanager
def _through_relay(pg_server, pg_template, tmp_path, name: str) -> Iterator[tuple]:
    """A fresh database, and an app whose connections to it go through a :class:`Relay`
    the test can cut: ``(relay, the database's own URL, app)``, inside the app's
    context."""
    url = pg_server.create_database(f"a0_{name}_{os.getpid()}", pg_template)
    parts = urlsplit(url)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    relayed = url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    app = make_app(relayed, tmp_path / "instance")
    try:
        with app.app_context():
            yield relay, url, app
            db.session.remove()
            db.engine.dispose()
    finally:
        relay.cut()
        relay.listener.close()


def _transport(client):
    def send(method, url, headers, body, timeout):
        path = url.split("://", 1)[1].split("/", 1)[1]
        resp = client.open("/" + path, method=method, headers=dict(headers), data=body)
        return HttpResponse(resp.status_code, dict(resp.headers), resp.get_data())
    return send


def test_database_away_gives_coded_503s_and_the_device_backs_off(
        pg_server, pg_template, tmp_path, caplog):
    with _through_relay(pg_server, pg_template, tmp_path, "outage") as (relay, _, app):
        device = SimDevice(app, area="12619.01.1")
        client = app.test_client()
        app.testing = False  # errors are answered as in production, not raised
        assert client.get("/healthz").get_json()["database"] == "ok"

        caplog.set_level(logging.INFO)
        relay.cut()
        answers = [client.get("/healthz") for _ in range(15)]
        assert {a.status_code for a in answers} == {503}
        assert {a.get_json()["error"]["code"] for a in answers} == {"database_unavailable"}
        assert {a.headers["Retry-After"] for a in answers} == {"15"}
        client.get("/login")  # needs no database: does not end the incident

        # the device: its batch is refused with 503s, it waits (at least Retry-After,
        # with jitter), the database comes back, and the batch arrives exactly once
        sleeps: list[float] = []
        statuses: list[int] = []
        raw = _transport(client)

        def transport(*args):
            answer = raw(*args)
            statuses.append(answer.status)
            return answer

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 2:
                relay.restore()

        sync = SyncClient("https://a0sync.example.vn", device.id, device.keys,
                          device.server_key, transport=transport,
                          retry=RetryPolicy(attempts=5, base_delay=1.0, max_delay=60.0,
                                            sleep=sleep, rng=random.Random(5)))
        device.upsert("household", new_id(), household(device.area))
        receipt = sync.send_batch(device.seal())
        assert statuses == [503, 503, 200]
        assert all(s >= 15 for s in sleeps)
        assert receipt["verdicts"][0]["verdict"] == "applied"
        assert db.session.scalar(select(func.count()).select_from(SyncOp)) == 1
        assert client.get("/healthz").status_code == 200

        # the log: one line when it started, one when it ended; no tracebacks
        said = [r for r in caplog.records if r.name == "a0sync.database"]
        assert [r.getMessage().split(" (")[0].split(" after")[0] for r in said] == [
            "database unreachable", "database back"], [r.getMessage() for r in said]
        assert not [r for r in caplog.records if r.exc_info]


def test_follow_up_work_waits_for_the_database_without_counting_a_failure(
        pg_server, pg_template, tmp_path, caplog):
    """The database going away in the middle of the work after a batch: its rows stay
    queued with no attempt counted (else a few restarts would set them aside for an
    administrator), the log says so once however often the drain tries, with no
    traceback, and the work is done once the database is back."""
    from server.models.sync import FollowUp
    from server.sync.runtime import followups_for

    with _through_relay(pg_server, pg_template, tmp_path, "outage_followups") as (
            relay, _, app):
        queue = followups_for(app)
        real = dict(queue.handlers)

        def cut_first(kind):
            def handler(session, rows):
                relay.cut()  # the database goes away as the work starts
                real[kind](session, rows)
            return handler

        for kind in real:
            queue.handle(kind, cut_first(kind))
        caplog.set_level(logging.INFO)
        device = SimDevice(app, area="12619.01.1")
        hh = new_id()
        device.upsert("household", hh, household(device.area))
        body = device.send(app.test_client(), device.seal())  # the drain follows the commit
        assert body["receipt"]["verdicts"][0]["verdict"] == "applied"
        for _ in range(3):  # the drain tries again while the database is away
            assert sum(queue.drain(db.engine).values()) == 0
        relay.restore()
        db.session.remove()
        queued = db.session.execute(select(FollowUp.kind, FollowUp.attempts)).all()
        assert queued and {attempts for _, attempts in queued} == {0}
        for kind, handler in real.items():
            queue.handle(kind, handler)
        assert sum(queue.drain(db.engine).values()) == len(queued)
        assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 0

        said = [r.getMessage() for r in caplog.records if r.name == "a0sync.followups"]
        assert [m.split(" (")[0].split(":")[0] for m in said] == [
            "follow-up work waits for the database", "follow-up work goes on"], said
        assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("how", ["cut", "terminated"])
def test_a_connection_lost_in_a_batchs_last_round_trip(pg_server, pg_template, tmp_path,
                                                       caplog, monkeypatch, how):
    """The database going away while a batch's settle step, checks and COMMIT are on
    their way (one round trip, outside SQLAlchemy's own statements) — the network cut,
    or the server ending the connection as a restart does: the device is answered 503,
    the connection is dropped from the pool without a traceback in the log, and the
    batch sent again is stored once."""
    import psycopg

    from server.sync import ingest

    real, cuts = ingest.commit, []

    def cut_then_commit(session):
        if not cuts:
            cuts.append(1)
            if how == "cut":
                relay.cut()
            else:  # as `pg_ctl restart -m fast` does to every session
                pid = session.connection().connection.driver_connection.info.backend_pid
                plain = url.replace("postgresql+psycopg:", "postgresql:", 1)
                with psycopg.connect(plain, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return real(session)

    monkeypatch.setattr(ingest, "commit", cut_then_commit)
    with _through_relay(pg_server, pg_template, tmp_path, "outage_commit") as (
            relay, url, app):
        device = SimDevice(app, area="12619.01.1")
        client = app.test_client()
        app.testing = False
        caplog.set_level(logging.INFO)
        device.upsert("household", new_id(), household(device.area))
        envelope = device.seal()
        refused = client.post("/api/v1/sync/batches", data=envelope,
                              headers={"Content-Type": "application/json"})
        assert refused.status_code == 503 and cuts == [1]
        assert refused.get_json()["error"]["code"] == "database_unavailable"
        relay.restore()
        body = device.send(client, envelope)
        assert body["receipt"]["verdicts"][0]["verdict"] == "applied", body
        db.session.remove()
        assert db.session.scalar(select(func.count()).select_from(SyncOp)) == 1
        assert not [r for r in caplog.records if r.exc_info], [
            r.getMessage() for r in caplog.records if r.exc_info]
        # the incident logged once by the server, not a line per request from psycopg
        assert not [r for r in caplog.records if r.name == "psycopg"], [
            r.getMessage() for r in caplog.records if r.name == "psycopg"]

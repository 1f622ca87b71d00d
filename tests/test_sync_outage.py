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
from contextlib import suppress

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


def _transport(client):
    def send(method, url, headers, body, timeout):
        path = url.split("://", 1)[1].split("/", 1)[1]
        resp = client.open("/" + path, method=method, headers=dict(headers), data=body)
        return HttpResponse(resp.status_code, dict(resp.headers), resp.get_data())
    return send


def test_database_away_gives_coded_503s_and_the_device_backs_off(
        pg_server, pg_template, tmp_path, caplog):
    from urllib.parse import urlsplit

    url = pg_server.create_database(f"a0_outage_{os.getpid()}", pg_template)
    parts = urlsplit(url)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    relayed = url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    app = make_app(relayed, tmp_path / "instance")
    with app.app_context():
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
        db.session.remove()
        db.engine.dispose()
    relay.cut()
    relay.listener.close()

"""The app's local SQLite store, every record encrypted at rest (see :mod:`.crypto`).

What stays in clear, and why it is not sensitive: random UUIDs (entity ids, the
household a member belongs to, batch ids), outbox sequence numbers and states,
the pull cursor, the HLC and the key-derivation salt. Names, dates, codes,
addresses, the device's private keys and the server profile are sealed.

One writer at a time: the UI thread and the sync thread share one connection
behind a lock, and every unit of work runs in one transaction
(:meth:`Store.transaction`), so a crash leaves either all of a change (register
row + outbox operation + sequence counter) or none of it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from a0core.errors import A0Error
from clients.kivy_app.core.crypto import KdfParams, RecordCipher, check_pin, derive_key

VERIFIER = "a0sync-app-store-v1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, clear TEXT, sealed BLOB);
CREATE TABLE IF NOT EXISTS entities (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, household_id TEXT, blob BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entities_household ON entities (household_id);
CREATE TABLE IF NOT EXISTS facts (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, household_id TEXT, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, entity_id TEXT NOT NULL, state TEXT NOT NULL,
    batch_id TEXT, blob BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state);
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (old_id TEXT PRIMARY KEY, survivor_id TEXT NOT NULL);
"""


class Store:
    """An opened (unlocked) store. Use :meth:`create` or :meth:`open`."""

    def __init__(self, conn: sqlite3.Connection, cipher: RecordCipher) -> None:
        self.conn = conn
        self.cipher = cipher
        self.lock = threading.RLock()
        self._depth = 0

    # ------------------------------------------------------------ open/create

    @staticmethod
    def exists(path: Path) -> bool:
        if not Path(path).exists():
            return False
        conn = sqlite3.connect(path)
        try:
            row = conn.execute("SELECT clear FROM meta WHERE key='kdf'").fetchone()
        except sqlite3.DatabaseError:
            return False
        finally:
            conn.close()
        return row is not None

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        return conn

    @classmethod
    def create(cls, path: Path, pin: str, *, kdf_n: int = 2 ** 15) -> Store:
        """A new, empty store under a new PIN (refuses to overwrite one)."""
        check_pin(pin)
        if cls.exists(path):
            raise FileExistsError(path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        params = KdfParams.fresh(kdf_n)
        store = cls(cls._connect(path), RecordCipher(derive_key(pin, params)))
        with store.transaction():
            store.put_clear("kdf", params.to_dict())
            store.put_sealed("verifier", VERIFIER)
        return store

    @classmethod
    def open(cls, path: Path, pin: str) -> Store:
        """Unlock an existing store; a wrong PIN raises ``app_pin_wrong`` and reads nothing."""
        conn = cls._connect(path)
        row = conn.execute("SELECT clear FROM meta WHERE key='kdf'").fetchone()
        if row is None:
            conn.close()
            raise A0Error("app_store_damaged")
        params = KdfParams.from_dict(json.loads(row[0]))
        store = cls(conn, RecordCipher(derive_key(str(pin), params)))
        try:
            ok = store.get_sealed("verifier") == VERIFIER
        except A0Error:
            ok = False
        if not ok:
            conn.close()
            raise A0Error("app_pin_wrong")
        return store

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work; nested calls join the outer transaction."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    # ------------------------------------------------------------------ meta

    def put_clear(self, key: str, value: Any) -> None:
        with self.lock:
            self.conn.execute("INSERT INTO meta (key, clear) VALUES (?, ?) ON CONFLICT(key) "
                              "DO UPDATE SET clear=excluded.clear",
                              (key, json.dumps(value)))

    def get_clear(self, key: str, default: Any = None) -> Any:
        with self.lock:
            row = self.conn.execute("SELECT clear FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None or row[0] is None else json.loads(row[0])

    def put_sealed(self, key: str, value: Any) -> None:
        blob = self.cipher.seal(f"meta:{key}", value)
        with self.lock:
            self.conn.execute("INSERT INTO meta (key, sealed) VALUES (?, ?) ON CONFLICT(key) "
                              "DO UPDATE SET sealed=excluded.sealed", (key, blob))

    def get_sealed(self, key: str, default: Any = None) -> Any:
        with self.lock:
            row = self.conn.execute("SELECT sealed FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None or row[0] is None else self.cipher.open(f"meta:{key}",
                                                                                  row[0])

    # -------------------------------------------------------------- entities

    def put_entity(self, kind: str, id_: str, household_id: str | None,
                   value: dict[str, Any]) -> None:
        blob = self.cipher.seal(f"entity:{id_}", value)
        with self.lock:
            self.conn.execute(
                "INSERT INTO entities (id, kind, household_id, blob) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, "
                "household_id=excluded.household_id, blob=excluded.blob",
                (id_, kind, household_id, blob))

    def entities(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every (kind, id, value): the app keeps its register in memory once unlocked."""
        with self.lock:
            rows = self.conn.execute("SELECT kind, id, blob FROM entities").fetchall()
        values = self.cipher.open_many([(f"entity:{id_}", blob) for _kind, id_, blob in rows])
        for (kind, id_, _blob), value in zip(rows, values, strict=True):
            yield kind, id_, value

    def put_fact(self, kind: str, id_: str, household_id: str | None,
                 value: dict[str, Any]) -> None:
        blob = self.cipher.seal(f"fact:{id_}", value)
        with self.lock:
            self.conn.execute(
                "INSERT INTO facts (id, kind, household_id, blob) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, "
                "household_id=excluded.household_id, blob=excluded.blob",
                (id_, kind, household_id, blob))

    def facts(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        with self.lock:
            rows = self.conn.execute("SELECT kind, id, blob FROM facts").fetchall()
        values = self.cipher.open_many([(f"fact:{id_}", blob) for _kind, id_, blob in rows])
        for (kind, id_, _blob), value in zip(rows, values, strict=True):
            yield kind, id_, value

    # ---------------------------------------------------------------- outbox

    def put_outbox(self, seq: int, entity_id: str, state: str, batch_id: str | None,
                   value: dict[str, Any]) -> None:
        blob = self.cipher.seal(f"outbox:{seq}", value)
        with self.lock:
            self.conn.execute(
                "INSERT INTO outbox (seq, entity_id, state, batch_id, blob) VALUES (?,?,?,?,?) "
                "ON CONFLICT(seq) DO UPDATE SET state=excluded.state, "
                "batch_id=excluded.batch_id, blob=excluded.blob",
                (seq, entity_id, state, batch_id, blob))

    def outbox(self, states: tuple[str, ...] | None = None, limit: int | None = None,
               newest_first: bool = False) -> list[tuple[int, str, str | None, dict[str, Any]]]:
        """(seq, state, batch_id, value) rows, by sequence."""
        sql = "SELECT seq, state, batch_id, blob FROM outbox"
        args: list[Any] = []
        if states is not None:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += list(states)
        sql += " ORDER BY seq" + (" DESC" if newest_first else "")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self.lock:
            rows = self.conn.execute(sql, args).fetchall()
        return [(seq, state, batch, self.cipher.open(f"outbox:{seq}", blob))
                for seq, state, batch, blob in rows]

    def states_of(self, entity_ids: list[str]) -> dict[str, str]:
        """The state of the newest operation on each record (only clear columns read)."""
        out: dict[str, str] = {}
        with self.lock:
            for start in range(0, len(entity_ids), 500):
                chunk = entity_ids[start:start + 500]
                out.update(self.conn.execute(
                    f"SELECT entity_id, state FROM outbox WHERE entity_id IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY seq", chunk).fetchall())
        return out
    def outbox_row(self, seq: int) -> dict[str, Any] | None:
        """One operation's value (op and verdict) with its ``seq`` and ``state``."""
        with self.lock:
            found = self.conn.execute("SELECT state, blob FROM outbox WHERE seq = ?",
                                      (seq,)).fetchone()
        if found is None:
            return None
        return {"seq": seq, "state": found[0], **self.cipher.open(f"outbox:{seq}", found[1])}

    def outbox_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.conn.execute(
                "SELECT state, count(*) FROM outbox GROUP BY state").fetchall())

    # --------------------------------------------------------------- notices

    def add_notice(self, key: str, value: dict[str, Any]) -> bool:
        """A message for the collaborator; ``key`` makes repeats (re-pulled pages) no-ops."""
        with self.lock:
            cur = self.conn.execute("INSERT OR IGNORE INTO notices (key, blob) VALUES (?, ?)",
                                    (key, self.cipher.seal(f"notice:{key}", value)))
            return cur.rowcount == 1

    def notices(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT key, blob FROM notices ORDER BY id DESC LIMIT ?",
                                     (limit,)).fetchall()
        return [self.cipher.open(f"notice:{key}", blob) for key, blob in rows]

    # --------------------------------------------------------------- aliases

    def put_alias(self, old_id: str, survivor_id: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)",
                              (old_id, survivor_id))

    def aliases(self) -> dict[str, str]:
        with self.lock:
            return dict(self.conn.execute("SELECT old_id, survivor_id FROM aliases").fetchall())

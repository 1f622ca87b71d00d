"""The server's key pairs, one file per key id in ``<instance>/keys/`` (docs/protocol.md).

Each key id holds an X25519 pair (devices seal batches to it) and an Ed25519 pair
(the server signs receipts and pull pages). ``CURRENT`` names the key devices
should use; older keys stay so that batches sealed under them, possibly carried
by hand for weeks, still open after a rotation.

Files are written whole and then linked or renamed into place, so a reader never
sees half a key, and several gunicorn workers starting on an empty folder agree
on a single first key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from a0core.envelope import (
    KID_RE,
    ServerPublicKey,
    ed25519_private,
    private_b64,
    public_b64,
    x25519_private,
)
from a0core.errors import A0Error

CURRENT_FILE = "CURRENT"
KEY_FILE_VERSION = 1


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # orders rotations


@dataclass(frozen=True, eq=False)
class ServerKey:
    """One server key id with both private keys; ``repr`` never shows them."""

    kid: str
    created: str
    sign_private: Ed25519PrivateKey = field(repr=False)
    box_private: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> ServerKey:
        # date first so that key ids sort by age in a listing; random part for uniqueness
        kid = dt.datetime.now(dt.UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(4)
        return cls(kid, _now_text(), Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    def public(self) -> ServerPublicKey:
        return ServerPublicKey(self.kid, public_b64(self.box_private.public_key()),
                               public_b64(self.sign_private.public_key()))

    def to_dict(self) -> dict[str, Any]:
        return {"v": KEY_FILE_VERSION, "kid": self.kid, "created": self.created,
                "sign_private_key": private_b64(self.sign_private),
                "box_private_key": private_b64(self.box_private),
                **{k: v for k, v in self.public().to_dict().items() if k != "kid"}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerKey:
        key = cls(data["kid"], data["created"], ed25519_private(data["sign_private_key"]),
                  x25519_private(data["box_private_key"]))
        public = key.public()
        if (public.sign_public_key, public.box_public_key) != (
                data.get("sign_public_key", public.sign_public_key),
                data.get("box_public_key", public.box_public_key)):
            raise ValueError(f"key file {key.kid}: public keys do not match the private ones")
        return key


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    created: str
    current: bool


class KeyStore:
    """Server keys in ``<instance>/keys``; safe to share between processes.

    Keys never change once written, so each process caches them; ``CURRENT`` is
    re-read on every :meth:`current` call so a rotation made by the command line
    reaches running workers at once.
    """

    def __init__(self, instance_path: str | os.PathLike[str]) -> None:
        self.folder = Path(instance_path) / "keys"
        self._cache: dict[str, ServerKey] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- reading

    def get(self, kid: str) -> ServerKey:
        """The key ``kid``, or ``key_unknown``. ``kid`` may come from a stranger's header."""
        if not isinstance(kid, str) or not KID_RE.match(kid):
            raise A0Error("key_unknown", kid="?")
        cached = self._cache.get(kid)
        if cached is not None:
            return cached
        try:
            text = (self.folder / f"{kid}.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            raise A0Error("key_unknown", kid=kid) from None
        key = ServerKey.from_dict(json.loads(text))
        if key.kid != kid:
            raise ValueError(f"key file {kid}.json holds key {key.kid}")
        self._cache[kid] = key
        return key

    def current(self) -> ServerKey:
        """The key devices should seal to; the first call on an empty folder creates it."""
        kid = self._read_current()
        if kid is None:
            kid = self._create_first()
        return self.get(kid)

    def public(self, kid: str | None = None) -> ServerPublicKey:
        return (self.current() if kid is None else self.get(kid)).public()

    # ---------------------------------------------------------------- writing

    def rotate(self) -> ServerKey:
        """Make a new key current; old keys stay so that old batches still open."""
        self.current()  # a store is never rotated before it has a first key
        key = self._write_new_key()
        tmp = self._write_tmp(key.kid + "\n")
        os.replace(tmp, self.folder / CURRENT_FILE)
        self._sync_folder()
        return key

    def list(self) -> list[KeyInfo]:
        """Every key, oldest first, marking the current one."""
        current = self.current().kid
        return [KeyInfo(k.kid, k.created, k.kid == current) for k in self._existing_keys()]

    # ---------------------------------------------------------------- internals

    def _existing_keys(self) -> list[ServerKey]:
        """Keys on disk, oldest first; one removed meanwhile by a losing worker is skipped."""
        keys = []
        for path in self.folder.glob("*.json"):
            if KID_RE.match(path.stem):
                with contextlib.suppress(A0Error):
                    keys.append(self.get(path.stem))
        keys.sort(key=lambda k: (k.created, k.kid))
        return keys

    def _read_current(self) -> str | None:
        try:
            kid = (self.folder / CURRENT_FILE).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not KID_RE.match(kid):
            raise ValueError(f"{self.folder / CURRENT_FILE} does not name a key")
        return kid

    def _ensure_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)

    def _write_tmp(self, text: str) -> Path:
        """A fully written, fsynced, owner-only file with a unique name in the folder."""
        self._ensure_folder()
        path = self.folder / f".tmp-{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return path

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_new_key(self) -> ServerKey:
        key = ServerKey.generate()
        tmp = self._write_tmp(json.dumps(key.to_dict(), indent=2) + "\n")
        try:
            os.link(tmp, self.folder / f"{key.kid}.json")  # never overwrites a key
        finally:
            tmp.unlink()
        self._cache[key.kid] = key
        return key

    def _create_first(self) -> str:
        """Create and publish a first key; when workers race, one wins and all use it.

        A key file left by a crash before ``CURRENT`` was written is promoted
        rather than replaced: it was never published, so any of them is as good.
        """
        with self._lock:
            self._ensure_folder()
            existing = self._existing_keys()
            candidate = existing[-1] if existing else self._write_new_key()
            mine = None if existing else candidate
            tmp = self._write_tmp(candidate.kid + "\n")
            try:
                os.link(tmp, self.folder / CURRENT_FILE)
            except FileExistsError:  # another process published first: use its key
                # drop the key made here unless the winner promoted it (never published)
                if mine is not None and self._read_current() != mine.kid:
                    with contextlib.suppress(FileNotFoundError):
                        (self.folder / f"{mine.kid}.json").unlink()
                    self._cache.pop(mine.kid, None)
            finally:
                tmp.unlink()
            self._sync_folder()
        kid = self._read_current()
        if kid is None:
            raise RuntimeError(f"{self.folder / CURRENT_FILE} vanished while being created")
        return kid


def keystore_for(app: Any) -> KeyStore:
    """The application's key store (one per app; Flask-free for the domain code)."""
    store = app.extensions.get("a0sync_keys")
    if store is None:
        store = app.extensions["a0sync_keys"] = KeyStore(
            app.config.get("INSTANCE_PATH") or app.instance_path)
    return store

"""What the server keeps on its own disk, kept from other local users (docs/deploy.md).

* The instance folder is ``0700``; the SQLite database and its side files (``-wal``,
  ``-shm``, ``-journal``, which SQLite creates with the database's own mode) are
  ``0600`` from the moment they exist: the file is made owner-only before SQLite
  first opens it, never restricted after.
* Secrets (the session key, the TOTP key) are created once per installation,
  written whole to a private temporary file and then linked into place, under a
  lock: several gunicorn workers starting on an empty folder all read the one
  secret that won, never a half-written or empty file.
* TOTP secrets are sealed (AES-256-GCM) under a key that lives in the instance
  folder or the environment, never in the database: a copy of the database or a
  backup of it does not let anyone make a user's codes. Each sealed secret is
  bound to its user's id.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
LOCK_FILE = ".secrets.lock"
TOTP_KEY_FILE = "totp_key"
SEALED_PREFIX = "v1."


def secure_folder(path: Path) -> Path:
    """Create ``path`` (and its parents) owner-only, and make an existing one so."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != FOLDER_MODE:
        path.chmod(FOLDER_MODE)
    return path


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole: a private temporary file, fsynced, renamed."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of the secret file ``path``; the first caller of any process creates it.

    An empty file (left by an older version that wrote in place) counts as missing.
    """
    folder = secure_folder(path.parent)
    with _folder_lock(folder):
        with contextlib.suppress(FileNotFoundError):
            data = path.read_bytes()
            if data.strip():
                if path.stat().st_mode & 0o777 != FILE_MODE:
                    path.chmod(FILE_MODE)
                return data
        data = make()
        write_private(path, data)
        return data


# --------------------------------------------------------------------- SQLite


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (``None`` for other databases and memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database \
            or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def protect_sqlite(url: str) -> None:
    """Make the SQLite database file owner-only before SQLite creates or opens it."""
    path = sqlite_file(url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if candidate.stat().st_mode & 0o777 != FILE_MODE:
                candidate.chmod(FILE_MODE)


# ----------------------------------------------------------------------- TOTP


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def totp_key(instance: Path, configured: str | None = None) -> bytes:
    """The 32-byte TOTP key: ``A0SYNC_TOTP_KEY`` (base64url) if given, else the
    instance folder's ``totp_key`` (created once)."""
    if configured:
        key = _unb64(configured.strip())
    else:
        key = _unb64(read_or_create(instance / TOTP_KEY_FILE,
                                    lambda: _b64(AESGCM.generate_key(256)).encode()).decode())
    if len(key) != 32:
        raise ValueError("the TOTP key must be 32 bytes (base64url)")
    return key


class SecretBox:
    """Seals short secrets (TOTP) for one database row: ``v1.<nonce + ciphertext>``."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def _context(user_id: int) -> bytes:
        return f"a0sync/totp/user:{user_id}".encode()

    def seal(self, secret: str, user_id: int) -> str:
        nonce = os.urandom(12)
        return SEALED_PREFIX + _b64(nonce + self._aead.encrypt(
            nonce, secret.encode("utf-8"), self._context(user_id)))

    def open(self, stored: str, user_id: int) -> str:
        """The secret; ``ValueError`` for a value sealed for another user or key."""
        if not stored.startswith(SEALED_PREFIX):
            raise ValueError("not a sealed secret")
        raw = _unb64(stored[len(SEALED_PREFIX):])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], self._context(user_id)).decode()
        except InvalidTag:
            raise ValueError("sealed for another user or under another key") from None

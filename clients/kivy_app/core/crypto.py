"""The key that protects the app's local store, derived from the collaborator's PIN.

Choice (DESIGN §6, Law 91/2025 on sensitive personal data): **scrypt** from
``cryptography`` (N = 2¹⁵, r = 8, p = 1: 32 MiB, about 0.1 s on a laptop and well
under a second on a cheap phone), because ``cryptography`` is already needed for the
sync envelopes and has a python-for-android recipe, whereas Argon2 would add a
second native library to the Android build. The parameters and the random 16-byte
salt are stored in clear beside the data, so they can be raised later.

Each record is encrypted on its own with **AES-256-GCM** under the derived key,
with a fresh 12-byte nonce and the record's table and id as associated data: a
ciphertext moved to another row does not open. Only ids (random UUIDs), sequence
numbers and sync states stay in clear — never a name, a date or a code.

A 6-digit PIN is weak against someone who copies the file and guesses offline;
scrypt makes each guess cost, and the phone's own lock and full-disk encryption
are the outer layers. That is the threat this layer is for: a lost phone whose
app data is read without the PIN.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from a0core.errors import A0Error

PIN_MIN_LENGTH = 6
PIN_MAX_LENGTH = 12
NONCE_BYTES = 12


@dataclass(frozen=True)
class KdfParams:
    salt: bytes
    n: int = 2 ** 15
    r: int = 8
    p: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"kdf": "scrypt", "salt": self.salt.hex(), "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> KdfParams:
        if raw.get("kdf") != "scrypt":
            raise A0Error("app_store_damaged")
        return cls(bytes.fromhex(raw["salt"]), int(raw["n"]), int(raw["r"]), int(raw["p"]))

    @classmethod
    def fresh(cls, n: int = 2 ** 15) -> KdfParams:
        return cls(os.urandom(16), n=n)


def check_pin(pin: str) -> str:
    """A PIN is 6 to 12 digits (easy to type with one thumb, hard enough to guess)."""
    if not (isinstance(pin, str) and pin.isdigit() and pin.isascii()
            and PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH):
        raise A0Error("app_pin_weak", min_length=PIN_MIN_LENGTH, max_length=PIN_MAX_LENGTH)
    return pin


def derive_key(pin: str, params: KdfParams) -> bytes:
    kdf = Scrypt(salt=params.salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(pin.encode("utf-8"))


class RecordCipher:
    """Seal and open one record (a JSON value) bound to where it is stored."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, where: str, value: Any) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return nonce + self._aead.encrypt(nonce, plain, where.encode("utf-8"))

    def open(self, where: str, blob: bytes) -> Any:
        return json.loads(self._plain(where, blob).decode("utf-8"))

    def open_many(self, sealed: list[tuple[str, bytes]]) -> list[Any]:
        """Open many records at once (the register at unlock): each is decrypted and
        authenticated on its own, then all are decoded as one JSON array, which takes
        half the time of decoding them one by one."""
        plains = [self._plain(where, blob) for where, blob in sealed]
        try:
            values = json.loads(b"[" + b",".join(plains) + b"]") if plains else []
        except ValueError:
            raise A0Error("app_store_damaged") from None
        if len(values) != len(plains):  # each record is one JSON value, sealed as such
            raise A0Error("app_store_damaged")
        return values

    def _plain(self, where: str, blob: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                      where.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise A0Error("app_store_damaged") from None

"""Password hashing for web users: argon2id (DESIGN §6). No Flask.

Parameters are argon2-cffi's defaults, the RFC 9106 "low memory" profile
(argon2id, t=3, 64 MiB, p=4); a hash made with older or weaker parameters is
re-made at the next successful login (:func:`needs_rehash`).

Passwords are NFC-normalised first, so the same Vietnamese password typed on a
keyboard that composes diacritics and on one that does not is the same
password. Length is counted after normalisation: at least
:data:`MIN_LENGTH` characters (a passphrase beats a complicated short word), at
most :data:`MAX_LENGTH` so a huge input cannot be used to burn server time.
"""

from __future__ import annotations

import secrets
import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from a0core.errors import A0Error

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def check_strength(password: object) -> str:
    """The normalised password, or ``password_weak``."""
    if not isinstance(password, str):
        raise A0Error("password_weak", min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    normalised = _normalise(password)
    if not MIN_LENGTH <= len(normalised) <= MAX_LENGTH or not normalised.strip():
        raise A0Error("password_weak", min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    return normalised


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string with its own salt and parameters)."""
    return _hasher.hash(check_strength(password))


def rehash(password: str) -> str:
    """A fresh hash of a password that just verified, whatever today's length rule says."""
    return _hasher.hash(_normalise(password))


def verify_password(password_hash: str, password: object) -> bool:
    """Does ``password`` match? Never raises for a wrong or malformed input."""
    if not isinstance(password, str) or len(password) > 4 * MAX_LENGTH:
        password = ""  # still do the work: the answer must not come faster
    try:
        return _hasher.verify(password_hash, _normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@cache
def dummy_hash() -> str:
    """A hash no password matches, verified for unknown users to spend the same time."""
    return _hasher.hash(secrets.token_urlsafe(32))


def burn() -> None:
    """Do the work of one verification and throw the answer away."""
    verify_password(dummy_hash(), "")

"""Sealed envelopes, signed receipts and signed requests (docs/protocol.md).

A batch of operations travels as a sealed envelope that anyone may carry (HTTPS,
USB stick, messaging app) but only the server can read and only the enrolled
device can have produced (DESIGN §3.2-3.3). Pull pages travel the other way in the
same construction, sealed to the device and signed by the server.

Pure Python on top of ``cryptography``: the app ships this module on Android and
the server opens with it, so both sides share one definition of every byte.

Opening is staged so the server can look things up between stages: the clear
header names the device (whose key checks the signature) and the server key id
(whose private key decrypts). Every refusal is an :class:`A0Error` with a code
from ``schemas/protocol/errors.json``; arbitrary input never raises anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from a0core.errors import A0Error

try:  # a C encoder several times faster than json; optional so the app runs without it
    import orjson
except ImportError:  # pragma: no cover - installed wherever the server runs
    orjson = None  # type: ignore[assignment]

PROTOCOL_VERSION = 1
AEAD = "AES-256-GCM"
NONCE_BYTES = 12
KEY_BYTES = 32
SIGNATURE_BYTES = 64
TAG_BYTES = 16
DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # the server's A0SYNC_MAX_BATCH_BYTES default
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024  # decompressed body: the zip-bomb guard
MAX_INT64 = (1 << 63) - 1  # sequence numbers and stamps go into BIGINT columns

ENVELOPE_KEYS = frozenset({"a0sync", "header", "nonce", "ciphertext", "signature"})
BATCH_HEADER_KEYS = frozenset(
    {"v", "type", "device", "batch", "seq", "count", "kid", "epk", "aead", "schemas", "hlc"})
PULL_HEADER_KEYS = frozenset({"v", "type", "device", "batch", "kid", "epk", "aead", "hlc"})
HEADER_KEYS = {"batch": BATCH_HEADER_KEYS, "pull": PULL_HEADER_KEYS}

KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # also a file name on the server: no paths
DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
FORM_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_B64_RE = re.compile(r"^[A-Za-z0-9_-]*$")

HEADER_DEVICE = "X-A0-Device"
HEADER_SIGNATURE = "X-A0-Signature"
HEADER_SERVER_TIME = "X-A0-Server-Time"  # the server's wall clock (ms) on every API answer


# --------------------------------------------------------------------------- JSON


def canonical(value: Any, *, known_plain: bool = False) -> bytes:
    """The one byte form every hash and signature covers (sorted keys, no spaces, UTF-8).

    Raises ``ValueError`` for what JSON cannot carry faithfully (NaN, lone surrogates).
    The bytes are defined by :func:`canonical_json`; for values made only of strings,
    64-bit integers, booleans, null, lists and string-keyed objects, orjson writes the
    very same bytes faster (``tests/test_canonical_fast.py`` checks that they agree).
    """
    if orjson is not None and (known_plain or _plain(value)):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a lone surrogate: let json say what is wrong
            pass
    return canonical_json(value)


def canonical_json(value: Any) -> bytes:
    """The definition of the canonical form, with the standard library's encoder."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)
    return text.encode("utf-8")


_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1  # what orjson writes as integers
_DECODED = 0 if orjson is None else (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS)


def canonical_decoded(value: Any) -> bytes:
    """:func:`canonical` of a value made only of what JSON decoding gives (str, int,
    float, bool, None, lists, str-keyed dicts; no NaN or infinity) — a pull page read
    from the database — without first walking every value (:func:`_plain`, most of
    the time of encoding a page). orjson writes it, refusing subclasses, dates and
    dataclasses; for such a value only a float could come out otherwise than
    :func:`canonical_json` writes it, and a float is found in orjson's output
    (:func:`_holds_float`): then, or if orjson refused, the value takes
    :func:`canonical`'s path. The bytes are always :func:`canonical`'s
    (``tests/test_canonical_fast.py``)."""
    if orjson is not None:
        try:
            data = orjson.dumps(value, option=_DECODED)
        except TypeError:  # a big integer, a lone surrogate, a subclass…
            return canonical(value)
        if not _holds_float(data):
            return data
    return canonical(value)


def _holds_float(data: bytes) -> bool:
    """Does orjson's compact output hold a float? orjson writes every float with a
    ``.`` or an exponent with its sign (``e+`` / ``e-``), and a number token opens the
    text or follows ``:``, ``,`` or ``[`` (then maybe ``-``), which a string's
    characters do not. Read backwards, each pattern starts with a literal (``.``,
    ``-e``, ``+e``), which the regex engine finds fast. A string such as ``"x:1.5"``
    answers yes too, which only costs the slower path."""
    backwards = data[::-1]
    return any(p.search(backwards) is not None for p in _FLOAT_BACKWARDS)


_FLOAT_BACKWARDS = tuple(re.compile(p) for p in (rb"\.[0-9]+-?(?:[:,\[]|\Z)",
                                                 rb"-e[0-9.]+-?(?:[:,\[]|\Z)",
                                                 rb"\+e[0-9.]+-?(?:[:,\[]|\Z)"))


def _plain(value: Any) -> bool:
    """Only types orjson and json write identically (no floats, no subclasses)?"""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key, sub in item.items():
                if type(key) is not str:
                    return False
                sub_kind = type(sub)
                if sub_kind is str or sub is None or sub_kind is bool:
                    continue
                if sub_kind is int:
                    if not _INT_MIN <= sub <= _INT_MAX:
                        return False
                    continue
                push(sub)
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is str or item is None or kind is bool:
            continue
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                return False
        else:
            return False
    return True


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key in JSON object")
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_loads(data: bytes | str) -> Any:
    """Parse JSON refusing what ``json.loads`` lets through: duplicate keys, NaN, bad UTF-8.

    Duplicate keys matter: two readers could otherwise see two different headers.
    Raises ``ValueError`` (or ``RecursionError`` for absurd nesting).
    """
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


# ------------------------------------------------------------------------- base64


def b64e(data: bytes) -> str:
    """RFC 4648 base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Strict inverse of :func:`b64e`: one spelling per byte string, else ``ValueError``.

    ``base64.urlsafe_b64decode`` skips junk and accepts padding; refusing those keeps
    an envelope from having several byte forms with the same meaning.
    """
    if not isinstance(text, str) or not _B64_RE.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    if b64e(raw) != text:  # non-zero trailing bits
        raise ValueError("non-canonical base64url")
    return raw


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- keys

Ed25519Public = Ed25519PublicKey | str | bytes
X25519Public = X25519PublicKey | str | bytes
Ed25519Private = Ed25519PrivateKey | str | bytes
X25519Private = X25519PrivateKey | str | bytes


def _raw(key: str | bytes) -> bytes:
    if isinstance(key, str):
        raw = b64d(key)
    elif isinstance(key, bytes | bytearray):
        raw = bytes(key)
    else:
        raise ValueError("a key is a base64 string or bytes")
    if len(raw) != KEY_BYTES:
        raise ValueError("a key is 32 bytes")
    return raw


def ed25519_public(key: Ed25519Public) -> Ed25519PublicKey:
    """Accept a key object or its base64 / raw bytes (how the database stores it)."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, ServerPublicKey):
        return ed25519_public(key.sign_public_key)
    return Ed25519PublicKey.from_public_bytes(_raw(key))


def x25519_public(key: X25519Public) -> X25519PublicKey:
    if isinstance(key, X25519PublicKey):
        return key
    if isinstance(key, ServerPublicKey):
        return x25519_public(key.box_public_key)
    return X25519PublicKey.from_public_bytes(_raw(key))


def ed25519_private(key: Ed25519Private) -> Ed25519PrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw(key))


def x25519_private(key: X25519Private) -> X25519PrivateKey:
    if isinstance(key, X25519PrivateKey):
        return key
    return X25519PrivateKey.from_private_bytes(_raw(key))


def public_b64(key: Ed25519PublicKey | X25519PublicKey) -> str:
    return b64e(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def private_b64(key: Ed25519PrivateKey | X25519PrivateKey) -> str:
    return b64e(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


@dataclass(frozen=True, eq=False)
class DeviceKeys:
    """A device's two key pairs. Private parts leave only through :meth:`to_dict`,
    for the app's encrypted store; ``repr`` never shows them."""

    sign_private: Ed25519PrivateKey = field(repr=False)
    box_private: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> DeviceKeys:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    def to_dict(self) -> dict[str, str]:
        return {"sign_private_key": private_b64(self.sign_private),
                "box_private_key": private_b64(self.box_private)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceKeys:
        return cls(ed25519_private(data["sign_private_key"]),
                   x25519_private(data["box_private_key"]))

    @property
    def sign_public_key(self) -> str:
        return public_b64(self.sign_private.public_key())

    @property
    def box_public_key(self) -> str:
        return public_b64(self.box_private.public_key())


@dataclass(frozen=True)
class ServerPublicKey:
    """What a device knows of one server key: learnt at enrolment, renewed by pull."""

    kid: str
    box_public_key: str
    sign_public_key: str

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not KID_RE.match(self.kid):
            raise ValueError("bad server key id")
        _raw(self.box_public_key)
        _raw(self.sign_public_key)

    def to_dict(self) -> dict[str, str]:
        return {"kid": self.kid, "box_public_key": self.box_public_key,
                "sign_public_key": self.sign_public_key}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerPublicKey:
        return cls(data["kid"], data["box_public_key"], data["sign_public_key"])


SignKeyring = Ed25519Public | ServerPublicKey | Mapping[str, ServerPublicKey]


def _sign_key_for(keyring: SignKeyring, kid: Any) -> Ed25519PublicKey | None:
    """Pick the server signing key for ``kid``; ``None`` when the keyring lacks it.

    A device may hold several server keys after a rotation: a receipt is signed by
    the key its batch was sealed to, a pull page by the key the device asked for.
    """
    if isinstance(keyring, Mapping):
        found = keyring.get(kid) if isinstance(kid, str) else None
        return ed25519_public(found) if found is not None else None
    if isinstance(keyring, ServerPublicKey):
        return ed25519_public(keyring) if keyring.kid == kid else None
    return ed25519_public(keyring)


# ------------------------------------------------------------------ envelopes


class Codes(NamedTuple):
    """Which refusal each failure gets: batches (server side) or responses (device side)."""

    too_large: str
    malformed: str
    signature: str
    decrypt: str
    body: str
    mismatch: str


BATCH_CODES = Codes("batch_too_large", "batch_malformed", "batch_signature_invalid",
                    "batch_decrypt_failed", "batch_body_malformed", "batch_header_mismatch")
RESPONSE_CODES = Codes("response_malformed", "response_malformed", "response_signature_invalid",
                       "response_decrypt_failed", "response_malformed", "response_malformed")


def human_size(n: int) -> str:
    """A size a commune officer can read in a message (``8 MB``)."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _is_int(value: Any, low: int = 0, high: int = MAX_INT64) -> bool:
    return type(value) is int and low <= value <= high


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _header_problem(header: dict[str, Any], expected_type: str) -> str | None:
    """What is wrong with a decoded header's shape, or ``None``."""
    if header.get("type") != expected_type or expected_type not in HEADER_KEYS:
        return "type"
    if set(header) != HEADER_KEYS[expected_type]:
        return "keys"
    if not isinstance(header["device"], str) or not DEVICE_RE.match(header["device"]):
        return "device"
    if not _is_uuid(header["batch"]):
        return "batch"
    if not isinstance(header["kid"], str) or not KID_RE.match(header["kid"]):
        return "kid"
    if header["aead"] != AEAD:
        return "aead"
    if not _is_int(header["hlc"]):
        return "hlc"
    try:
        if len(b64d(header["epk"])) != KEY_BYTES:
            return "epk"
    except ValueError:
        return "epk"
    if expected_type == "batch":
        seq = header["seq"]
        if not (isinstance(seq, list) and len(seq) == 2 and _is_int(seq[0], 1)
                and _is_int(seq[1], 1) and seq[0] <= seq[1]):
            return "seq"
        if not _is_int(header["count"], 1):
            return "count"
        schemas = header["schemas"]
        if not isinstance(schemas, dict) or not all(
                FORM_RE.match(k) and _is_int(v, 1, 1_000_000) for k, v in schemas.items()):
            return "schemas"
    return None


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet verified envelope: the header may be read, nothing trusted."""

    header: dict[str, Any]
    header_bytes: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    codes: Codes = field(default=BATCH_CODES, repr=False)

    @property
    def signed_bytes(self) -> bytes:
        return self.header_bytes + self.nonce + self.ciphertext

    def verify(self, sign_public: Ed25519Public) -> None:
        """Check the sender's signature over header ‖ nonce ‖ ciphertext."""
        try:
            ed25519_public(sign_public).verify(self.signature, self.signed_bytes)
        except InvalidSignature:
            raise A0Error(self.codes.signature) from None

    def decrypt(self, box_private: X25519Private,
                max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
        """Decrypt and inflate the body; call only after :meth:`verify`."""
        key = _derive_key(x25519_private(box_private), b64d(self.header["epk"]), self.header,
                          self.codes)
        try:
            compressed = AESGCM(key).decrypt(self.nonce, self.ciphertext, self.header_bytes)
        except InvalidTag:
            raise A0Error(self.codes.decrypt) from None
        return inflate(compressed, max_body_bytes, self.codes)


def _hkdf_info(kind: str) -> bytes:
    return f"a0sync/v{PROTOCOL_VERSION}/{kind}".encode("ascii")


def _derive_key(private: X25519PrivateKey, peer_public: bytes, header: Mapping[str, Any],
                codes: Codes) -> bytes:
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:  # a low-order point gives an all-zero secret: refused by the library
        raise A0Error(codes.decrypt) from None
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=uuid.UUID(header["batch"]).bytes,
                info=_hkdf_info(header["type"])).derive(shared)


def inflate(data: bytes, limit: int, codes: Codes = BATCH_CODES) -> bytes:
    """zlib-decompress at most ``limit`` bytes: a tiny body must not expand to gigabytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise A0Error(codes.body) from None
    if len(out) > limit:
        raise A0Error(codes.too_large, limit=human_size(limit))
    if not inflater.eof or inflater.unused_data:
        raise A0Error(codes.body)
    return out


RESPONSE_LEVEL = 2  # a server's page: half of level 6's time, a fifth more bytes


def deflate(data: bytes, level: int = 6) -> bytes:
    return zlib.compress(data, level)


def parse_envelope(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
                   expected_type: str = "batch", codes: Codes = BATCH_CODES) -> Envelope:
    """Read an envelope's structure and clear header; verifies nothing yet.

    The size is checked before any parsing so an oversized upload costs nothing.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise A0Error(codes.malformed)
    if len(data) > max_bytes:
        raise A0Error(codes.too_large, limit=human_size(max_bytes))
    try:
        doc = strict_loads(bytes(data))
    except (ValueError, RecursionError):
        raise A0Error(codes.malformed) from None
    if not isinstance(doc, dict) or type(doc.get("a0sync")) is not int:
        raise A0Error(codes.malformed)
    if doc["a0sync"] != PROTOCOL_VERSION:
        raise A0Error("protocol_version_unknown", version=doc["a0sync"])
    if set(doc) != ENVELOPE_KEYS:
        raise A0Error(codes.malformed)
    try:
        header_bytes = b64d(doc["header"])
        nonce = b64d(doc["nonce"])
        ciphertext = b64d(doc["ciphertext"])
        signature = b64d(doc["signature"])
        header = strict_loads(header_bytes)
        if not isinstance(header, dict) or canonical(header) != header_bytes:
            raise ValueError("header is not a canonical JSON object")
    except (ValueError, RecursionError):
        raise A0Error(codes.malformed) from None
    if len(nonce) != NONCE_BYTES or len(signature) != SIGNATURE_BYTES \
            or len(ciphertext) < TAG_BYTES or type(header.get("v")) is not int:
        raise A0Error(codes.malformed)
    if header["v"] != PROTOCOL_VERSION:
        raise A0Error("protocol_version_unknown", version=header["v"])
    if _header_problem(header, expected_type) is not None:
        raise A0Error(codes.malformed)
    return Envelope(header, header_bytes, nonce, ciphertext, signature, codes)


def seal_raw(header: Mapping[str, Any], plaintext: bytes, *, box_public: X25519Public,
             sign_private: Ed25519Private) -> tuple[bytes, dict[str, Any]]:
    """Seal exact plaintext bytes under a header, checking nothing about either.

    The building block of :func:`seal_batch` and :func:`seal_to_device`; tests and
    tools use it directly to make well-sealed envelopes around bad content. The
    header needs ``type`` and a UUID ``batch``; ``epk`` is filled in here.
    """
    ephemeral = X25519PrivateKey.generate()
    full = {**header, "epk": public_b64(ephemeral.public_key())}
    header_bytes = canonical(full)
    recipient = x25519_public(box_public).public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = _derive_key(ephemeral, recipient, full, BATCH_CODES)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, header_bytes)
    signature = ed25519_private(sign_private).sign(header_bytes + nonce + ciphertext)
    envelope = {"a0sync": PROTOCOL_VERSION, "header": b64e(header_bytes), "nonce": b64e(nonce),
                "ciphertext": b64e(ciphertext), "signature": b64e(signature)}
    return canonical(envelope), full


# ------------------------------------------------------------------- batches


class OpenedBatch(NamedTuple):
    header: dict[str, Any]
    ops: list[dict[str, Any]]
    body_hash: str  # sha256 hex of canonical({"ops": ops}): recognises a re-sealed re-send
    plain: bool = False  # every value is of a type orjson writes canonically (see _plain)


def seal_batch(ops: Sequence[Mapping[str, Any]], *, device_id: str, batch_id: str,
               server_key: ServerPublicKey, device_keys: DeviceKeys, hlc: int,
               schemas: Mapping[str, int]) -> tuple[bytes, dict[str, Any]]:
    """Seal consecutive operations for the server; returns (envelope bytes, header).

    The sequence range and count come from the operations themselves, so a
    correctly used sealer cannot produce a header that disagrees with its body.
    """
    if not ops:
        raise ValueError("a batch holds at least one operation")
    seqs = [op["seq"] for op in ops]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        raise ValueError("a batch holds operations with consecutive sequence numbers")
    header = {"v": PROTOCOL_VERSION, "type": "batch", "device": device_id, "batch": batch_id,
              "seq": [seqs[0], seqs[-1]], "count": len(ops), "kid": server_key.kid,
              "aead": AEAD, "schemas": dict(schemas), "hlc": hlc}
    problem = _header_problem({**header, "epk": b64e(bytes(KEY_BYTES))}, "batch")
    if problem:
        raise ValueError(f"bad batch header field: {problem}")
    plaintext = deflate(canonical({"ops": [dict(op) for op in ops]}))
    return seal_raw(header, plaintext, box_public=server_key.box_public_key,
                    sign_private=device_keys.sign_private)


def _canonical_loads(body: bytes) -> Any:
    """Fast path of :func:`strict_loads` for a body in canonical form, else ``None``.

    A sealer writes the canonical form. If re-encoding what orjson read gives back
    the very same bytes, the body had no duplicate keys, NaN or other oddity (each
    would change the bytes), and ``json`` reads it as the same value.
    """
    found = _canonical_doc(body)
    return None if found is None else found[0]


def _canonical_doc(body: bytes) -> tuple[Any, bool] | None:
    """:func:`_canonical_loads`, and whether every value passed :func:`_plain`."""
    if orjson is None:  # pragma: no cover
        return None
    try:
        doc = orjson.loads(body)
        plain = _plain(doc)
        again = canonical(doc, known_plain=True) if plain else canonical_json(doc)
    except (ValueError, TypeError, RecursionError):
        return None
    return (doc, plain) if again == body else None


def _decoded_canonical_doc(body: bytes) -> Any:
    """:func:`_canonical_loads` checked with :func:`canonical_decoded` (no walk over
    every value first; the same bytes): what a device reads a pull page with."""
    if orjson is None:  # pragma: no cover
        return None
    try:
        doc = orjson.loads(body)
        again = canonical_decoded(doc)
    except (ValueError, TypeError, RecursionError):
        return None
    return doc if again == body else None


def read_batch_body(header: Mapping[str, Any], body: bytes) -> OpenedBatch:
    """Parse a decrypted batch body and hold it against its header."""
    found = _canonical_doc(body)
    plain = False
    if found is not None:  # the body is exactly the canonical form of what it holds
        doc, plain = found
        body_hash = sha256_hex(body)
    else:
        try:
            doc = strict_loads(body)
            body_hash = sha256_hex(canonical(doc))
        except (ValueError, RecursionError):
            raise A0Error("batch_body_malformed") from None
    if not isinstance(doc, dict) or set(doc) != {"ops"} or not isinstance(doc["ops"], list):
        raise A0Error("batch_body_malformed")
    ops = doc["ops"]
    if not all(isinstance(op, dict) and _is_int(op.get("seq"), 1) for op in ops):
        raise A0Error("batch_body_malformed")
    first, last = header["seq"]
    if len(ops) != header["count"] or [op["seq"] for op in ops] != list(range(first, last + 1)):
        raise A0Error("batch_header_mismatch")
    return OpenedBatch(dict(header), ops, body_hash, plain)


def open_batch(data: bytes, *, max_bytes: int,
               device_sign_key_for: Callable[[str], Ed25519Public],
               server_box_private_for: Callable[[str], X25519Private],
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> OpenedBatch:
    """Open a batch envelope, or refuse it whole with one precise code.

    ``device_sign_key_for(device_id)`` runs after the header is parsed and before
    anything is verified: the server finds the device there and may raise
    ``device_unknown`` / ``device_revoked``. ``server_box_private_for(kid)`` runs
    only once the signature holds (so unknown key ids are not revealed to
    strangers) and may raise ``key_unknown``.
    """
    envelope = parse_envelope(data, max_bytes=max_bytes, expected_type="batch")
    envelope.verify(device_sign_key_for(envelope.header["device"]))
    body = envelope.decrypt(server_box_private_for(envelope.header["kid"]), max_body_bytes)
    return read_batch_body(envelope.header, body)


# -------------------------------------------------------------- pull pages


def seal_to_device(body: Mapping[str, Any], device_box_public: X25519Public,
                   server_sign_private: Ed25519Private, kid: str, type: str = "pull", *,
                   device_id: str, hlc: int, message_id: str | None = None,
                   decoded: bool = False) -> bytes:
    """Seal a server response (a pull page) so only that device reads it.

    ``kid`` names the server key that signs: the one the device asked for, which
    it already trusts. ``message_id`` (default: a fresh UUID) salts the key.
    ``decoded``: the body is made only of what JSON decoding gives (a pull page read
    from the database), encoded by :func:`canonical_decoded` — the same bytes, faster.
    """
    header = {"v": PROTOCOL_VERSION, "type": type, "device": device_id,
              "batch": message_id or str(uuid.uuid4()), "kid": kid, "aead": AEAD, "hlc": hlc}
    problem = _header_problem({**header, "epk": b64e(bytes(KEY_BYTES))}, type)
    if problem:
        raise ValueError(f"bad response header field: {problem}")
    plain = canonical_decoded(body) if decoded else canonical(dict(body))
    envelope, _ = seal_raw(header, deflate(plain, RESPONSE_LEVEL), box_public=device_box_public,
                           sign_private=server_sign_private)
    return envelope


def open_from_server(data: bytes, device_keys: DeviceKeys, server_sign_public: SignKeyring, *,
                     device_id: str | None = None, expected_type: str = "pull",
                     max_bytes: int = 4 * DEFAULT_MAX_BYTES,
                     max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """Verify and open a response sealed to this device; returns its body object.

    ``server_sign_public`` is one key, a :class:`ServerPublicKey` (whose kid must be
    the header's) or a mapping kid → :class:`ServerPublicKey` of the keys known.
    """
    envelope = parse_envelope(data, max_bytes=max_bytes, expected_type=expected_type,
                              codes=RESPONSE_CODES)
    if device_id is not None and envelope.header["device"] != device_id:
        raise A0Error("response_malformed")
    key = _sign_key_for(server_sign_public, envelope.header["kid"])
    if key is None:
        raise A0Error("response_signature_invalid")
    envelope.verify(key)
    body = envelope.decrypt(device_keys.box_private, max_body_bytes)
    # the server writes canonical bytes: read them with orjson when they are exactly the
    # canonical form of what they hold (no duplicate key can hide there), else strictly
    found = _decoded_canonical_doc(body)
    try:
        doc = found if found is not None else strict_loads(body)
    except (ValueError, RecursionError):
        raise A0Error("response_malformed") from None
    if not isinstance(doc, dict):
        raise A0Error("response_malformed")
    return doc


# ------------------------------------------------------------------- receipts


def sign_receipt(receipt: Mapping[str, Any], server_sign_private: Ed25519Private,
                 kid: str) -> dict[str, Any]:
    """Sign a receipt with server key ``kid`` (the kid its batch was sealed to)."""
    body = dict(receipt)
    if body.setdefault("kid", kid) != kid:
        raise ValueError("the receipt names another key id than the one signing it")
    signature = ed25519_private(server_sign_private).sign(canonical(body))
    return {"receipt": body, "signature": b64e(signature)}


def verify_receipt(doc: Any, server_sign_public: SignKeyring) -> dict[str, Any]:
    """Check a receipt document; returns the receipt or raises ``receipt_signature_invalid``.

    ``server_sign_public`` is as for :func:`open_from_server`.
    """
    try:
        if not isinstance(doc, dict) or set(doc) != {"receipt", "signature"}:
            raise ValueError("not a receipt document")
        receipt = doc["receipt"]
        if not isinstance(receipt, dict) or receipt.get("type") != "receipt" \
                or not _is_int(receipt.get("v"), PROTOCOL_VERSION, PROTOCOL_VERSION):
            raise ValueError("not a receipt")
        key = _sign_key_for(server_sign_public, receipt.get("kid"))
        signature = b64d(doc["signature"])
        if key is None or len(signature) != SIGNATURE_BYTES:
            raise ValueError("no key or bad signature length")
        key.verify(signature, canonical(receipt))
    except (ValueError, TypeError, RecursionError, InvalidSignature):
        raise A0Error("receipt_signature_invalid") from None
    return receipt


# ------------------------------------------------------------------- requests


def request_target(path: str, query_string: bytes | str = b"") -> str:
    """The ``path_and_query`` a request signature covers, from the server's view.

    ``path`` is relative to where the application is mounted (Flask's
    ``request.path``), ``query_string`` is the raw query (``request.query_string``).
    """
    query = query_string.decode("ascii") if isinstance(query_string, bytes) else query_string
    return f"{path}?{query}" if query else path


def request_message(method: str, path_and_query: str, body: bytes) -> bytes:
    """``METHOD \\n path_and_query \\n sha256_hex(body)``: what a device signs."""
    if not method.isascii() or not method.isalpha() or any(c < " " for c in path_and_query):
        raise ValueError("bad request method or target")
    return f"{method.upper()}\n{path_and_query}\n{sha256_hex(body)}".encode()


def sign_request(method: str, path_and_query: str, body: bytes, device_keys: DeviceKeys, *,
                 device_id: str) -> dict[str, str]:
    """Headers that prove a request comes from the enrolled device."""
    signature = device_keys.sign_private.sign(request_message(method, path_and_query, body))
    return {HEADER_DEVICE: device_id, HEADER_SIGNATURE: b64e(signature)}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def request_device(headers: Mapping[str, str]) -> str:
    """The device a signed request claims to come from (look its key up, then verify)."""
    device = _header(headers, HEADER_DEVICE)
    if not isinstance(device, str) or not DEVICE_RE.match(device):
        raise A0Error("request_signature_invalid")
    return device


def verify_request(method: str, path_and_query: str, body: bytes, headers: Mapping[str, str],
                   sign_public: Ed25519Public) -> str:
    """Check a device's request signature; returns the device id it names.

    The signature carries no time: signed requests must be idempotent reads whose
    answers are sealed to the device, so a replay gains nothing.
    """
    device = request_device(headers)
    try:
        signature = b64d(_header(headers, HEADER_SIGNATURE) or "")
        if len(signature) != SIGNATURE_BYTES:
            raise ValueError("bad signature length")
        ed25519_public(sign_public).verify(signature,
                                           request_message(method, path_and_query, body))
    except (ValueError, InvalidSignature):
        raise A0Error("request_signature_invalid") from None
    return device


# ----------------------------------------------------------------- operations


def op_hash(op: Mapping[str, Any], *, known_plain: bool = False) -> str:
    """sha256 hex of the canonical operation without its ``hash`` key.

    ``known_plain``: the operation comes from a batch whose values were all checked
    by :func:`_plain` already (``OpenedBatch.plain``), so the check is skipped.
    """
    return sha256_hex(canonical({k: v for k, v in op.items() if k != "hash"},
                                known_plain=known_plain))


def finalize_op(op: Mapping[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in op.items() if k != "hash"}, "hash": op_hash(op)}


def op_hash_valid(op: Mapping[str, Any], *, known_plain: bool = False) -> bool:
    """Does the operation carry the hash of its own content? (server: ``op_hash_invalid``)"""
    claimed = op.get("hash")
    if not isinstance(claimed, str):
        return False
    try:
        actual = op_hash(op, known_plain=known_plain)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(claimed.encode("utf-8", "replace"), actual.encode("ascii"))

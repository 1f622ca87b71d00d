"""Opaque, signed page cursors for the district feeds.

The register's change sequence is per province (``ChangeCounter``), so a cursor
over a district, a province or the whole country is a map province → the last
sequence number the client has been given (or that was checked and found
empty). It is bound to one feed and one scope (the actor, its level and code,
and the unit asked for) and signed with a key derived from the server's secret:
a client can keep it and send it back, not edit it, not replay it under
another account or unit, and not use a members cursor for events (the numbers
are shared across tables, so that would silently skip rows).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from a0core.errors import A0Error

VERSION = 1
MAX_CHARS = 8192
MAX_PROVINCES = 256
MAX_SEQ = 2**63 - 1
_MAC_BYTES = 16


def cursor_key(secret: str | bytes) -> bytes:
    """The cursor-signing key: derived, so it signs nothing else the secret signs."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(raw, b"a0sync/district-cursor/v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _binding(feed: str, scope_key: str) -> str:
    return hashlib.sha256(f"{feed}\n{scope_key}".encode()).hexdigest()[:32]


def encode(key: bytes, feed: str, scope_key: str, positions: dict[str, int]) -> str:
    body = json.dumps({"v": VERSION, "b": _binding(feed, scope_key),
                       "p": dict(sorted(positions.items()))},
                      separators=(",", ":"), sort_keys=True).encode()
    payload = _b64(body)
    mac = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{payload}.{_b64(mac)}"


def decode(key: bytes, feed: str, scope_key: str, token: str | None) -> dict[str, int]:
    """The positions in ``token`` (empty for no cursor); ``cursor_invalid`` otherwise."""
    if token is None or token == "":
        return {}
    if len(token) > MAX_CHARS or token.count(".") != 1:
        raise A0Error("cursor_invalid")
    payload, mac_text = token.split(".")
    try:
        expected = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]
        # compare the text, not decoded bytes: base64's spare bits must not make twins
        if not hmac.compare_digest(mac_text.encode("ascii"), _b64(expected).encode("ascii")):
            raise A0Error("cursor_invalid")
        doc = json.loads(_unb64(payload))
    except (ValueError, UnicodeError, binascii.Error):
        raise A0Error("cursor_invalid") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION \
            or doc.get("b") != _binding(feed, scope_key):
        raise A0Error("cursor_invalid")
    positions = doc.get("p")
    if not isinstance(positions, dict) or len(positions) > MAX_PROVINCES:
        raise A0Error("cursor_invalid")
    for province, seq in positions.items():
        if not (isinstance(province, str) and 0 < len(province) <= 8
                and type(seq) is int and 0 <= seq <= MAX_SEQ):
            raise A0Error("cursor_invalid")
    return positions

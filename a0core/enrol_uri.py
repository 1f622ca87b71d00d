"""What an enrolment QR code carries: ``a0sync://enrol?server=URL&code=CODE``. No Flask, no Kivy.

The dashboard builds it (:func:`build_enrol_uri`) and the app parses a scanned one
(:func:`parse_enrol_uri`), both from this one module, so the two cannot drift
apart. The one-time code's alphabet and spelling live here for the same reason:
the server normalises what was typed, the app checks what was scanned.

Parsing is strict because a camera reads any QR code held in front of it: a
poster's link, a payment code, a forged sticker. Anything that is not exactly
our link is refused with a stable code before it reaches the enrol form: the
scheme and action must be ours, ``server`` and ``code`` must each appear once
and nothing else may, the server must be a plain ``http(s)://host[:port][/path]``
address (no user name or password, query or fragment, which a forged code could
use to mislead; whether plain http is allowed at all is the sync client's rule,
applied when the collaborator presses Enrol), and the code must be one the server
could have issued. A refusal changes nothing; a link that is taken only fills
the enrol form, where the collaborator sees the server and code and confirms them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from a0core.errors import A0Error

SCHEME = "a0sync"
ACTION = "enrol"
MAX_URI = 600  # a QR code of the dashboard (version 4-6) holds far less
MAX_SERVER = 400

# No 0/O, 1/I/L: a code read aloud over the phone or copied from paper stays one code.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
GROUPS = (4, 4, 2)  # shown as ABCD-EFGH-JK
_SEPARATORS = re.compile(r"[\s-]+")


def normalise_code(text: Any) -> str | None:
    """The code as stored: upper case, no dashes or spaces; ``None`` if it cannot be one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    code = _SEPARATORS.sub("", text).upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def format_code(code: str) -> str:
    """``ABCDEFGHJK`` → ``ABCD-EFGH-JK`` (how people see and type it)."""
    parts, start = [], 0
    for size in GROUPS:
        parts.append(code[start:start + size])
        start += size
    return "-".join(parts)


@dataclass(frozen=True)
class EnrolUri:
    """A parsed enrolment link: the server's address (no trailing ``/``) and the code."""

    server: str
    code: str  # normalised: ABCDEFGHJK

    @property
    def shown_code(self) -> str:
        return format_code(self.code)


def check_server(text: Any) -> str:
    """``text`` as a server address the app may enrol with, without a trailing ``/``."""
    if not isinstance(text, str) or not text or len(text) > MAX_SERVER \
            or any(c.isspace() or ord(c) < 32 for c in text):
        raise A0Error("enrol_qr_server_invalid")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise A0Error("enrol_qr_server_invalid") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or "@" in parts.netloc or "?" in text or "#" in text:
        raise A0Error("enrol_qr_server_invalid")
    return text.rstrip("/")


def build_enrol_uri(server_url: str, code: str) -> str:
    """The text of the dashboard's QR code (refuses what the app would refuse to read)."""
    server = check_server(server_url)
    normalised = normalise_code(code)
    if normalised is None:
        raise A0Error("enrol_qr_code_invalid")
    return f"{SCHEME}://{ACTION}?server={quote(server, safe=':/')}&code={normalised}"


def parse_enrol_uri(text: Any) -> EnrolUri:
    """The server and code of a scanned enrolment link, or an :class:`A0Error`.

    Codes: ``enrol_qr_not_enrolment`` (not our link at all), ``enrol_qr_server_invalid``,
    ``enrol_qr_code_invalid``.
    """
    if not isinstance(text, str) or len(text) > MAX_URI:
        raise A0Error("enrol_qr_not_enrolment")
    head, sep, query = text.partition("?")
    if head.lower() != f"{SCHEME}://{ACTION}" or not sep:
        raise A0Error("enrol_qr_not_enrolment")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True,
                          encoding="utf-8", errors="strict", max_num_fields=4)
    except ValueError:
        raise A0Error("enrol_qr_not_enrolment") from None
    names = [name for name, _ in pairs]
    if set(names) - {"server", "code"}:
        raise A0Error("enrol_qr_not_enrolment")
    if names.count("server") != 1:
        raise A0Error("enrol_qr_server_invalid")
    if names.count("code") != 1:
        raise A0Error("enrol_qr_code_invalid")
    values = dict(pairs)
    server = check_server(values["server"])
    code = normalise_code(values["code"])
    if code is None:
        raise A0Error("enrol_qr_code_invalid")
    return EnrolUri(server, code)

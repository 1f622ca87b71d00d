"""Optional time-based one-time passwords (RFC 6238) for web users. No Flask.

A user turns TOTP on by scanning a QR code of a fresh secret with an
authenticator app and typing one code back (:func:`confirm_enrolment`), so a
secret that never reached a phone can never lock its owner out. Codes are
accepted one 30-second step either side (clocks of phones drift), and a code
that has logged in once is refused for the rest of its window: the caller keeps
the last accepted step (``login_attempt.totp_step``). Secrets are stored sealed
(:func:`box_for`), never in clear in the database.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from typing import Any

import pyotp
import segno

from server.security.at_rest import SecretBox

ISSUER = "a0sync"
VALID_WINDOW = 1  # steps either side of now
_DIGITS = re.compile(r"^[0-9]{6}$")


def box_for(config: Mapping[str, Any]) -> SecretBox:
    """What seals users' TOTP secrets: the key the configuration loaded
    (``A0SYNC_TOTP_KEY``, or the instance folder's ``totp_key``)."""
    return SecretBox(config["A0SYNC_TOTP_KEY"])


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_code(text: str) -> segno.QRCode:
    """The QR code the dashboard shows for ``text`` (error correction M: a smudged
    screen or a cheap camera still reads it)."""
    return segno.make(text, error="m")


def qr_svg(text: str) -> str:
    """An inline SVG QR code (no external service, a few kilobytes)."""
    out = io.BytesIO()
    qr_code(text).save(out, kind="svg", scale=4, xmldecl=False,
                                     svgns=True, nl=False, title="QR")
    return out.getvalue().decode("utf-8")


def matching_step(secret: str, code: object, now: dt.datetime) -> int | None:
    """The time step that ``code`` belongs to (within the window), or ``None``."""
    if not isinstance(code, str):
        return None
    code = code.replace(" ", "").strip()
    if not _DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def confirm_enrolment(secret: str, code: object, now: dt.datetime) -> bool:
    return matching_step(secret, code, now) is not None

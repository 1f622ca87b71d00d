"""Reading the enrolment QR code from a camera frame. No Kivy.

A frame is raw 8-bit pixels and a size, as a Kivy texture gives them
(``texture.pixels``: RGBA) or grey. The decoder is zbar, through
pyzbar (a ctypes wrapper, no compiled part of its own): on a desktop over Debian's
``libzbar0``, on Android over python-for-android's ``libiconv``/``libzbar``/``pyzbar``
recipes (buildozer.spec). zbar finds a QR code at any rotation and binarises
locally, so a tilted, dim or low-contrast screen still reads.

Which way up a camera texture's rows come depends on the platform's camera
provider (on Android the picture comes turned and mirrored, kivy-garden's
zbarcam found), and not every zbar build reads a mirrored QR code (Debian's does).
So a frame can be read with its rows in reverse order (``flip``): the scan
screen flips every other frame, and a code held in view is read either way
within two frames, at no extra cost per frame.

What reaches zbar is one grey plane: the green channel of an RGBA frame
(closest to luminance, and a slice rather than arithmetic per pixel, which
matters in pure Python on a cheap phone), sub-sampled so that the long side is
at most :data:`MAX_SIDE` pixels — a QR code that fills the viewfinder keeps more
than enough pixels per module, and zbar's time grows with the area. A frame
where nothing is found is tried again averaged down (:func:`half_plane`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import ModuleType

from a0core.enrol_uri import EnrolUri, parse_enrol_uri
from a0core.errors import A0Error

RGBA = "rgba"
# the scan screen decodes one frame this often, not every frame (ui/scan.py)
SCAN_INTERVAL_S = 0.3
GREY = "grey"
_BYTES_PER_PIXEL = {RGBA: 4, GREY: 1}
MAX_SIDE = 800
MIN_SIDE = 120  # below this, halving leaves too few pixels per QR module


@dataclass(frozen=True)
class Frame:
    """One picture from a camera (or a test): ``width × height`` pixels of ``fmt``."""

    pixels: bytes
    width: int
    height: int
    fmt: str = RGBA
    flip: bool = False  # read the rows bottom first: the frame's mirror image

    def __post_init__(self) -> None:
        size = _BYTES_PER_PIXEL.get(self.fmt)
        if size is None:
            raise ValueError(f"unknown pixel format {self.fmt!r}")
        if min(self.width, self.height) <= 0 \
                or len(self.pixels) != self.width * self.height * size:
            raise ValueError(f"{len(self.pixels)} bytes are not a {self.width}x{self.height} "
                             f"{self.fmt} frame")


@cache
def _zbar() -> ModuleType:
    try:
        from pyzbar import pyzbar
    except (ImportError, OSError):  # pyzbar missing, or libzbar not on the system
        raise A0Error("app_qr_decoder_missing") from None
    return pyzbar


def decoder_available() -> bool:
    try:
        _zbar()
    except A0Error:
        return False
    return True


def grey_plane(frame: Frame, max_side: int = MAX_SIDE) -> tuple[bytes, int, int]:
    """One byte per pixel: every ``step``-th pixel of every ``step``-th row."""
    step = max(1, -(-max(frame.width, frame.height) // max_side))
    size = _BYTES_PER_PIXEL[frame.fmt]
    if step == 1 and size == 1 and not frame.flip:
        return frame.pixels, frame.width, frame.height
    offset = 1 if frame.fmt == RGBA else 0  # green
    row = frame.width * size
    starts = range(0, row * frame.height, row * step)
    data = frame.pixels
    plane = b"".join(data[start + offset:start + row:size * step]
                     for start in (reversed(starts) if frame.flip else starts))
    return plane, -(-frame.width // step), -(-frame.height // step)


def half_plane(plane: bytes, width: int, height: int) -> tuple[bytes, int, int]:
    """The 2×2 mean of a grey plane: sensor noise averages out, the area quarters.

    Pure Python without numpy (which a phone would have to carry just for this):
    the four pixels of each square are added as 16-bit lanes of one big integer
    (at most 4 × 255, so no lane carries into the next), divided by four with one
    shift, and the low byte of each lane is the mean. About 3 ms for 640×480.
    """
    w2, h2 = width // 2, height // 2
    count = w2 * h2
    total = 0
    for first_row in (0, 1):
        rows = b"".join(plane[r * width:r * width + 2 * w2]
                        for r in range(first_row, 2 * h2, 2))
        for first_column in (0, 1):
            lanes = bytearray(2 * count)
            lanes[0::2] = rows[first_column::2]
            total += int.from_bytes(lanes, "little")
    return (total >> 2).to_bytes(2 * count, "little")[0::2], w2, h2


def decode_qr(frame: Frame) -> list[str]:
    """The text of every QR code zbar finds in the frame (none: an empty list).

    A frame where zbar sees nothing is tried once more at half size, averaged: a
    dim, grainy picture that defeats zbar's binariser often reads then, and the
    second pass costs a quarter of the first.
    """
    zbar = _zbar()
    qr_only = [zbar.ZBarSymbol.QRCODE]
    plane, width, height = grey_plane(frame)
    found = zbar.decode((plane, width, height), symbols=qr_only)
    if not found and min(width, height) >= 2 * MIN_SIDE:
        found = zbar.decode(half_plane(plane, width, height), symbols=qr_only)
    return [symbol.data.decode("utf-8", errors="replace") for symbol in found]


def read_enrolment(frame: Frame) -> EnrolUri | None:
    """The enrolment link in the frame; ``None`` if no QR code is seen.

    A QR code that is not a valid enrolment link raises the parser's refusal
    (``enrol_qr_*``), so the screen can say why it was not taken.
    """
    refusal: A0Error | None = None
    for text in decode_qr(frame):
        try:
            return parse_enrol_uri(text)
        except A0Error as error:
            refusal = refusal or error
    if refusal is not None:
        raise refusal
    return None

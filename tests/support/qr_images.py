"""Camera-like pictures of the dashboard's real QR codes, for the scanning tests.

The QR code is the server's own (:func:`server.security.totp.qr_code`, the one the
enrolment page draws as SVG), rasterised by segno, then put in a 640×480 "photo"
the way a phone held in front of a screen sees it: smaller or larger, tilted,
dim and low in contrast, with sensor noise and a little blur. Seeded, so a
failure repeats.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageFilter, ImageOps

from clients.kivy_app.core.qrscan import GREY, RGBA, Frame
from server.security.totp import qr_code

FRAME = (640, 480)


def qr_image(text: str, scale: int = 4) -> Image.Image:
    """The dashboard's QR code for ``text`` as a grey image (4 modules of quiet zone)."""
    out = io.BytesIO()
    qr_code(text).save(out, kind="png", scale=scale, border=4)
    out.seek(0)
    return Image.open(out).convert("L")


def photo(qr: Image.Image, *, size: tuple[int, int] = FRAME, zoom: float = 1.0,
          angle: float = 0.0, dark: int = 0, light: int = 255, noise: int = 0,
          blur: float = 0.0, seed: int = 1) -> Image.Image:
    """``qr`` in a frame of ``size``: zoomed, turned by ``angle`` degrees, its black and
    white mapped to ``dark``/``light``, plus uniform noise of ±``noise`` and a blur."""
    if zoom != 1.0:
        qr = qr.resize((round(qr.width * zoom), round(qr.height * zoom)), Image.BILINEAR)
    if angle:
        qr = qr.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=255)
    frame = Image.new("L", size, 255)
    frame.paste(qr, ((size[0] - qr.width) // 2, (size[1] - qr.height) // 2))
    frame = frame.point(lambda v: dark + (light - dark) * v // 255)
    if blur:
        frame = frame.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rnd = random.Random(seed)
        grain = Image.frombytes("L", size, rnd.randbytes(size[0] * size[1]))
        grain = grain.point(lambda v: 128 + (v - 128) * noise // 128)
        frame = ImageChops.add(frame, grain, offset=-128)
    return frame


def texture_frame(image: Image.Image, flip: bool = False) -> Frame:
    """``image`` as a Kivy texture of it gives it (RGBA, top row first: the UI test
    checks that), or its mirror image as Kivy's Android camera may give it."""
    rgba = image.convert("RGBA")
    if flip:
        rgba = ImageOps.flip(rgba)
    return Frame(rgba.tobytes(), rgba.width, rgba.height, RGBA)


def grey_frame(image: Image.Image) -> Frame:
    grey = image.convert("L")
    return Frame(grey.tobytes(), grey.width, grey.height, GREY)

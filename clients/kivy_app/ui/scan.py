"""The scan screen's moving parts: where frames come from, and the periodic decoder.

A frame source has a preview ``widget`` whose texture holds the current picture,
``start``/``stop``, and ``frame()``. :class:`CameraFrames` is Kivy's Camera; a test
gives real pictures through the same interface (:class:`TextureFrames` is what
both share: reading the texture back as the core's :class:`Frame`), so the scan
screen runs the same code whichever it is handed.

:class:`Scanner` decodes one frame every :data:`SCAN_INTERVAL_S` seconds, in a
worker thread and never two at once, rather than every camera frame: zbar on a
cheap phone's 640×480 picture takes tens of milliseconds, and a QR code held in
front of the camera stays there far longer than a third of a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from kivy.clock import Clock
from kivy.utils import platform

from a0core.enrol_uri import EnrolUri
from a0core.errors import A0Error
from clients.kivy_app.core.qrscan import (
    RGBA,
    SCAN_INTERVAL_S,
    Frame,
    decoder_available,
    read_enrolment,
)

CAMERA_RESOLUTION = (640, 480)


class FrameSource(Protocol):
    widget: Any

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def frame(self) -> Frame | None: ...


class TextureFrames:
    """Frames read back from ``widget.texture`` (RGBA)."""

    widget: Any

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def frame(self) -> Frame | None:
        texture = getattr(self.widget, "texture", None)
        if texture is None:
            return None
        width, height = texture.size
        return Frame(bytes(texture.pixels), width, height, RGBA)


class CameraFrames(TextureFrames):
    """The device's camera (Kivy's Camera widget, which is also the preview)."""

    def __init__(self) -> None:
        from kivy.uix.camera import Camera  # opens the camera: only when scanning

        self.widget = Camera(play=False, resolution=CAMERA_RESOLUTION, fit_mode="contain")

    def start(self) -> None:
        self.widget.play = True

    def stop(self) -> None:
        self.widget.play = False


def camera_available() -> bool:
    """A camera Kivy can open and a QR decoder: only then is scanning offered."""
    if not decoder_available():
        return False
    if platform == "android":
        return True
    if not any(Path(f"/dev/video{i}").exists() for i in range(4)):
        return False
    from kivy.core.camera import Camera as CoreCamera  # None without a camera provider

    return CoreCamera is not None


def with_camera_permission(then: Callable[[bool], None]) -> None:
    """Android asks the collaborator once; elsewhere the camera is just there."""
    if platform != "android":
        then(True)
        return
    from android.permissions import Permission, check_permission, request_permissions

    if check_permission(Permission.CAMERA):
        then(True)
        return
    request_permissions([Permission.CAMERA], lambda _perms, grants: Clock.schedule_once(
        lambda *_: then(bool(grants) and all(grants))))


class Scanner:
    """Decode a frame now and then until an enrolment link is found.

    ``on_found(link)`` is called once, after the scanner stopped; ``on_refused(error)``
    for each QR code that was seen but is not a valid enrolment link.
    """

    def __init__(self, source: FrameSource, on_found: Callable[[EnrolUri], None],
                 on_refused: Callable[[A0Error], None],
                 interval: float = SCAN_INTERVAL_S) -> None:
        self.source = source
        self.on_found = on_found
        self.on_refused = on_refused
        self.interval = interval
        self.decoded = 0
        self._busy = False
        self._event: Any = None

    @property
    def running(self) -> bool:
        return self._event is not None

    def start(self) -> None:
        self.source.start()
        self._event = Clock.schedule_interval(self._tick, self.interval)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.source.stop()

    def _tick(self, _dt: float) -> None:
        if self._busy:
            return
        frame = self.source.frame()  # GL read-back: on the UI thread
        if frame is None:
            return
        self._busy = True
        frame = replace(frame, flip=self.decoded % 2 == 1)  # either way up: see core.qrscan
        threading.Thread(target=self._decode, args=(frame,), daemon=True).start()

    def _decode(self, frame: Frame) -> None:
        found: EnrolUri | None = None
        refusal: A0Error | None = None
        try:
            found = read_enrolment(frame)
        except A0Error as error:
            refusal = error
        finally:  # even after a bug, the next tick may try again
            Clock.schedule_once(lambda *_: self._done(found, refusal))

    def _done(self, found: EnrolUri | None, refusal: A0Error | None) -> None:
        self._busy = False
        self.decoded += 1
        if not self.running:
            return
        if found is not None:
            self.stop()
            self.on_found(found)
        elif refusal is not None:
            self.on_refused(refusal)

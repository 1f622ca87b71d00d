"""The viewfinder: a valid enrolment QR code fills the enrol form, which the
collaborator still confirms; anything else says why it was not taken."""

from __future__ import annotations

from typing import Any

from kivymd.uix.boxlayout import MDBoxLayout

from a0core.enrol_uri import EnrolUri
from a0core.errors import A0Error
from clients.kivy_app.ui.scan import CameraFrames, Scanner
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import button, text


class ScanScreen(Screen):
    back = "enrol"
    shows_state = False

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="scan", **kw)
        self.source: Any = None

    def heading(self) -> str:
        return self.t("scan_title")

    def body(self) -> Any:
        box = MDBoxLayout(orientation="vertical", padding=8, spacing=8)
        if self.source is not None:
            widget = self.source.widget
            if widget.parent is not None:  # the same source shown again (language)
                widget.parent.remove_widget(widget)
            self.app.w["scan.preview"] = widget
            box.add_widget(widget)
        box.add_widget(text(self.t("scan_hint")))
        self.app.w["scan.message"] = self.message
        return box

    def foot(self) -> list[Any]:
        self.app.w["scan.cancel"] = button(self.t("type_instead"), self.go_back, primary=False)
        return [self.app.w["scan.cancel"]]

    def refresh(self) -> None:
        self.stop()
        try:
            self.source = (self.app.frame_source or CameraFrames)()
        except Exception:  # a camera that will not open: typing the code still works
            self.source = None
        super().refresh()
        if self.source is None:
            self.say(self.t("camera_failed"), error=True)
            return
        self.app.scanner = Scanner(self.source, self.scanned, self.refused)
        self.app.scanner.start()

    def scanned(self, link: EnrolUri) -> None:
        self.app.scanner = None
        self.app.screen("enrol").scanned(link.server, link.shown_code)

    def refused(self, error: A0Error) -> None:
        self.say(error.vi if self.app.lang == "vi" else error.en, error=True)

    def stop(self) -> None:
        self.app.stop_scanning()

    def go_back(self) -> None:
        self.stop()
        super().go_back()

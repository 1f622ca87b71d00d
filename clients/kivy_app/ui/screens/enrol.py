"""Enrol this phone: server address, the one-time code (typed, or scanned from the
commune's QR code), and a PIN chosen twice."""

from __future__ import annotations

from typing import Any

from kivymd.uix.textfield import MDTextField

from a0core.errors import A0Error
from clients.kivy_app.core.qrscan import decoder_available
from clients.kivy_app.ui import theme
from clients.kivy_app.ui.scan import camera_available, with_camera_permission
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.widgets import button, column, privacy, scroller, text

FIELDS = ("server", "code", "pin", "pin_again")


def field(app: Any, secret: bool = False, **kw: Any) -> MDTextField:
    widget = MDTextField(mode="rectangle", multiline=False, write_tab=False,
                         font_size=theme.text_size("H6", app.scale), password=secret,
                         input_filter="int" if secret else None,
                         input_type="number" if secret else "text", **kw)
    return widget


class EnrolScreen(Screen):
    shows_state = False

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="enrol", **kw)
        self.kept: dict[str, str] = {}  # what was typed or scanned survives a redraw

    def heading(self) -> str:
        return self.t("enrol_title")

    def actions(self) -> list[tuple[str, str, Any]]:
        return [("settings", "cog", lambda: self.app.go("settings", back="enrol"))]

    def body(self) -> Any:
        app = self.app
        body = column()
        self.inputs = {}
        for key in FIELDS:
            body.add_widget(text(self.t(key), "Subtitle1", bold=True))
            widget = field(app, secret=key.startswith("pin"),
                           hint_text="ABCD-EFGH-JK" if key == "code" else "")
            widget.text = self.kept.get(key, app.server if key == "server" else "")
            self.inputs[key] = widget
            app.w[f"enrol.{key}"] = widget
            body.add_widget(widget)
            if key == "code" and self.scan_offered():
                app.w["enrol.scan"] = button(self.t("scan"), self.scan, primary=False)
                body.add_widget(app.w["enrol.scan"])
        app.w["enrol.message"] = self.message
        privacy(body, "enrol.privacy")
        return scroller(body)

    def foot(self) -> list[Any]:
        self.app.w["enrol.submit"] = button(self.t("enrol"), self.enrol)
        return [self.app.w["enrol.submit"]]

    def refresh(self) -> None:
        if getattr(self, "inputs", None):
            self.kept = {k: w.text for k, w in self.inputs.items() if not k.startswith("pin")}
        super().refresh()

    def scan_offered(self) -> bool:
        """Scanning needs a QR decoder and a camera (or a test's frames); typing always works."""
        if self.app.frame_source is not None:
            return decoder_available()
        return camera_available()

    def scan(self) -> None:
        with_camera_permission(lambda granted: self.app.go("scan") if granted else
                               self.say(self.t("camera_denied"), error=True))

    def scanned(self, server: str, code: str) -> None:
        """Back from the scan screen with what the QR code holds."""
        self.app.go("enrol")
        self.inputs["server"].text, self.inputs["code"].text = server, code
        self.say(self.t("scanned"))

    def enrol(self) -> None:
        server, code, pin, pin2 = (self.inputs[k].text for k in FIELDS)
        core = self.app.core

        def work() -> A0Error | None:
            try:
                core.enrol(server.strip(), code, pin, pin2)
            except A0Error as error:
                return error
            core.sync()  # the first download: the area's register
            return None

        if self.app.in_background(work, self.enrolled):
            self.say(self.t("enrolling"))

    def enrolled(self, error: A0Error | None) -> None:
        if error is not None:
            if self.app.sm.current == "enrol":
                self.say(error.vi if self.app.lang == "vi" else error.en, error=True)
            return
        self.kept = {}
        self.app.go("households")
        self.app.snack(self.t("enrolled", area=self.app.core.area.get("name", "")))

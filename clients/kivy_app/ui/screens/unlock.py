"""Open the phone's encrypted register with the PIN."""

from __future__ import annotations

from typing import Any

from a0core.errors import A0Error
from clients.kivy_app.ui.screens.base import Screen
from clients.kivy_app.ui.screens.enrol import field
from clients.kivy_app.ui.widgets import button, column, scroller, text


class UnlockScreen(Screen):
    shows_state = False

    def __init__(self, **kw: Any) -> None:
        super().__init__(name="unlock", **kw)

    def heading(self) -> str:
        return self.t("unlock_title")

    def actions(self) -> list[tuple[str, str, Any]]:
        return [("settings", "cog", lambda: self.app.go("settings", back="unlock"))]

    def body(self) -> Any:
        body = column()
        body.add_widget(text(self.t("pin"), "Subtitle1", bold=True))
        self.pin = field(self.app, secret=True)
        self.pin.bind(on_text_validate=lambda *_: self.unlock(self.pin.text))
        self.app.w["unlock.pin"] = self.pin
        body.add_widget(self.pin)
        return scroller(body)

    def foot(self) -> list[Any]:
        self.app.w["unlock.submit"] = button(self.t("unlock"), lambda: self.unlock(self.pin.text))
        return [self.app.w["unlock.submit"]]

    def refresh(self) -> None:
        super().refresh()
        self.pin.focus = True

    def unlock(self, pin: str) -> None:
        try:
            self.app.core.unlock(pin)
        except A0Error as error:
            if self.app.sm.current != "unlock":
                self.app.go("unlock")
            words = error.vi if self.app.lang == "vi" else error.en
            if error.code == "app_pin_wrong":  # and what to do if it is forgotten
                words = f"{words}.\n{self.t('pin_forgotten')}"
            self.say(words, error=True)
            return
        self.app.go("households")
